// The ttl format of the API: whole units of s, m, h and d, e.g. 1h30m. The CRD's CEL rule, the zod
// schema and parseDuration all use TTL_PATTERN.

/** Go-style duration made of whole units: 90s, 15m, 2h, 1h30m, 7d. */
export const TTL_PATTERN = '^([0-9]{1,6}(s|m|h|d)){1,4}$';
const TTL = new RegExp(TTL_PATTERN);

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds in a duration such as "1h30m", or null when it is not one. */
export function parseDuration(text: string): number | null {
  if (!TTL.test(text)) return null;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/([0-9]+)([smhd])/g)) total += Number(n) * UNIT_SECONDS[unit!]!;
  return total;
}
