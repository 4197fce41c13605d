// The network checks behind Ready, as a test sets them: which target ports are closed, whether the
// Service routes yet, whether the helper answers at all. Records what it was asked.
import type { PortState, TunnelProbe } from '../../../src/controller/traffic-check.js';
import type { PortForwardSpec } from '../../../src/api/index.js';

export class FakeProbe implements TunnelProbe {
  /** Target ports with nothing listening. */
  closed = new Set<number>();
  routes = true;
  answers = true;
  /** The ports the helper relays, as the test's spec declares them. */
  spec: PortForwardSpec | undefined;
  asked: string[] = [];

  async targetPorts(ip: string, healthPort: number): Promise<PortState[]> {
    this.asked.push(`ports ${ip}:${healthPort}`);
    if (!this.answers) throw new Error('connect ECONNREFUSED');
    return (this.spec?.ports ?? []).map((p) => {
      const targetPort = typeof p.targetPort === 'number' ? p.targetPort : p.port;
      return { protocol: p.protocol === 'UDP' ? 'udp' : 'tcp', port: p.port, targetPort, open: !this.closed.has(targetPort) };
    });
  }

  async connects(ip: string, port: number): Promise<boolean> {
    this.asked.push(`connect ${ip}:${port}`);
    return this.routes;
  }
}
