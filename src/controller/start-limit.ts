// How many helpers may be starting at once on each node, learned from how fast helpers start
// there. A node asked to start hundreds of containers at once stalls (creation outlasts the
// kubelet's runtime timeout, is cancelled and retried), while a fixed small limit leaves a fast
// node idle. So the limit moves like TCP's congestion window: one more after each helper that
// started quickly, half after one that started slowly or failed to start, between a floor and
// the configured ceiling. The slots of a node are shared fairly between the namespaces that want
// them: while others wait, no namespace holds more than its share.
import type { V1Pod } from '@kubernetes/client-node';
import { timeMs } from '../kube/time.js';
import { ownerNamespaceOf, startingHelpersOn } from './helper-plan.js';

export interface StartLimitOptions {
  /** HELPER_MAX_STARTING_PER_NODE: never more than this. */
  ceiling: number;
  /** Where every node starts. */
  initial: number;
  /** A start (created to Ready) faster than this widens the limit. */
  fastMs: number;
  /** A start slower than this, or a failed one, halves it. */
  slowMs: number;
}

export const DEFAULT_START_LIMITS: Omit<StartLimitOptions, 'ceiling'> = { initial: 8, fastMs: 10_000, slowMs: 30_000 };
const FLOOR = 2;

/** Waiting reasons that mean the runtime could not start the container. */
const START_FAILURES = new Set(['RunContainerError', 'CreateContainerError', 'CrashLoopBackOff', 'StartError']);

/**
 * A start slot taken by this process for a helper it is creating or deleting, counted until the
 * cache shows that change (the helper created, or terminating): passes run concurrently and the
 * cache lags the operator's own writes, so the cache alone would hand out one slot twice.
 */
export interface Reservation {
  node: string;
  /** The namespace of the PortForward it is for. */
  namespace: string;
  kind: 'create' | 'delete';
  /** The helper's uid: known at once for a delete, after the API server answers for a create. */
  uid?: string;
  at: number;
}

/** A reservation the cache never reflects (a write that was lost) stops counting after this. */
const RESERVATION_TTL_MS = 60_000;

/** A namespace turned away counts as waiting this long: queued PortForwards ask again every 10 s. */
const WAITER_TTL_MS = 30_000;

interface NodeWindow {
  limit: number;
  /** Helpers created before this had already started when the limit last shrank: not held against it again. */
  shrunkAt: number;
}

/** How long a helper took to start, or 'failed', or undefined while it is still starting. */
export function startOutcome(pod: V1Pod): number | 'failed' | undefined {
  const created = timeMs(pod.metadata?.creationTimestamp);
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
  const readyAt = timeMs(ready?.lastTransitionTime);
  if (created !== undefined && readyAt !== undefined) return Math.max(0, readyAt - created);
  const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting?.reason;
  if (pod.status?.phase === 'Failed' || (waiting && START_FAILURES.has(waiting))) return 'failed';
  return undefined;
}

export class StartLimits {
  private readonly nodes = new Map<string, NodeWindow>();
  /** Helpers whose start has been counted already, by uid. */
  private readonly counted = new Set<string>();
  private reservations: Reservation[] = [];
  /** Namespaces turned away per node, and when. */
  private readonly waiters = new Map<string, Map<string, number>>();
  private readonly opts: StartLimitOptions;
  private readonly now: () => number;

  constructor(opts: StartLimitOptions, now: () => number = Date.now) {
    this.opts = { ...opts, initial: Math.min(opts.initial, opts.ceiling) };
    this.now = now;
  }

  /** Learns from every helper that finished starting since the last call; forgets helpers that are gone. */
  observe(helpers: readonly V1Pod[]): void {
    const present = new Set<string>();
    for (const pod of helpers) {
      const uid = pod.metadata?.uid;
      const node = pod.spec?.nodeName;
      if (!uid || !node) continue;
      present.add(uid);
      if (this.counted.has(uid)) continue;
      const outcome = startOutcome(pod);
      if (outcome === undefined) continue;
      this.counted.add(uid);
      this.learn(node, outcome, timeMs(pod.metadata?.creationTimestamp) ?? 0);
    }
    for (const uid of this.counted) if (!present.has(uid)) this.counted.delete(uid);
  }

  limitFor(node: string): number {
    return this.window(node).limit;
  }

  /**
   * Takes a start slot on node for creating (or, with uid, deleting) a helper, if the node has one
   * free: helpers the cache shows starting or terminating there, plus the writes of this process
   * the cache does not show yet, stay below the limit. Synchronous, so two passes never take the
   * same slot. Bind a create's reservation to the new helper's uid once it exists; release a
   * reservation whose write failed.
   */
  take(node: string, helpers: readonly V1Pod[], namespace: string, kind: Reservation['kind'], uid?: string): Reservation | undefined {
    this.observe(helpers);
    const byUid = new Map(helpers.map((p) => [p.metadata?.uid, p]));
    const now = this.now();
    this.reservations = this.reservations.filter((r) => now - r.at < RESERVATION_TTL_MS && !reflected(r, byUid));
    const holders = [
      ...startingHelpersOn(helpers, node, now).map(ownerNamespaceOf),
      ...this.reservations.filter((r) => r.node === node).map((r) => r.namespace),
    ];
    const limit = this.limitFor(node);
    const waiters = this.waitersOn(node, now);
    const wanting = new Set([...holders, ...waiters.keys(), namespace]);
    const share = Math.ceil(limit / wanting.size);
    if (holders.length >= limit || holders.filter((n) => n === namespace).length >= share) {
      waiters.set(namespace, now);
      return undefined;
    }
    waiters.delete(namespace);
    const reservation: Reservation = { node, namespace, kind, uid, at: now };
    this.reservations.push(reservation);
    return reservation;
  }

  /** The namespaces recently turned away on node (expired ones dropped). */
  private waitersOn(node: string, now: number): Map<string, number> {
    let w = this.waiters.get(node);
    if (!w) this.waiters.set(node, (w = new Map()));
    for (const [namespace, at] of w) if (now - at >= WAITER_TTL_MS) w.delete(namespace);
    return w;
  }

  release(reservation: Reservation): void {
    this.reservations = this.reservations.filter((r) => r !== reservation);
  }

  private window(node: string): NodeWindow {
    let w = this.nodes.get(node);
    if (!w) {
      w = { limit: this.opts.initial, shrunkAt: -Infinity };
      this.nodes.set(node, w);
    }
    return w;
  }

  private learn(node: string, outcome: number | 'failed', createdAt: number): void {
    const w = this.window(node);
    if (outcome === 'failed' || outcome > this.opts.slowMs) {
      // Helpers started under the old, larger limit all report slow together: shrink once for them.
      if (createdAt < w.shrunkAt) return;
      w.limit = Math.max(Math.min(FLOOR, this.opts.ceiling), Math.floor(w.limit / 2));
      w.shrunkAt = this.now();
    } else if (outcome < this.opts.fastMs) {
      w.limit = Math.min(this.opts.ceiling, w.limit + 1);
    }
  }
}

/** Whether the cache shows the write a reservation stands for. */
function reflected(r: Reservation, byUid: Map<string | undefined, V1Pod>): boolean {
  if (r.uid === undefined) return false; // a create still in flight
  const pod = byUid.get(r.uid);
  return r.kind === 'create' ? pod !== undefined : pod === undefined || pod.metadata?.deletionTimestamp !== undefined;
}
