// The real network checks behind Ready: pf-relay's GET /ports on the helper's pod IP, and a TCP
// connect to the Service's cluster IP. The operator runs in the cluster, so both are reachable.
import { isIPv6, Socket } from 'node:net';
import { z } from 'zod';
import type { PortState, TunnelProbe } from '../controller/traffic-check.js';

const portsResponse = z.object({
  ports: z.array(
    z.object({ protocol: z.enum(['tcp', 'udp']), port: z.number().int(), targetPort: z.number().int(), open: z.boolean() }),
  ),
});

const host = (ip: string) => (isIPv6(ip) ? `[${ip}]` : ip);

/**
 * A cluster IP that kube-proxy has not programmed yet may drop the SYN rather than refuse it, and
 * the kernel would retransmit only after a second: a short connect timeout and a quick re-check
 * find the route sooner. The helper's answer may take longer on a busy node.
 */
export function createTunnelProbe({ connectTimeoutMs = 500, requestTimeoutMs = 2000 } = {}): TunnelProbe {
  return {
    async targetPorts(ip: string, healthPort: number): Promise<PortState[]> {
      const res = await fetch(`http://${host(ip)}:${healthPort}/ports`, { signal: AbortSignal.timeout(requestTimeoutMs) });
      if (!res.ok) throw new Error(`GET /ports answered ${res.status}: ${(await res.text()).trim()}`);
      return portsResponse.parse(await res.json()).ports;
    },
    connects(ip: string, port: number): Promise<boolean> {
      return new Promise((resolve) => {
        const socket = new Socket();
        const end = (ok: boolean) => {
          socket.destroy();
          resolve(ok);
        };
        socket.setTimeout(connectTimeoutMs, () => end(false));
        socket.once('connect', () => end(true));
        socket.once('error', () => end(false));
        socket.connect(port, ip);
      });
    },
  };
}
