// The status a pass writes: built in full from what the pass observed, conditions keeping their
// lastTransitionTime while their status holds, and compared canonically so an unchanged status
// is not written again.
import type { Condition, PortForwardSpec, PortForwardStatus } from '../api/index.js';
import { isReady, phaseOf, type Readiness } from './reasons.js';
import { canonical } from '../util/canonical.js';

export const READY = 'Ready';

/**
 * Sets a condition in a list. lastTransitionTime moves only when the status flips: a new reason
 * or message alone is not a transition.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: string,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === next.type);
  const previous = index >= 0 ? list[index] : undefined;
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : now;
  const condition: Condition = { ...next, lastTransitionTime };
  if (index >= 0) list[index] = condition;
  else list.push(condition);
  return list;
}

export function readyCondition(status: PortForwardStatus | undefined): Condition | undefined {
  return status?.conditions?.find((c) => c.type === READY);
}

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

export function sameStatus(a: PortForwardStatus | undefined, b: PortForwardStatus | undefined): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}

/** What a pass observed, turned into the full status to write. */
export interface Observed {
  generation: number | undefined;
  readiness: Readiness;
  ports?: string;
  target?: PortForwardStatus['target'];
  helper?: PortForwardStatus['helper'];
  service?: PortForwardStatus['service'];
  access?: PortForwardStatus['access'];
  expiresAt?: string;
}

export function composeStatus(previous: PortForwardStatus | undefined, observed: Observed, now: string): PortForwardStatus {
  const { readiness, generation } = observed;
  const conditions = setCondition(
    previous?.conditions,
    {
      type: READY,
      status: isReady(readiness) ? 'True' : 'False',
      reason: readiness.reason,
      message: readiness.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    },
    now,
  );
  const status: PortForwardStatus = {
    phase: phaseOf(readiness.reason),
    observedGeneration: generation,
    conditions,
    ports: observed.ports,
    target: observed.target,
    helper: observed.helper,
    service: observed.service,
    access: observed.access,
    expiresAt: observed.expiresAt,
  };
  // drop absent fields so the canonical comparison and the stored object agree
  return JSON.parse(canonical(status)) as PortForwardStatus;
}
