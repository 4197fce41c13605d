// Which pod a PortForward enters: the named pod, or one ready pod of a selector, a Service or a
// workload; which port inside it each of the PortForward's ports leads to; and whether the
// PortForward may reach into that namespace at all.
import type { V1Namespace, V1Pod, V1Service } from '@kubernetes/client-node';
import type { LabelSelector, PortSpec, ResolvedTarget, TargetSpec, WorkloadKind, WorkloadRef } from '../api/index.js';
import { findContainerPort, findServicePort, type Found } from '../kube/named-ports.js';
import { isPodReady, noExecuteTolerations } from '../kube/pods.js';
import { timeMs } from '../kube/time.js';
import type { Workload } from '../kube/workloads.js';
import { ANNOTATIONS } from '../resources/names.js';
import type { Reason } from './reasons.js';
import { formatSelector, fromKubeSelector as selectorOf, matchesSelector } from './selector.js';

/** Why a target does not resolve (the phase each means is in reasons.ts). */
export type TargetReason = Extract<
  Reason,
  'TargetNotFound' | 'TargetNotRunning' | 'NoMatchingPod' | 'TargetUsesHostNetwork' | 'CrossNamespaceNotAllowed' | 'TargetHasNoSelector' | 'TargetPortNotFound'
>;

export type TargetResolution =
  | { ok: true; target: ResolvedTarget; pod: V1Pod }
  | { ok: false; reason: TargetReason; message: string };

export interface TargetLookup {
  namespace(name: string): V1Namespace | undefined;
  pod(namespace: string, name: string): V1Pod | undefined;
  pods(namespace: string): readonly V1Pod[];
  service(namespace: string, name: string): V1Service | undefined;
  workload(kind: WorkloadKind, namespace: string, name: string): Workload | undefined;
}

/** The namespace a target lives in: its own, or the PortForward's. */
export function targetNamespace(pfNamespace: string, target: Pick<TargetSpec, 'namespace'>): string {
  return target.namespace ?? pfNamespace;
}

/** Values of the opt-in annotation: namespaces allowed to reach in, or '*'. */
export function allowedFrom(namespace: V1Namespace | undefined): string[] {
  const raw = namespace?.metadata?.annotations?.[ANNOTATIONS.allowFrom] ?? '';
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function crossNamespaceAllowed(namespace: V1Namespace | undefined, from: string): boolean {
  const allowed = allowedFrom(namespace);
  return allowed.includes('*') || allowed.includes(from);
}


function isRunningOnNode(pod: V1Pod): boolean {
  // An IP too: the helper checks the namespace it enters by it.
  return pod.status?.phase === 'Running' && !!pod.spec?.nodeName && !pod.metadata?.deletionTimestamp && podIPs(pod).length > 0;
}

function usesHostNetwork(pod: V1Pod): boolean {
  return pod.spec?.hostNetwork === true;
}

function resolved(pod: V1Pod, ports: number[], chosenBy: string): { ok: true; target: ResolvedTarget; pod: V1Pod } {
  return {
    ok: true,
    pod,
    target: {
      namespace: pod.metadata!.namespace!,
      pod: pod.metadata!.name!,
      uid: pod.metadata!.uid!,
      node: pod.spec!.nodeName!,
      ips: podIPs(pod),
      tolerations: noExecuteTolerations(pod),
      ports,
      chosenBy,
    },
  };
}

function podIPs(pod: V1Pod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => !!ip);
  return ips.length > 0 ? ips : pod.status?.podIP ? [pod.status.podIP] : [];
}

function hostNetworkRefusal(pod: V1Pod): TargetResolution {
  return {
    ok: false,
    reason: 'TargetUsesHostNetwork',
    message:
      `Pod "${pod.metadata?.name}" uses the node's network (hostNetwork: true); entering it would expose the node's own ` +
      `loopback, so the operator refuses. Target a pod with its own network namespace.`,
  };
}

