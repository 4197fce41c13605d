// When a PortForward runs out: creation + ttl, and never later than the operator's MAX_TTL
// (which is also the lifetime of PortForwards that ask for none).
import { parseDuration } from '../api/duration.js';

export function expiresAtMs(createdMs: number, ttl: string | undefined, maxTtlSeconds: number | undefined): number | undefined {
  const asked = ttl === undefined ? null : parseDuration(ttl);
  const limits = [asked, maxTtlSeconds].filter((s): s is number => typeof s === 'number');
  if (limits.length === 0) return undefined;
  return createdMs + Math.min(...limits) * 1000;
}
