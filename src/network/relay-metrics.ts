// A helper's counters: pf-relay's GET /metrics on the helper's pod IP (the operator runs in the
// cluster, and the helpers' NetworkPolicy lets it in on every port).
import { isIPv6 } from 'node:net';

export async function readRelayMetrics(ip: string, port: number, timeoutMs = 2000): Promise<string> {
  const host = isIPv6(ip) ? `[${ip}]` : ip;
  const res = await fetch(`http://${host}:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}`);
  return res.text();
}
