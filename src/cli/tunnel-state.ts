// What `connect` knows about its PortForward at this moment, from the latest object the watch saw.
// snapshotOf() is pure; TunnelState holds the latest snapshot and lets connections wait for Ready.
import { parseSpec, type PortForward } from '../api/index.js';
import type { PodRef } from './pod-port.js';

export interface Snapshot {
  /** namespace/name, for messages. */
  ref: string;
  /** Ready and a helper pod to send traffic to. */
  ready: boolean;
  helper?: PodRef;
  /** The PortForward's TCP ports (where the helper listens); undefined when the spec is invalid. */
  tcpPorts?: number[];
  udpPorts?: number[];
  /** Why it is not Ready, for a person: phase and the Ready condition's reason and message. */
  why: string;
  deleted: boolean;
}

export function snapshotOf(ref: string, pf: PortForward | undefined): Snapshot {
  if (!pf) return { ref, ready: false, why: 'the PortForward was deleted', deleted: true };
  const parsed = parseSpec(pf.spec);
  const ports = parsed.ok ? parsed.spec.ports : undefined;
  const status = pf.status ?? {};
  const condition = status.conditions?.find((c) => c.type === 'Ready');
  const helper =
    status.helper?.namespace && status.helper.pod ? { namespace: status.helper.namespace, pod: status.helper.pod } : undefined;
  const readyByStatus = condition ? condition.status === 'True' : status.phase === 'Ready';
  const ready = readyByStatus && helper !== undefined && parsed.ok;

  const parts: string[] = [`phase ${status.phase ?? 'unknown (the operator has not reported yet)'}`];
  if (condition) {
    const detail = [condition.reason, condition.message].filter((s) => s).join(': ');
    parts.push(`Ready=${condition.status}${detail ? ` ${detail}` : ''}`);
  }
  if (readyByStatus && !helper) parts.push('no helper pod in status yet');
  if (!parsed.ok) parts.push(`invalid spec: ${parsed.message}`);
  return {
    ref,
    ready,
    helper,
    tcpPorts: ports?.filter((p) => p.protocol === 'TCP').map((p) => p.port),
    udpPorts: ports?.filter((p) => p.protocol === 'UDP').map((p) => p.port),
    why: parts.join(', '),
    deleted: false,
  };
}

export function sameHelper(a: PodRef | undefined, b: PodRef | undefined): boolean {
  return a?.namespace === b?.namespace && a?.pod === b?.pod;
}

/** The line printed when the state changes, or undefined when nothing a user cares about changed. */
export function transitionLine(before: Snapshot | undefined, after: Snapshot): string | undefined {
  if (after.deleted) return `PortForward ${after.ref} was deleted`;
  if (after.ready) {
    const helper = `${after.helper?.namespace}/${after.helper?.pod}`;
    if (!before?.ready) return `PortForward ${after.ref} is Ready (helper pod ${helper})`;
    if (!sameHelper(before.helper, after.helper)) return `PortForward ${after.ref}: the helper pod is now ${helper}; new connections go there`;
    return undefined;
  }
  if (before && !before.ready && before.why === after.why) return undefined;
  return `Waiting for PortForward ${after.ref} to become Ready (${after.why})`;
}

/** The latest snapshot, and a way for a new connection to wait until it is Ready. */
export class TunnelState {
  private waiters = new Set<() => void>();

  constructor(public current: Snapshot) {}

  update(next: Snapshot): void {
    this.current = next;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  /** Resolves at the next update, or after timeoutMs. */
  nextUpdate(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** The helper to use now, waiting up to timeoutMs for Ready; undefined if it did not come (or was deleted). */
  async readyHelper(timeoutMs: number): Promise<PodRef | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = this.current;
      if (s.ready && s.helper) return s.helper;
      if (s.deleted) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await this.nextUpdate(left);
    }
  }

  /** Wakes every waiter (used at shutdown). */
  wakeAll(): void {
    this.update(this.current);
  }
}

export interface OpenAttempt<T> {
  /** Opens through this helper. */
  open(helper: PodRef): Promise<T>;
  /** Why the PortForward as it is now cannot serve this (say, the port is gone), or undefined. */
  refuse(now: Snapshot): string | undefined;
  /** The error means the helper is being replaced: wait for the next update and try again. */
  retryAfterUpdate(err: unknown): boolean;
  describe(err: unknown, helper: PodRef): string;
  /** True when the caller no longer needs it (Ctrl-C, the local client left). */
  abandoned(): boolean;
}

/**
 * Waits up to timeoutMs for Ready, then opens through the helper the PortForward names. An open
 * that fails because the helper is being replaced waits for the operator's next word (up to 5 s)
 * and tries again, twice at most. Resolves undefined when abandoned; rejects with one line.
 */
export async function openWhenReady<T>(state: TunnelState, timeoutMs: number, a: OpenAttempt<T>): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    const helper = await state.readyHelper(timeoutMs);
    if (a.abandoned()) return undefined;
    const now = state.current;
    if (!helper) {
      throw new Error(now.deleted ? 'the PortForward was deleted' : `PortForward ${now.ref} is not Ready after ${timeoutMs / 1000}s (${now.why})`);
    }
    const refusal = a.refuse(now);
    if (refusal) throw new Error(refusal);
    try {
      return await a.open(helper);
    } catch (err) {
      if (attempt < 2 && a.retryAfterUpdate(err)) {
        const unchanged = (): boolean => sameHelper(state.current.helper, helper) && state.current.ready;
        if (unchanged()) await state.nextUpdate(5000);
        if (!unchanged()) continue;
      }
      throw new Error(a.describe(err, helper));
    }
  }
}
