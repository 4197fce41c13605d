// The Service and EndpointSlice in front of the helper. They are the user's address for the tunnel,
// so they are kept (stable clusterIP) while the target comes and goes, updated only when their
// ports or addresses drifted, and never touched when someone else owns the name.
import type { V1EndpointSlice, V1OwnerReference, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { KIND, type Owner } from '../api/index.js';
import type { KubeApi } from '../kube/api.js';
import { isApiError } from '../kube/errors.js';
import type { Store } from '../kube/resilient-informer.js';
import { LABELS, MANAGED_BY } from '../resources/names.js';
import { canonical } from '../util/canonical.js';

type Child = V1Service | V1EndpointSlice;

export type SyncOutcome<T> =
  | { kind: 'synced'; object: T }
  | { kind: 'conflict'; message: string }
  /** Something is in flight (a leftover being deleted, a cache catching up): look again soon. */
  | { kind: 'retry' };

export function controllerOf(obj: Child): V1OwnerReference | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

export function isOwnedBy(obj: Child, uid: string): boolean {
  return controllerOf(obj)?.uid === uid;
}

/** Made by the operator for an earlier PortForward of the same name, deleted and re-created since. */
function isLeftover(obj: Child, owner: Owner): boolean {
  const ref = controllerOf(obj);
  return (
    obj.metadata?.labels?.[LABELS.managedBy] === MANAGED_BY && ref?.kind === KIND && ref.name === owner.name && ref.uid !== owner.uid
  );
}

function conflictMessage(kind: string, obj: Child, owner: Owner): string {
  const ref = controllerOf(obj);
  const by = ref ? ` (it belongs to ${ref.kind} ${ref.name})` : '';
  return (
    `A ${kind} named "${obj.metadata?.name}" already exists in namespace "${owner.namespace}" and is not managed by this ` +
    `PortForward${by}; the operator leaves it alone. Rename the PortForward or remove that ${kind}.`
  );
}

function servicePorts(ports: readonly V1ServicePort[] | undefined): unknown {
  return (ports ?? []).map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol ?? 'TCP' }));
}

/** What makes a Service reachable from outside the cluster or point elsewhere: never on ours. */
function exposure(service: V1Service): unknown {
  const spec = service.spec ?? {};
  return { type: spec.type ?? 'ClusterIP', externalIPs: spec.externalIPs ?? [], externalName: spec.externalName, loadBalancerIP: spec.loadBalancerIP };
}

/** Someone changed our Service's type or external addresses: only a new Service is surely plain again. */
export function serviceExposed(existing: V1Service, desired: V1Service): boolean {
  return canonical(exposure(existing)) !== canonical(exposure(desired));
}

export function serviceDrifted(existing: V1Service, desired: V1Service): boolean {
  return (
    canonical(servicePorts(existing.spec?.ports)) !== canonical(servicePorts(desired.spec?.ports)) ||
    canonical(existing.spec?.selector ?? {}) !== canonical(desired.spec?.selector ?? {}) ||
    serviceExposed(existing, desired)
  );
}

function sliceShape(slice: V1EndpointSlice): unknown {
  return {
    addressType: slice.addressType,
    endpoints: (slice.endpoints ?? []).map((e) => ({
      addresses: e.addresses,
      ready: e.conditions?.ready,
      serving: e.conditions?.serving,
      terminating: e.conditions?.terminating,
      nodeName: e.nodeName,
      targetRef: e.targetRef && { kind: e.targetRef.kind, name: e.targetRef.name, namespace: e.targetRef.namespace },
    })),
    ports: (slice.ports ?? []).map((p) => ({ name: p.name, port: p.port, protocol: p.protocol ?? 'TCP' })),
    labels: slice.metadata?.labels,
  };
}

export function endpointSliceDrifted(existing: V1EndpointSlice, desired: V1EndpointSlice): boolean {
  return canonical(sliceShape(existing)) !== canonical(sliceShape(desired));
}

interface ChildOps<T extends Child> {
  kind: string;
  cache: Store<T>;
  read(namespace: string, name: string): Promise<T | undefined>;
  create(obj: T): Promise<T>;
  replace(obj: T): Promise<T>;
  remove(namespace: string, name: string): Promise<void>;
  drifted(existing: T, desired: T): boolean;
  /** The existing object with the desired content, keeping what the API server filled in. */
  merge(existing: T, desired: T): T;
  /** A change the API server cannot make in place (an immutable field): delete, then create anew. */
  needsRecreate?(existing: T, desired: T): boolean;
  /** How ownership shows; by default a controller ownerReference to the PortForward. */
  ownership?: Ownership;
}

