// How a PortForward is reached, as its status tells: the ports summary (kubectl get's PORTS) and
// status.access (the in-cluster address, the API server path, the kubectl command).
import type { PortForwardSpec, PortForwardStatus } from '../api/index.js';

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
  serviceNamespace: string;
  helperNamespace: string;
  /** The headless Service beside the helper that the API server's proxy can use. */
  proxyServiceName: string;
  helperPod: string | undefined;
}

export function accessFor(spec: PortForwardSpec, at: AccessInputs): NonNullable<PortForwardStatus['access']> {
  const ports = [...new Set(spec.ports.map((p) => p.port))];
  const tcp = [...new Set(spec.ports.filter((p) => p.protocol === 'TCP').map((p) => p.port))];
  const access: NonNullable<PortForwardStatus['access']> = {
    inCluster: ports.map((p) => `${at.serviceName}.${at.serviceNamespace}.svc:${p}`),
    // The API server proxies only to pods in the Service's own namespace: the one beside the helper.
    apiServerProxy: tcp.map((p) => `/api/v1/namespaces/${at.helperNamespace}/services/${at.proxyServiceName}:${p}/proxy/`),
  };
  // kubectl port-forward carries TCP only
  if (at.helperPod && tcp.length) {
    access.portForwardCommand = `kubectl port-forward -n ${at.helperNamespace} pod/${at.helperPod} ${tcp.map((p) => `${p}:${p}`).join(' ')}`;
  }
  return access;
}
