// Ports named the way kubectl port-forward names them: a Service port by number or name and where
// it leads in the pods (its targetPort), and a container port by name. Pure; the operator turns a
// miss into a status, the plugin into a usage error, both in these words.
import type { V1PodSpec, V1Service } from '@kubernetes/client-node';

export type PortProtocol = 'tcp' | 'udp';

export type Found<T> = { ok: true; value: T } | { ok: false; message: string };

function protocolOf(p: { protocol?: string }): PortProtocol {
  return (p.protocol ?? 'TCP').toUpperCase() === 'UDP' ? 'udp' : 'tcp';
}

/** `8080 (http)`, `53/UDP`: a port as a person reads it in a list. */
function shownPort(p: { port?: number; containerPort?: number; name?: string; protocol?: string }): string {
  const proto = protocolOf(p) === 'udp' ? '/UDP' : '';
  return `${p.port ?? p.containerPort}${proto}${p.name ? ` (${p.name})` : ''}`;
}

/** The hint when a port exists under the other protocol. */
function otherProtocolHint(wanted: number | string, protocol: PortProtocol): string {
  return protocol === 'udp' ? `; it is TCP: leave out /udp` : `; it is UDP: write ${wanted}/udp`;
}

export interface ServicePortMatch {
  /** The Service port's number. */
  port: number;
  /** Where it goes in the pod: a number, or a container port's name to look up. */
  targetPort: number | string;
}

/** The Service port `wanted` names (its number or name, and protocol), and where it points in the pods. */
export function findServicePort(svc: V1Service, wanted: number | string, protocol: PortProtocol): Found<ServicePortMatch> {
  const ports = svc.spec?.ports ?? [];
  const named = (p: (typeof ports)[number]): boolean => (typeof wanted === 'number' ? p.port === wanted : p.name === wanted);
  const match = ports.find((p) => named(p) && protocolOf(p) === protocol);
  const ref = `service/${svc.metadata?.name}`;
  if (!match) {
    const what = typeof wanted === 'number' ? `port ${wanted}` : `port named "${wanted}"`;
    if (ports.some(named)) return { ok: false, message: `${ref} has no ${protocol.toUpperCase()} ${what}${otherProtocolHint(wanted, protocol)}` };
    const have = ports.length ? `its ports are ${ports.map(shownPort).join(', ')}` : 'it has no ports';
    return { ok: false, message: `${ref} has no ${what}; ${have}` };
  }
  const target = match.targetPort;
  // An unset targetPort means the port itself; a string that is all digits is still a number.
  if (target === undefined || target === '' || target === 0) return { ok: true, value: { port: match.port, targetPort: match.port } };
  if (typeof target === 'number') return { ok: true, value: { port: match.port, targetPort: target } };
  return { ok: true, value: { port: match.port, targetPort: /^\d+$/.test(target) ? Number(target) : target } };
}

/** A container port by name (a pod's, or a workload's pod template), as kubectl looks it up; `where` names the pod. */
export function findContainerPort(spec: V1PodSpec | undefined, name: string, protocol: PortProtocol, where: string): Found<number> {
  const ports = (spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const match = ports.find((p) => p.name === name && protocolOf(p) === protocol);
  if (match) return { ok: true, value: match.containerPort };
  if (ports.some((p) => p.name === name)) {
    return { ok: false, message: `${where} has no ${protocol.toUpperCase()} port named "${name}"${otherProtocolHint(name, protocol)}` };
  }
  const have = ports.filter((p) => p.name).map(shownPort);
  return { ok: false, message: `${where} has no container port named "${name}"${have.length ? `; its named ports are ${have.join(', ')}` : ''}` };
}
