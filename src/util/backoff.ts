// Capped exponential backoff with jitter, shared by the work queue (per key) and the informers.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Spread each delay by up to this share either way, so many retries do not land together. */
  jitter: number;
}

/** Reconcile errors: 0.5 s doubling up to a minute. */
export const RECONCILE_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 60_000, jitter: 0.2 };
/** Informer restarts after a failed list or watch: 0.8 s doubling up to 30 s. */
export const WATCH_BACKOFF: BackoffPolicy = { initialMs: 800, maxMs: 30_000, jitter: 0.2 };

/** The delay before retry number `attempt` (1 for the first retry). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const exponential = policy.initialMs * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxMs, exponential);
  const spread = 1 - policy.jitter + 2 * policy.jitter * random();
  return Math.round(Math.min(policy.maxMs, capped * spread));
}