interface Ownership {
  owns(obj: Child, owner: Owner): boolean;
  isLeftover(obj: Child, owner: Owner): boolean;
}

const byOwnerReference: Ownership = { owns: (obj, owner) => isOwnedBy(obj, owner.uid), isLeftover };

/** In the operator's namespace no ownerReference can point at a PortForward: the label says whose it is. */
const byOwnerLabel: Ownership = {
  owns: (obj, owner) => obj.metadata?.labels?.[LABELS.ownerUid] === owner.uid,
  isLeftover: (obj, owner) =>
    obj.metadata?.labels?.[LABELS.managedBy] === MANAGED_BY && obj.metadata?.labels?.[LABELS.ownerUid] !== owner.uid,
};

async function syncChild<T extends Child>(ops: ChildOps<T>, owner: Owner, desired: T): Promise<SyncOutcome<T>> {
  const namespace = desired.metadata!.namespace!;
  const name = desired.metadata!.name!;
  // The caches only hold objects labelled as the operator's; anything else shows up as a 409 on create.
  let existing = ops.cache.get(namespace, name);
  if (!existing) {
    try {
      return { kind: 'synced', object: await ops.create(desired) };
    } catch (err) {
      if (!isApiError(err, 409)) throw err;
      existing = await ops.read(namespace, name);
      if (!existing) return { kind: 'retry' };
    }
  }
  const ownership = ops.ownership ?? byOwnerReference;
  if (ownership.isLeftover(existing, owner)) {
    await ops.remove(namespace, name);
    return { kind: 'retry' };
  }
  if (!ownership.owns(existing, owner)) return { kind: 'conflict', message: conflictMessage(ops.kind, existing, owner) };
  if (!ops.drifted(existing, desired)) return { kind: 'synced', object: existing };
  if (ops.needsRecreate?.(existing, desired)) {
    await ops.remove(namespace, name);
    return { kind: 'retry' };
  }
  return { kind: 'synced', object: await ops.replace(ops.merge(existing, desired)) };
}

function serviceOps(api: KubeApi, cache: Store<V1Service>): ChildOps<V1Service> {
  return {
    kind: 'Service',
    cache,
    read: (namespace, name) => api.readService(namespace, name),
    create: (obj) => api.createService(obj),
    replace: (obj) => api.replaceService(obj),
    remove: (namespace, name) => api.deleteService(namespace, name),
    drifted: serviceDrifted,
    merge: (existing, want) => ({ ...existing, spec: { ...existing.spec, ports: want.spec?.ports, selector: want.spec?.selector } }),
    // A NodePort or LoadBalancer Service carries fields a ClusterIP one may not: recreate rather than patch them out.
    needsRecreate: serviceExposed,
  };
}

export function syncService(api: KubeApi, cache: Store<V1Service>, owner: Owner, desired: V1Service): Promise<SyncOutcome<V1Service>> {
  return syncChild(serviceOps(api, cache), owner, desired);
}

export function syncEndpointSlice(
  api: KubeApi,
  cache: Store<V1EndpointSlice>,
  owner: Owner,
  desired: V1EndpointSlice,
): Promise<SyncOutcome<V1EndpointSlice>> {
  return syncChild(
    {
      kind: 'EndpointSlice',
      cache,
      read: (namespace, name) => api.readEndpointSlice(namespace, name),
      create: (obj) => api.createEndpointSlice(obj),
      replace: (obj) => api.replaceEndpointSlice(obj),
      remove: (namespace, name) => api.deleteEndpointSlice(namespace, name),
      drifted: endpointSliceDrifted,
      merge: (existing, want) => ({
        ...existing,
        metadata: { ...existing.metadata, labels: want.metadata?.labels },
        endpoints: want.endpoints,
        ports: want.ports,
      }),
      needsRecreate: (existing, want) => existing.addressType !== want.addressType, // addressType is immutable
    },
    owner,
    desired,
  );
}

/** On deletion: remove the Service and EndpointSlice only if they are this PortForward's. */
export async function deleteOwnedChildren(
  api: KubeApi,
  caches: { services: Store<V1Service>; endpointSlices: Store<V1EndpointSlice> },
  owner: Owner,
  name: string,
): Promise<void> {
  const service = caches.services.get(owner.namespace, name) ?? (await api.readService(owner.namespace, name));
  if (service && isOwnedBy(service, owner.uid)) await api.deleteService(owner.namespace, name);
  const slice = caches.endpointSlices.get(owner.namespace, name) ?? (await api.readEndpointSlice(owner.namespace, name));
  if (slice && isOwnedBy(slice, owner.uid)) await api.deleteEndpointSlice(owner.namespace, name);
}
