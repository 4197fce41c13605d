// The ttl format of the API (TTL_PATTERN): whole units of s, m, h and d, e.g. 1h30m.
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds in a duration such as "1h30m", or null when it is not one. */
export function parseDuration(text: string): number | null {
  if (!/^([0-9]{1,6}[smhd]){1,4}$/.test(text)) return null;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/([0-9]+)([smhd])/g)) total += Number(n) * UNIT_SECONDS[unit!]!;
  return total;
}
