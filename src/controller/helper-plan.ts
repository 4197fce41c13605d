// The helper pod of a PortForward: which existing helpers go, whether to create one, and what
// the helper's state means for the person waiting on the tunnel.
import type { V1Pod } from '@kubernetes/client-node';
import { isPodFinished as isFinished, isPodReady } from '../kube/pods.js';
import { timeMs } from '../kube/time.js';
import { ANNOTATIONS } from '../resources/names.js';
import type { Readiness } from './reasons.js';

export interface HelperPlan {
  /** Helpers to delete now: wrong name (old target), or finished. */
  remove: V1Pod[];
  /**
   * The helper with the desired name but an older template (an edited spec, an operator upgrade).
   * It still serves, so it is replaced only when its node has a start slot free: an upgrade then
   * replaces helpers a few at a time per node, not all at once.
   */
  outdated: V1Pod | undefined;
  /** The helper to keep, when the desired one already runs. */
  current: V1Pod | undefined;
  /** Create the desired helper now (its name is free). */
  create: boolean;
}


/**
 * Decides from the existing helpers (those carrying the owner's uid label) and the desired one.
 * There is never more than one live helper with the desired name: a stale one is deleted first
 * and its replacement created on a later pass, once the name is free.
 */
export function planHelper(existing: readonly V1Pod[], desired: V1Pod | undefined): HelperPlan {
  const desiredName = desired?.metadata?.name;
  const desiredHash = desired?.metadata?.annotations?.[ANNOTATIONS.specHash];
  const remove: V1Pod[] = [];
  let current: V1Pod | undefined;
  let outdated: V1Pod | undefined;
  for (const pod of existing) {
    if (pod.metadata?.deletionTimestamp) continue; // already going
    const named = desiredName !== undefined && pod.metadata?.name === desiredName && !isFinished(pod);
    if (named && pod.metadata?.annotations?.[ANNOTATIONS.specHash] === desiredHash) current = pod;
    else if (named) outdated = pod;
    else remove.push(pod);
  }
  const nameTaken = existing.some((p) => p.metadata?.name === desiredName);
  return { remove, outdated, current, create: desired !== undefined && !nameTaken };
}


/** Waiting reasons that are just a container on its way up. */
const STARTING = new Set(['ContainerCreating', 'PodInitializing']);

/** A helper that just started gets this long to pass its readiness probe before it counts as stuck. */
export const HELPER_STARTUP_GRACE_MS = 15_000;

/** What keeps the helper from serving, in words a person can act on; undefined once it is ready. */
export function helperNotReady(
  pod: V1Pod | undefined,
  helperName: string,
  helperNamespace: string,
  node: string,
  nowMs: number,
): Readiness | undefined {
  if (!pod) {
    return {
      reason: 'HelperStarting',
      message: `Starting helper pod ${helperNamespace}/${helperName} on node ${node}.`,
    };
  }
  if (isPodReady(pod)) return undefined;
  const container = pod.status?.containerStatuses?.[0];
  const waiting = container?.state?.waiting;
  const terminated = container?.state?.terminated ?? container?.lastState?.terminated;
  const inspect = `See: kubectl -n ${helperNamespace} describe pod ${helperName}; kubectl -n ${helperNamespace} logs ${helperName}`;
  if (waiting?.reason && !STARTING.has(waiting.reason)) {
    const last = terminated?.message ? ` Last exit: ${terminated.message.trim()}` : '';
    return {
      reason: 'HelperNotReady',
      message: `Helper pod ${helperName} is waiting: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}.${last} ${inspect}`,
    };
  }
  const startedAt = timeMs(container?.state?.running?.startedAt);
  if (!container?.state?.running || (startedAt !== undefined && nowMs - startedAt < HELPER_STARTUP_GRACE_MS)) {
    return {
      reason: 'HelperStarting',
      message: `Helper pod ${helperName} is starting on node ${node} (${pod.status?.phase ?? 'Pending'}).`,
    };
  }
  return {
    reason: 'HelperNotReady',
    message: `Helper pod ${helperName} runs but is not ready: it has not yet entered the target's network namespace and opened its ports. ${inspect}`,
  };
}

/** How long a starting (or terminating) helper holds a start slot at most. */
export const START_SLOT_HOLD_MS = 60_000;

/**
 * Whether a helper holds a start slot: on its way up (created, not Ready, not finished), or on its
 * way out (being deleted, so being replaced), and only for START_SLOT_HOLD_MS, so that helpers
 * that never turn Ready cannot keep a node's starts blocked.
 */
function holdsStartSlot(pod: V1Pod, nowMs: number): boolean {
  const deleting = timeMs(pod.metadata?.deletionTimestamp);
  if (deleting !== undefined) return nowMs - deleting < START_SLOT_HOLD_MS;
  if (isFinished(pod) || isPodReady(pod)) return false;
  const created = timeMs(pod.metadata?.creationTimestamp);
  return created === undefined || nowMs - created < START_SLOT_HOLD_MS;
}

/**
 * Helpers on `node` that hold a start slot. A node asked to start hundreds of containers at once
 * stalls (container creation outlasts the kubelet's runtime timeout, is cancelled and retried);
 * starting a few at a time is faster overall.
 */
export function startingHelpersOn(helpers: readonly V1Pod[], node: string, nowMs: number): V1Pod[] {
  return helpers.filter((p) => p.spec?.nodeName === node && holdsStartSlot(p, nowMs));
}

/** The namespace of the PortForward a helper serves. */
export function ownerNamespaceOf(helper: V1Pod): string {
  return (helper.metadata?.annotations?.[ANNOTATIONS.owner] ?? '').split('/')[0]!;
}

/**
 * The status of a PortForward whose helper waits for a start slot on its node. It names no live
 * count, so that passes while it waits find the status unchanged and write nothing.
 */
export function queuedReadiness(node: string, ceiling: number): Readiness {
  return {
    reason: 'HelperQueued',
    message:
      `Waiting to start the helper pod: node ${node} already has as many helpers starting as it takes at once. ` +
      `The operator learns that number from how fast helpers start there (at most ${ceiling}, HELPER_MAX_STARTING_PER_NODE).`,
  };
}
