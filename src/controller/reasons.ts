// Every reason the Ready condition can carry, with the phase it means and the type of the Event
// that announces it. One table: a new reason cannot forget either, and `kubectl get pf` (PHASE),
// the condition and `kubectl describe pf` (Events) always agree.
import type { Phase } from '../api/index.js';

export type EventType = 'Normal' | 'Warning';

export const REASONS = {
  Ready: { phase: 'Ready', event: 'Normal' },
  // waiting for something that should come
  TargetNotFound: { phase: 'Pending', event: 'Normal' },
  TargetNotRunning: { phase: 'Pending', event: 'Normal' },
  NoMatchingPod: { phase: 'Pending', event: 'Normal' },
  HelperQueued: { phase: 'Pending', event: 'Normal' },
  HelperStarting: { phase: 'Pending', event: 'Normal' },
  WaitingForService: { phase: 'Pending', event: 'Normal' },
  // waiting, but a person may have to look
  HelperNotReady: { phase: 'Pending', event: 'Warning' },
  HelperCreateFailed: { phase: 'Pending', event: 'Warning' },
  HelperBackoff: { phase: 'Pending', event: 'Warning' },
  NamespaceLimitReached: { phase: 'Pending', event: 'Warning' },
  TargetPortClosed: { phase: 'Pending', event: 'Warning' },
  TunnelCheckFailed: { phase: 'Pending', event: 'Warning' },
  TargetPortNotFound: { phase: 'Pending', event: 'Warning' },
  // needs a change from a person
  InvalidSpec: { phase: 'Failed', event: 'Warning' },
  CrossNamespaceNotAllowed: { phase: 'Failed', event: 'Warning' },
  ClientsNotAllowed: { phase: 'Failed', event: 'Warning' },
  TargetUsesHostNetwork: { phase: 'Failed', event: 'Warning' },
  TargetHasNoSelector: { phase: 'Failed', event: 'Warning' },
  ServiceNameConflict: { phase: 'Failed', event: 'Warning' },
  Expired: { phase: 'Expired', event: 'Normal' },
} as const satisfies Record<string, { phase: Phase; event: EventType }>;

export type Reason = keyof typeof REASONS;

/** What a pass decided about the Ready condition: a reason from the table, and words a person can act on. */
export interface Readiness {
  reason: Reason;
  message: string;
}

export const phaseOf = (reason: Reason): Phase => REASONS[reason].phase;
export const eventTypeOf = (reason: Reason): EventType => REASONS[reason].event;
export const isReady = (r: Readiness): boolean => r.reason === 'Ready';
