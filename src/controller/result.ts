// What a reconcile pass asks of the work queue.
import { isApiError } from '../kube/errors.js';

export type Result =
  | { kind: 'done' }
  | { kind: 'requeueAfter'; ms: number }
  | { kind: 'error'; error: unknown };

export const done: Result = { kind: 'done' };
export const requeueAfter = (ms: number): Result => ({ kind: 'requeueAfter', ms: Math.max(0, Math.round(ms)) });
export const failed = (error: unknown): Result => ({ kind: 'error', error });

/** A write lost a race with another writer (or our cache lags): re-read and retry soon. */
export const CONFLICT_RETRY_MS = 1000;

/** The PortForward itself is gone (404 on a write to it): nothing is left to do. */
export class PrimaryGoneError extends Error {
  constructor(cause: unknown) {
    super('the PortForward no longer exists', { cause });
  }
}

/** Runs a write to the PortForward itself, turning its 404 into PrimaryGoneError. */
export async function onPrimary<T>(write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (err) {
    throw isApiError(err, 404) ? new PrimaryGoneError(err) : err;
  }
}

/**
 * How a thrown error ends a pass: the PortForward gone means done, a conflict (409) means re-read
 * and try again soon, anything else (including a 404 of some other object) backs off.
 */
export function resultOfError(error: unknown): Result {
  if (error instanceof PrimaryGoneError) return done;
  if (isApiError(error, 409)) return requeueAfter(CONFLICT_RETRY_MS);
  return failed(error);
}

/** Never sleep past a deadline (the ttl): `done` becomes a wake-up at it. */
export function notAfter(result: Result, deadlineInMs: number | undefined): Result {
  if (deadlineInMs === undefined || result.kind === 'error') return result;
  const wait = Math.max(0, deadlineInMs);
  if (result.kind === 'done') return requeueAfter(wait);
  return requeueAfter(Math.min(result.ms, wait));
}
