// Which pod a PortForward enters: the named pod, or one ready pod matching the selector; and
// whether the PortForward may reach into that namespace at all.
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import type { TargetSpec } from '../api/index.js';
import type { Reason } from './reasons.js';

/** Why a target does not resolve (the phase each means is in reasons.ts). */
export type TargetReason = Extract<Reason, 'TargetNotFound' | 'TargetNotRunning' | 'NoMatchingPod' | 'TargetUsesHostNetwork' | 'CrossNamespaceNotAllowed'>;
import { timeMs } from '../kube/time.js';
import type { ResolvedTarget } from '../api/index.js';
import { ANNOTATIONS } from '../resources/names.js';
import { formatSelector, matchesSelector } from './selector.js';
import { isPodReady, noExecuteTolerations } from '../kube/pods.js';

export type TargetResolution =
  | { ok: true; target: ResolvedTarget; pod: V1Pod }
  | { ok: false; reason: TargetReason; message: string };

export interface TargetLookup {
  namespace(name: string): V1Namespace | undefined;
  pod(namespace: string, name: string): V1Pod | undefined;
  pods(namespace: string): readonly V1Pod[];
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

function resolved(pod: V1Pod): { ok: true; target: ResolvedTarget; pod: V1Pod } {
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
 * Resolves the target of a PortForward in `pfNamespace`. `currentUid` is the pod the tunnel enters
 * now: a selector keeps it while it stays eligible, so a new matching pod does not move the tunnel.
 */
export function resolveTarget(
  pfNamespace: string,
  target: TargetSpec,
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
    return resolved(pod);
  }

  const selector = target.selector!;
  const matching = lookup.pods(namespace).filter((p) => matchesSelector(p.metadata?.labels, selector));
  const eligible = matching.filter((p) => isRunningOnNode(p) && isPodReady(p) && !usesHostNetwork(p));
  const current = currentUid ? eligible.find((p) => p.metadata?.uid === currentUid) : undefined;
  if (current) return resolved(current);
  const chosen = [...eligible].sort(byAgeThenName)[0];
  if (chosen) return resolved(chosen);

  const hostNetworked = matching.find((p) => usesHostNetwork(p) && isRunningOnNode(p));
  if (hostNetworked) return hostNetworkRefusal(hostNetworked);
  const notReady = matching.length ? ` (${matching.length} match but none is running and ready)` : '';
  return {
    ok: false,
    reason: 'NoMatchingPod',
    message: `No running, ready pod in namespace "${namespace}" matches ${formatSelector(selector)}${notReady}; the tunnel starts when one does.`,
  };
}