/** Oldest first, then by name: a stable choice that does not flap between equal pods. */
function byAgeThenName(a: V1Pod, b: V1Pod): number {
  const age = (timeMs(a.metadata?.creationTimestamp) ?? 0) - (timeMs(b.metadata?.creationTimestamp) ?? 0);
  return age !== 0 ? age : (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
}

/**
 * Resolves the target of a PortForward in `pfNamespace`, and each of `ports` to the port it leads
 * to inside the pod. `currentUid` is the pod the tunnel enters now: a selector, a Service or a
 * workload keeps it while it stays eligible, so a new matching pod does not move the tunnel.
 */
export function resolveTarget(
  pfNamespace: string,
  target: TargetSpec,
  ports: readonly PortSpec[],
  lookup: TargetLookup,
  currentUid?: string,
): TargetResolution {
  const namespace = targetNamespace(pfNamespace, target);
  if (namespace !== pfNamespace && !crossNamespaceAllowed(lookup.namespace(namespace), pfNamespace)) {
    // The same words whether the namespace exists or not, and nothing of what it allows already:
    // the requester learns neither.
    return {
      ok: false,
      reason: 'CrossNamespaceNotAllowed',
      message:
        `Namespace "${namespace}" does not allow PortForwards from namespace "${pfNamespace}". ` +
        `To allow it, an owner of "${namespace}" adds "${pfNamespace}" to its ${ANNOTATIONS.allowFrom} annotation ` +
        `(a comma-separated list of namespaces, or '*'), e.g. kubectl annotate namespace ${namespace} ${ANNOTATIONS.allowFrom}=${pfNamespace} ` +
        `(with --overwrite and the namespaces it lists already, if any). ` +
        `Tunnel traffic arrives on the pod's loopback and bypasses its NetworkPolicies.`,
    };
  }

  if (target.pod !== undefined) {
    const pod = lookup.pod(namespace, target.pod);
    if (!pod) {
      return {
        ok: false,
        reason: 'TargetNotFound',
        message: `Pod "${target.pod}" was not found in namespace "${namespace}"; the tunnel starts when it exists.`,
      };
    }
    if (usesHostNetwork(pod)) return hostNetworkRefusal(pod);
    if (!isRunningOnNode(pod)) {
      const state = pod.metadata?.deletionTimestamp ? 'terminating' : `${pod.status?.phase ?? 'Pending'}, not running on a node`;
      return {
        ok: false,
        reason: 'TargetNotRunning',
        message: `Pod "${target.pod}" in namespace "${namespace}" is ${state}; the tunnel starts when it runs.`,
      };
    }
    return withPorts(pod, ports, (p) => containerPorts(pod, p), 'named in spec.target.pod');
  }

  if (target.service !== undefined) return resolveService(namespace, target.service, ports, lookup, currentUid);
  if (target.workload !== undefined) return resolveWorkload(namespace, target.workload, ports, lookup, currentUid);
  const pick = pickReady(namespace, lookup, target.selector!, () => true, currentUid);
  if (!pick.ok) return noneReady(pick, `matches ${formatSelector(target.selector!)}`, namespace);
  return withPorts(pick.pod, ports, (p) => containerPorts(pick.pod, p), `${pick.why} matching the selector`);
}

type PodPick = { ok: true; pod: V1Pod; why: string } | { ok: false; matching: V1Pod[] };

/** A running, ready pod among those the selector matches and `belongs` accepts: the current one, else the oldest. */
function pickReady(namespace: string, lookup: TargetLookup, selector: LabelSelector, belongs: (pod: V1Pod) => boolean, currentUid?: string): PodPick {
  const matching = lookup.pods(namespace).filter((p) => matchesSelector(p.metadata?.labels, selector) && belongs(p));
  const eligible = matching.filter((p) => isRunningOnNode(p) && isPodReady(p) && !usesHostNetwork(p));
  const current = currentUid ? eligible.find((p) => p.metadata?.uid === currentUid) : undefined;
  if (current) return { ok: true, pod: current, why: 'the ready pod the tunnel already entered' };
  const chosen = [...eligible].sort(byAgeThenName)[0];
  if (chosen) return { ok: true, pod: chosen, why: eligible.length > 1 ? `the oldest of ${eligible.length} ready pods` : 'the one ready pod' };
  return { ok: false, matching };
}

/** No pod to enter: a host-networked one is refused outright, else the tunnel waits for one. */
function noneReady(pick: Extract<PodPick, { ok: false }>, what: string, namespace: string): TargetResolution {
  const hostNetworked = pick.matching.find((p) => usesHostNetwork(p) && isRunningOnNode(p));
  if (hostNetworked) return hostNetworkRefusal(hostNetworked);
  const notReady = pick.matching.length ? ` (${pick.matching.length} match but none is running and ready)` : '';
  return {
    ok: false,
    reason: 'NoMatchingPod',
    message: `No running, ready pod in namespace "${namespace}" ${what}${notReady}; the tunnel starts when one does.`,
  };
}

function resolveService(namespace: string, name: string, ports: readonly PortSpec[], lookup: TargetLookup, currentUid?: string): TargetResolution {
  const svc = lookup.service(namespace, name);
  if (!svc) {
    return { ok: false, reason: 'TargetNotFound', message: `Service "${name}" was not found in namespace "${namespace}"; the tunnel starts when it exists.` };
  }
  const selector = selectorOf({ matchLabels: svc.spec?.selector });
  if (!selector) {
    return {
      ok: false,
      reason: 'TargetHasNoSelector',
      message: `Service "${name}" in namespace "${namespace}" has no selector, so no pod is behind it for the tunnel to enter (its endpoints are managed by hand). Target one of those pods with spec.target.pod or spec.target.selector.`,
    };
  }
  const pick = pickReady(namespace, lookup, selector, () => true, currentUid);
  if (!pick.ok) return noneReady(pick, `is behind service/${name} (selector ${formatSelector(selector)})`, namespace);
  const pod = pick.pod;
  // targetPort names a port of the Service; the Service's own targetPort leads into the pod.
  return withPorts(pod, ports, (p) => {
    const match = findServicePort(svc, p.targetPort ?? p.port, protocolOf(p));
    return match.ok ? portInPod(pod, match.value.targetPort, p) : match;
  }, `${pick.why} behind service/${name}`);
}

function resolveWorkload(namespace: string, ref: WorkloadRef, ports: readonly PortSpec[], lookup: TargetLookup, currentUid?: string): TargetResolution {
  const what = `${ref.kind.toLowerCase()}/${ref.name}`;
  const workload = lookup.workload(ref.kind, namespace, ref.name);
  if (!workload) {
    return { ok: false, reason: 'TargetNotFound', message: `${ref.kind} "${ref.name}" was not found in namespace "${namespace}"; the tunnel starts when it exists.` };
  }
  const selector = selectorOf(workload.spec?.selector);
  if (!selector) {
    return { ok: false, reason: 'TargetHasNoSelector', message: `${what} in namespace "${namespace}" has an empty selector; target one of its pods with spec.target.pod.` };
  }
  // The selector finds candidates; the owner chain makes sure they are this workload's.
  const belongs = (pod: V1Pod) => ownedBy(pod, ref.kind, workload, lookup);
  const pick = pickReady(namespace, lookup, selector, belongs, currentUid);
  if (!pick.ok) return noneReady(pick, `belongs to ${what}`, namespace);
  return withPorts(pick.pod, ports, (p) => containerPorts(pick.pod, p), `${pick.why} of ${what}`);
}

/** Whether `pod` is the workload's: its controller is the workload, or, for a Deployment, one of the Deployment's ReplicaSets. */
function ownedBy(pod: V1Pod, kind: WorkloadKind, workload: Workload, lookup: TargetLookup): boolean {
  const controller = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
  if (!controller) return false;
  if (kind !== 'Deployment') return controller.kind === kind && controller.uid === workload.metadata?.uid;
  if (controller.kind !== 'ReplicaSet') return false;
  const replicaSet = lookup.workload('ReplicaSet', pod.metadata?.namespace ?? '', controller.name);
  if (replicaSet?.metadata?.uid !== controller.uid) return false;
  return (replicaSet.metadata?.ownerReferences ?? []).some((r) => r.controller === true && r.kind === 'Deployment' && r.uid === workload.metadata?.uid);
}

function podRef(pod: V1Pod): string {
  return `pod/${pod.metadata?.name}`;
}

const protocolOf = (p: PortSpec): 'tcp' | 'udp' => (p.protocol === 'UDP' ? 'udp' : 'tcp');

/** A port inside `pod` for port `p`: a number as it is, a name looked up among the pod's container ports. */
function portInPod(pod: V1Pod, wanted: number | string, p: PortSpec): Found<number> {
  return typeof wanted === 'number' ? { ok: true, value: wanted } : findContainerPort(pod.spec, wanted, protocolOf(p), podRef(pod));
}

/** A port's targetPort inside `pod`: its number, or the container port of that name (default: the port itself). */
function containerPorts(pod: V1Pod, p: PortSpec): Found<number> {
  return portInPod(pod, p.targetPort ?? p.port, p);
}

/** The resolution, once every port leads somewhere in the pod; else why one does not. */
function withPorts(pod: V1Pod, ports: readonly PortSpec[], inPod: (p: PortSpec) => Found<number>, chosenBy: string): TargetResolution {
  const numbers: number[] = [];
  for (const p of ports) {
    const found = inPod(p);
    if (!found.ok) {
      return {
        ok: false,
        reason: 'TargetPortNotFound',
        message: `Port ${p.port}/${p.protocol}: ${found.message}. Fix spec.ports' targetPort, or the target; the tunnel starts when every port resolves.`,
      };
    }
    numbers.push(found.value);
  }
  return resolved(pod, numbers, chosenBy);
}
