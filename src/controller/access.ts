// How a PortForward is reached, as its status tells: the ports summary (kubectl get's PORTS) and
// status.access (the in-cluster address, the tunnel API's paths, the kubectl pf command).
import type { PortForwardSpec, PortForwardStatus } from '../api/index.js';
import { proxyPath, tunnelPath } from '../tunnel/protocol.js';

/** 10080->80/TCP,53/UDP: the port, and where it goes when that differs. */
export function portsSummary(spec: PortForwardSpec): string {
  return spec.ports
    .map((p) => {
      const target = p.targetPort ?? p.port;
      return `${target === p.port ? p.port : `${p.port}->${target}`}/${p.protocol}`;
    })
    .join(',');
}

export interface AccessInputs {
  serviceName: string;
  namespace: string;
  name: string;
}

export function accessFor(spec: PortForwardSpec, at: AccessInputs): NonNullable<PortForwardStatus['access']> {
  const unique = [...new Map(spec.ports.map((p) => [`${p.port}/${p.protocol}`, p])).values()];
  const tcp = unique.filter((p) => p.protocol === 'TCP').map((p) => p.port);
  return {
    inCluster: [...new Set(spec.ports.map((p) => p.port))].map((p) => `${at.serviceName}.${at.namespace}.svc:${p}`),
    apiServerProxy: tcp.map((p) => proxyPath(at.namespace, at.name, p)),
    tunnel: unique.map((p) => tunnelPath(at.namespace, at.name, p.port, p.protocol === 'UDP' ? 'udp' : 'tcp')),
    connectCommand: `kubectl pf connect -n ${at.namespace} ${at.name} ${unique.map((p) => (p.protocol === 'UDP' ? `${p.port}/udp` : `${p.port}`)).join(' ')}`,
  };
}
