// A work queue of "namespace/name" keys, after client-go's workqueue: repeats coalesce, a key is
// never reconciled twice at once (re-added while running, it runs again afterwards), at most
// `concurrency` keys run together, and errors back off per key. Ready keys are taken fairly
// between namespaces: one tenant's thousand PortForwards do not delay another's one.
import { RECONCILE_BACKOFF, backoffDelay, type BackoffPolicy } from '../util/backoff.js';
import type { Result } from './result.js';

export type Handler = (key: string) => Promise<Result>;

/**
 * The longest delay a Node timer holds (about 24.8 days). A longer one fires at once (with a
 * TimeoutOverflowWarning), which would turn a far-off wake-up such as a long ttl into a hot loop;
 * so longer delays wake up at this bound and the reconciler simply schedules the rest again.
 */
export const MAX_DELAY_MS = 2 ** 31 - 1;

export interface QueueOptions {
  concurrency: number;
  backoff?: BackoffPolicy;
  /** Told about every finished pass, e.g. for metrics; `seconds` is the handler's run time. */
  onResult?: (key: string, result: Result, seconds: number, retryInMs: number | undefined) => void;
}

/**
 * Ready keys: first in, first out within a namespace, and the namespaces take turns, one key
 * each, in the order they became ready.
 */
export class FairQueue {
  private readonly byNamespace = new Map<string, Set<string>>(); // insertion-ordered: the turns
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(key: string): void {
    const namespace = key.slice(0, Math.max(0, key.indexOf('/')));
    let keys = this.byNamespace.get(namespace);
    if (!keys) this.byNamespace.set(namespace, (keys = new Set()));
    if (keys.has(key)) return;
    keys.add(key);
    this.count++;
  }

  /** The next key: the oldest of the namespace whose turn it is, which then goes to the back. */
  take(): string | undefined {
    const turn = this.byNamespace.entries().next();
    if (turn.done) return undefined;
    const [namespace, keys] = turn.value;
    const key = keys.values().next().value as string;
    keys.delete(key);
    this.count--;
    this.byNamespace.delete(namespace);
    if (keys.size > 0) this.byNamespace.set(namespace, keys);
    return key;
  }

  clear(): void {
    this.byNamespace.clear();
    this.count = 0;
  }
}

export class WorkQueue {
  private readonly ready = new FairQueue();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>(); // added again while running
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly idleWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly backoff: BackoffPolicy;

  constructor(
    private readonly handler: Handler,
    private readonly options: QueueOptions,
  ) {
    this.backoff = options.backoff ?? RECONCILE_BACKOFF;
  }

  /** Queue a key now. Cheap and idempotent: event handlers call it freely. */
  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) this.dirty.add(key);
    else this.ready.add(key);
    this.pump();
  }

  /** Queue a key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    ms = Math.min(ms, MAX_DELAY_MS);
    const at = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Keys waiting to run (not counting delayed ones). */
  depth(): number {
    return this.ready.size + this.dirty.size;
  }

  /** Consecutive failures of a key; 0 after a success. */
  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves once nothing is running or ready (delayed keys do not count). */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.ready.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop taking work, drop delayed keys, and wait for running passes to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.ready.clear();
    this.dirty.clear();
    await this.idle();
  }

  private pump(): void {
    while (!this.stopped && this.running.size < this.options.concurrency && this.ready.size > 0) {
      const key = this.ready.take()!;
      this.running.add(key);
      void this.run(key);
    }
    if (this.running.size === 0 && this.ready.size === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async run(key: string): Promise<void> {
    const started = process.hrtime.bigint();
    let result: Result;
    try {
      result = await this.handler(key);
    } catch (error) {
      result = { kind: 'error', error };
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.running.delete(key);

    let retryInMs: number | undefined;
    if (result.kind === 'error') {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      retryInMs = backoffDelay(this.backoff, attempt);
    } else {
      this.failures.delete(key);
      if (result.kind === 'requeueAfter') retryInMs = result.ms;
    }
    this.options.onResult?.(key, result, seconds, retryInMs);

    if (this.dirty.delete(key)) this.add(key); // something changed while we ran: look again now
    else if (retryInMs !== undefined) this.addAfter(key, retryInMs);
    this.pump();
  }
}
