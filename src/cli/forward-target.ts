// What `kubectl pf forward TARGET PORT...` means, as kubectl port-forward means it. Pure: the
// reading of TARGET, a Service port mapped to its targetPort, a container port found by name, a
// workload's selector, and the ports and name of the PortForward that forward creates.
import type { V1LabelSelector, V1Pod, V1PodSpec, V1Service } from '@kubernetes/client-node';
import { DNS_SUBDOMAIN, type LabelSelector, type WorkloadKind } from '../api/index.js';
export type { WorkloadKind } from '../api/index.js';
export type { ServicePortMatch } from '../kube/named-ports.js';
import { formatSelector, fromKubeSelector } from '../controller/selector.js';
import { findContainerPort, findServicePort, type Found, type ServicePortMatch } from '../kube/named-ports.js';
import { isPodReady } from '../kube/pods.js';
import type { TunnelProtocol } from '../tunnel/protocol.js';
import { UsageError } from './args.js';
import { parseSelector } from './create.js';
import type { ForwardedPort, TargetForwardPort, TunnelPort } from './ports.js';


export type ForwardTarget =
  | { kind: 'pod'; name: string }
  | { kind: 'service'; name: string }
  | { kind: 'workload'; workload: WorkloadKind; name: string }
  | { kind: 'selector'; selector: LabelSelector };

const KINDS: Record<string, { kind: 'pod' | 'service' } | { kind: 'workload'; workload: WorkloadKind }> = {};
for (const word of ['po', 'pod', 'pods']) KINDS[word] = { kind: 'pod' };
for (const word of ['svc', 'service', 'services']) KINDS[word] = { kind: 'service' };
for (const [workload, words] of [
  ['Deployment', ['deploy', 'deployment', 'deployments']],
  ['StatefulSet', ['sts', 'statefulset', 'statefulsets']],
  ['DaemonSet', ['ds', 'daemonset', 'daemonsets']],
  ['ReplicaSet', ['rs', 'replicaset', 'replicasets']],
] as const) {
  // kubectl also takes the group: deployment.apps/web
  for (const word of words) KINDS[word] = KINDS[`${word}.apps`] = { kind: 'workload', workload };
}

const TARGET_SYNTAX = 'pod/NAME, svc/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME, or -l KEY=VALUE';

/**
 * forward's arguments: TARGET then ports, or with -l only ports. TARGET (`svc/web`, `deploy/api`,
 * a bare pod name) and -l are exclusive; a first argument like `svc/web` beside -l is refused
 * rather than read as a port.
 */
export function parseForwardArgs(positionals: readonly string[], selector: string | undefined): { target: ForwardTarget; portArgs: string[] } {
  if (selector !== undefined) {
    const first = positionals[0];
    if (first !== undefined && /\//.test(first) && !/\/(tcp|udp)$/i.test(first)) throw new UsageError('give TARGET or -l/--selector, not both');
    return { target: { kind: 'selector', selector: { matchLabels: parseSelector(selector) } }, portArgs: [...positionals] };
  }
  const [text, ...portArgs] = positionals;
  if (text === undefined) throw new UsageError(`TARGET is required: kubectl pf forward TARGET [LOCAL:]REMOTE ..., TARGET one of ${TARGET_SYNTAX}`);
  return { target: parseTarget(text), portArgs };
}

/** TARGET: `svc/web`, `deployment.apps/api`, `pod/nginx` or a bare pod name. */
export function parseTarget(t: string): ForwardTarget {
  const slash = t.indexOf('/');
  const word = slash === -1 ? 'pod' : t.slice(0, slash).toLowerCase();
  const name = slash === -1 ? t : t.slice(slash + 1);
  const kind = KINDS[word];
  if (!kind) throw new UsageError(`invalid TARGET "${t}": "${t.slice(0, slash)}" is not a kind forward knows; use ${TARGET_SYNTAX}`);
  if (!name || name.length > 253 || !new RegExp(DNS_SUBDOMAIN).test(name)) {
    throw new UsageError(`invalid TARGET "${t}": "${name}" is not a valid name; use ${TARGET_SYNTAX}`);
  }
  return kind.kind === 'workload' ? { kind: 'workload', workload: kind.workload, name } : { kind: kind.kind, name };
}

/** How kubectl names the target in messages: pod/web, service/web, deployment/web. */
export function targetRef(t: ForwardTarget): string {
  if (t.kind === 'selector') return `pods with ${formatSelector(t.selector)}`;
  return `${t.kind === 'workload' ? t.workload.toLowerCase() : t.kind}/${t.name}`;
}

/** A Found value, or the user's error to fix (exit 2). */
function orUsageError<T>(found: Found<T>): T {
  if (!found.ok) throw new UsageError(found.message);
  return found.value;
}

/** The Service port REMOTE names (its number or name, and protocol), and where it points in the pods. */
export function servicePort(svc: V1Service, remote: number | string, protocol: TunnelProtocol): ServicePortMatch {
  return orUsageError(findServicePort(svc, remote, protocol));
}

/** A container port by name (a pod's, or a workload's pod template), as kubectl looks it up. */
export function containerPortByName(spec: V1PodSpec | undefined, name: string, protocol: TunnelProtocol, where: string): number {
  return orUsageError(findContainerPort(spec, name, protocol, where));
}

/** A workload's selector (or a Service's, as matchLabels) in the PortForward's form; empty parts dropped. */
export function selectorOf(s: V1LabelSelector | undefined, where: string): LabelSelector {
  const selector = fromKubeSelector(s);
  if (!selector) throw new UsageError(`${where} has no selector, so it names no pods to forward to; forward one of its pods instead`);
  return selector;
}

/** The pod kubectl would pick to read container ports from: running and ready, the first by name. */
export function pickPod(pods: readonly V1Pod[]): V1Pod | undefined {
  const live = pods.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
  const byName = (a: V1Pod, b: V1Pod): number => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
  return live.filter(isPodReady).sort(byName)[0] ?? [...live].sort(byName)[0];
}

/** A requested port, once REMOTE is a number inside the target: the local port kubectl would listen on. */
export function forwardedPort(requested: TargetForwardPort, targetPort: number, localDefault: number): ForwardedPort {
  return { local: requested.local ?? localDefault, remote: targetPort, protocol: requested.protocol };
}

/**
 * The PortForward's ports: one per target port and protocol, listening on that same number (for a
 * Service target, its targetPort is the Service port that leads there: the operator maps it again).
 */
export function tunnelPorts(forwards: readonly ForwardedPort[]): TunnelPort[] {
  const seen = new Set<string>();
  const ports: TunnelPort[] = [];
  for (const f of forwards) {
    const key = `${f.remote}/${f.protocol}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const protocol = f.protocol === 'udp' ? 'UDP' : 'TCP';
    ports.push(f.servicePort !== undefined && f.servicePort !== f.remote ? { port: f.remote, targetPort: f.servicePort, protocol } : { port: f.remote, protocol });
  }
  return ports;
}

/** generateName of the PortForward: forward-<target name>-, short enough for the names derived from it. */
export function generateNameFor(t: ForwardTarget): string {
  const base = t.kind === 'selector' ? 'selector' : t.name.replace(/[^a-z0-9-]/g, '-').slice(0, 40).replace(/-+$/, '');
  return `forward-${base}-`;
}
