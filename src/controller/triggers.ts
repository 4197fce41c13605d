// Which PortForwards an observed change concerns. Handlers only compute keys; the reconciler reads
// the current state itself.
import type { KubernetesObject, V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import { KIND, type PortForward, type WorkloadKind } from '../api/index.js';
import type { Store } from '../kube/resilient-informer.js';
import { canonical } from '../util/canonical.js';
import { ANNOTATIONS, LABELS, MANAGED_BY, shortHash } from '../resources/names.js';
import { keyOfPortForward, splitKey } from './keys.js';
import { readyCondition } from './status.js';


/** The target as written, read defensively: the spec may be invalid. */
function rawTarget(pf: PortForward): { namespace?: unknown; pod?: unknown; service?: unknown; workload?: { kind?: unknown; name?: unknown } } {
  const target = (pf.spec as { target?: unknown } | undefined)?.target;
  return typeof target === 'object' && target !== null ? (target as ReturnType<typeof rawTarget>) : {};
}

export function targetNamespaceOf(pf: PortForward): string {
  const ns = rawTarget(pf).namespace;
  return typeof ns === 'string' && ns !== '' ? ns : (pf.metadata.namespace ?? '');
}

/**
 * Which PortForwards point where, kept from PortForward events so that a pod event finds its
 * PortForwards directly instead of scanning them all: by target namespace (as written), by the
 * pod each one enters now (status.target.uid), and, for those waiting for a start slot, by node.
 */
export class PortForwardIndex {
  private readonly byNamespace = new Map<string, Set<string>>();
  private readonly byTargetUid = new Map<string, Set<string>>();
  private readonly queuedByNode = new Map<string, Set<string>>();
  private readonly byNode = new Map<string, Set<string>>();
  private readonly entries = new Map<string, { namespace: string; uid?: string; queuedOn?: string; node?: string }>();

  /** Indexes one PortForward as it is now; undefined when it is gone. */
  update(key: string, pf: PortForward | undefined): void {
    const old = this.entries.get(key);
    if (old) {
      remove(this.byNamespace, old.namespace, key);
      if (old.uid) remove(this.byTargetUid, old.uid, key);
      if (old.queuedOn) remove(this.queuedByNode, old.queuedOn, key);
      if (old.node) remove(this.byNode, old.node, key);
      this.entries.delete(key);
    }
    if (!pf) return;
    const ready = pf.status?.conditions?.find((c) => c.type === 'Ready');
    const entry = {
      namespace: targetNamespaceOf(pf),
      uid: pf.status?.target?.uid,
      queuedOn: ready?.reason === 'HelperQueued' ? pf.status?.target?.node : undefined,
      node: pf.status?.target?.node,
    };
    this.entries.set(key, entry);
    add(this.byNamespace, entry.namespace, key);
    if (entry.uid) add(this.byTargetUid, entry.uid, key);
    if (entry.queuedOn) add(this.queuedByNode, entry.queuedOn, key);
    if (entry.node) add(this.byNode, entry.node, key);
  }

  /** The PortForwards whose target pod runs on `node`. */
  onNode(node: string): string[] {
    return [...(this.byNode.get(node) ?? [])];
  }

  targetingNamespace(namespace: string): string[] {
    return [...(this.byNamespace.get(namespace) ?? [])];
  }

  entering(uid: string): string[] {
    return [...(this.byTargetUid.get(uid) ?? [])];
  }

  queuedOn(node: string): string[] {
    return [...(this.queuedByNode.get(node) ?? [])];
  }
}

function add(map: Map<string, Set<string>>, at: string, key: string): void {
  let set = map.get(at);
  if (!set) map.set(at, (set = new Set()));
  set.add(key);
}

function remove(map: Map<string, Set<string>>, at: string, key: string): void {
  const set = map.get(at);
  set?.delete(key);
  if (set?.size === 0) map.delete(at);
}

/**
 * A helper pod concerns its owner, and the PortForwards queued on its node (its start or its end
 * may free a start slot). Any other pod concerns the PortForwards that target its namespace: by
 * name when they name a pod, always when they select (labels may have changed), and whichever
 * currently enters it.
 */
export function keysForPod(pod: V1Pod, portForwards: Store<PortForward>, index: PortForwardIndex, helperNamespace: string): string[] {
  const labels = pod.metadata?.labels ?? {};
  if (pod.metadata?.namespace === helperNamespace && labels[LABELS.managedBy] === MANAGED_BY) {
    const owner = pod.metadata?.annotations?.[ANNOTATIONS.owner];
    const queued = pod.spec?.nodeName ? index.queuedOn(pod.spec.nodeName) : [];
    return [...new Set([...(owner ? [owner] : []), ...queued])];
  }
  const uid = pod.metadata?.uid;
  const entering = new Set(uid ? index.entering(uid) : []);
  const candidates = new Set([...entering, ...index.targetingNamespace(pod.metadata?.namespace ?? '')]);
  return [...candidates].filter((key) => {
    if (entering.has(key)) return true;
    const [namespace, name] = splitKey(key);
    const pf = portForwards.get(namespace, name);
    if (!pf) return false;
    const named = rawTarget(pf).pod;
    return typeof named !== 'string' || named === pod.metadata?.name;
  });
}

/**
 * A PortForward concerns itself and, once it is being deleted or gone, those of its namespace that
 * wait for room under MAX_HELPERS_PER_NAMESPACE: the next in line may now have a helper.
 */
export function keysForPortForward(pf: PortForward, portForwards: Store<PortForward>): string[] {
  const key = keyOfPortForward(pf);
  const namespace = pf.metadata.namespace ?? '';
  const gone = pf.metadata.deletionTimestamp !== undefined || !portForwards.get(namespace, pf.metadata.name ?? '');
  if (!gone) return [key];
  const waiting = portForwards
    .list(namespace)
    .filter((other) => readyCondition(other.status)?.reason === 'NamespaceLimitReached');
  return [key, ...waiting.map(keyOfPortForward)];
}

/**
 * An update that changed only status.connections (the connections poll's write) needs no pass. A
 * pass of a Ready PortForward checks traffic through its Service, which its helper counts as a
 * connection: the next poll would see a new count and write again, every poll, for ever. This
 * remembers each PortForward but for status.connections and what every write changes.
 */
export class ConnectionsOnlyUpdates {
  private readonly seen = new Map<string, { rest: string; connections: string }>();

  /** Notes the PortForward as it is now (undefined: gone); true when only its status.connections changed. */
  note(key: string, pf: PortForward | undefined): boolean {
    const before = this.seen.get(key);
    if (!pf) {
      this.seen.delete(key);
      return false;
    }
    const { connections, ...status } = pf.status ?? {};
    const { resourceVersion: _version, managedFields: _fields, ...metadata } = pf.metadata;
    const now = { rest: shortHash(canonical({ ...pf, metadata, status })), connections: shortHash(canonical(connections ?? null)) };
    this.seen.set(key, now);
    return before?.rest === now.rest && before.connections !== now.connections;
  }
}

/**
 * A Service or a workload concerns the PortForwards of its namespace that target it by name; a
 * ReplicaSet also those that target the Deployment controlling it (whose pods it owns).
 */
export function keysForTargetObject(kind: 'Service' | WorkloadKind, obj: KubernetesObject, portForwards: Store<PortForward>, index: PortForwardIndex): string[] {
  const namespace = obj.metadata?.namespace ?? '';
  const name = obj.metadata?.name;
  const deployment = kind === 'ReplicaSet' ? obj.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === 'Deployment')?.name : undefined;
  return index.targetingNamespace(namespace).filter((key) => {
    const [pfNamespace, pfName] = splitKey(key);
    const pf = portForwards.get(pfNamespace, pfName);
    if (!pf) return false;
    const target = rawTarget(pf);
    if (kind === 'Service') return target.service === name;
    return (target.workload?.kind === kind && target.workload.name === name) || (deployment !== undefined && target.workload?.kind === 'Deployment' && target.workload.name === deployment);
  });
}

/** A node concerns the PortForwards whose target runs on it (its readiness is in their status). */
export function keysForNode(node: V1Node, index: PortForwardIndex): string[] {
  return index.onNode(node.metadata?.name ?? '');
}

/** A Service or EndpointSlice concerns the PortForward that controls it (same namespace, by uid). */
export function keysForOwned(obj: KubernetesObject, portForwards: Store<PortForward>): string[] {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === KIND);
  if (!ref) return [];
  const owner = portForwards.list(obj.metadata?.namespace).find((pf) => pf.metadata.uid === ref.uid);
  return owner ? [keyOfPortForward(owner)] : [];
}

/** A helper's NetworkPolicy concerns the PortForward its owner annotation names. */
export function keysForOwnerAnnotation(obj: KubernetesObject): string[] {
  const owner = obj.metadata?.annotations?.[ANNOTATIONS.owner];
  return owner ? [owner] : [];
}

/** A namespace (its opt-in annotation) concerns the PortForwards reaching into it from elsewhere. */
export function keysForNamespace(namespace: V1Namespace, index: PortForwardIndex): string[] {
  const name = namespace.metadata?.name ?? '';
  return index.targetingNamespace(name).filter((key) => splitKey(key)[0] !== name);
}
