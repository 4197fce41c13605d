// Helpers that fail for good (the kubelet rejected them: a node out of pods or memory; or their
// container exited and the pod finished) are retried per PortForward with growing delays, not
// recreated at once in a loop: each retry costs the node a pod start and the namespace an Event.
import type { V1Pod } from '@kubernetes/client-node';
import { backoffDelay, type BackoffPolicy } from '../util/backoff.js';
import type { Readiness } from './reasons.js';

/** 2 s doubling up to 5 minutes. */
export const HELPER_FAILURE_BACKOFF: BackoffPolicy = { initialMs: 2000, maxMs: 300_000, jitter: 0.1 };

interface Failures {
  count: number;
  retryAtMs: number;
  readiness: Readiness;
  /** Failed pods already counted: a pass can see one again while its deletion is in flight. */
  counted: string[];
}

export class HelperFailures {
  private readonly byOwner = new Map<string, Failures>();

  constructor(
    private readonly now: () => number,
    private readonly policy: BackoffPolicy = HELPER_FAILURE_BACKOFF,
  ) {}

  /** Counts the failed helpers a pass found (each pod once). */
  note(ownerUid: string, failed: readonly V1Pod[]): void {
    for (const pod of failed) {
      const uid = pod.metadata?.uid ?? pod.metadata?.name ?? '';
      const previous = this.byOwner.get(ownerUid);
      if (previous?.counted.includes(uid)) continue;
      const count = (previous?.count ?? 0) + 1;
      const delayMs = backoffDelay(this.policy, count);
      const why = [pod.status?.reason, pod.status?.message ?? terminationMessage(pod)].filter(Boolean).join(': ') || 'it finished';
      this.byOwner.set(ownerUid, {
        count,
        retryAtMs: this.now() + delayMs,
        counted: [...(previous?.counted ?? []), uid].slice(-8),
        readiness: {
          reason: 'HelperBackoff',
          message:
            `Helper pod ${pod.metadata?.name} failed (${count} in a row), last: ${why}. ` +
            `The operator starts a new one in ${Math.round(delayMs / 1000)} s, waiting longer after each failure (up to ${this.policy.maxMs / 60_000} min).`,
        },
      });
    }
  }

  /** Why a new helper must wait, and for how long; undefined when it may start now. */
  waiting(ownerUid: string): { readiness: Readiness; retryInMs: number } | undefined {
    const f = this.byOwner.get(ownerUid);
    if (!f) return undefined;
    const retryInMs = f.retryAtMs - this.now();
    return retryInMs > 0 ? { readiness: f.readiness, retryInMs } : undefined;
  }

  /** A helper served: the next failure starts the delays from the beginning. */
  forget(ownerUid: string): void {
    this.byOwner.delete(ownerUid);
  }
}

function terminationMessage(pod: V1Pod): string | undefined {
  const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
  if (!terminated) return undefined;
  return `exited with code ${terminated.exitCode}${terminated.message ? ` (${terminated.message.trim()})` : ''}`;
}
