// The writes the reconciler makes, behind a small interface: the real one talks to the API
// server; tests substitute an in-memory cluster. Deletes treat 404 as done (already gone).
import type { CoreV1Event, V1EndpointSlice, V1Endpoints, V1NetworkPolicy, V1Pod, V1Service } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type PortForward } from '../api/index.js';
import type { KubeClients } from './client.js';
import { isApiError } from './errors.js';

export interface KubeApi {
  listPods(namespace: string, labelSelector: string): Promise<V1Pod[]>;
  createPod(pod: V1Pod): Promise<V1Pod>;
  deletePod(namespace: string, name: string): Promise<void>;

  readService(namespace: string, name: string): Promise<V1Service | undefined>;
  createService(service: V1Service): Promise<V1Service>;
  replaceService(service: V1Service): Promise<V1Service>;
  deleteService(namespace: string, name: string): Promise<void>;

  readEndpointSlice(namespace: string, name: string): Promise<V1EndpointSlice | undefined>;
  createEndpointSlice(slice: V1EndpointSlice): Promise<V1EndpointSlice>;
  replaceEndpointSlice(slice: V1EndpointSlice): Promise<V1EndpointSlice>;
  deleteEndpointSlice(namespace: string, name: string): Promise<void>;

  listNetworkPolicies(namespace: string, labelSelector: string): Promise<V1NetworkPolicy[]>;
  createNetworkPolicy(policy: V1NetworkPolicy): Promise<V1NetworkPolicy>;
  replaceNetworkPolicy(policy: V1NetworkPolicy): Promise<V1NetworkPolicy>;
  deleteNetworkPolicy(namespace: string, name: string): Promise<void>;

  /** v1 Endpoints the operator wrote before it wrote EndpointSlices: found once at start, and deleted. */
  listLegacyEndpoints(labelSelector: string): Promise<V1Endpoints[]>;
  deleteEndpoints(namespace: string, name: string): Promise<void>;

  /** PUT of the whole object (metadata and spec): carries resourceVersion, so a stale write gets 409. */
  replacePortForward(pf: PortForward): Promise<PortForward>;
  /** PUT to the status subresource, also guarded by resourceVersion. */
  replacePortForwardStatus(pf: PortForward): Promise<PortForward>;
  /** Deletes only the object with this uid, not a namesake created since. */
  deletePortForward(namespace: string, name: string, uid: string): Promise<void>;

  createEvent(event: CoreV1Event): Promise<void>;
  /** Bumps an Event the operator wrote (its count); false when it is gone (Events expire). */
  replaceEvent(event: CoreV1Event): Promise<boolean>;
}

async function ignoreNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw err;
  }
}

function nameOf(obj: { metadata?: { namespace?: string; name?: string } }): { namespace: string; name: string } {
  const namespace = obj.metadata?.namespace;
  const name = obj.metadata?.name;
  if (!namespace || !name) throw new Error('object without namespace or name');
  return { namespace, name };
}

const CUSTOM = { group: GROUP, version: VERSION, plural: PLURAL } as const;

export function createKubeApi({ core, custom, discovery, networking }: KubeClients): KubeApi {
  return {
    listPods: async (namespace, labelSelector) => (await core.listNamespacedPod({ namespace, labelSelector })).items,
    createPod: (pod) => core.createNamespacedPod({ namespace: nameOf(pod).namespace, body: pod }),
    deletePod: async (namespace, name) => {
      await ignoreNotFound(core.deleteNamespacedPod({ namespace, name }));
    },

    readService: (namespace, name) => ignoreNotFound(core.readNamespacedService({ namespace, name })),
    createService: (service) => core.createNamespacedService({ namespace: nameOf(service).namespace, body: service }),
    replaceService: (service) => core.replaceNamespacedService({ ...nameOf(service), body: service }),
    deleteService: async (namespace, name) => {
      await ignoreNotFound(core.deleteNamespacedService({ namespace, name }));
    },

    readEndpointSlice: (namespace, name) => ignoreNotFound(discovery.readNamespacedEndpointSlice({ namespace, name })),
    createEndpointSlice: (slice) => discovery.createNamespacedEndpointSlice({ namespace: nameOf(slice).namespace, body: slice }),
    replaceEndpointSlice: (slice) => discovery.replaceNamespacedEndpointSlice({ ...nameOf(slice), body: slice }),
    deleteEndpointSlice: async (namespace, name) => {
      await ignoreNotFound(discovery.deleteNamespacedEndpointSlice({ namespace, name }));
    },

    listNetworkPolicies: async (namespace, labelSelector) => (await networking.listNamespacedNetworkPolicy({ namespace, labelSelector })).items,
    createNetworkPolicy: (policy) => networking.createNamespacedNetworkPolicy({ namespace: nameOf(policy).namespace, body: policy }),
    replaceNetworkPolicy: (policy) => networking.replaceNamespacedNetworkPolicy({ ...nameOf(policy), body: policy }),
    deleteNetworkPolicy: async (namespace, name) => {
      await ignoreNotFound(networking.deleteNamespacedNetworkPolicy({ namespace, name }));
    },

    listLegacyEndpoints: async (labelSelector) => (await core.listEndpointsForAllNamespaces({ labelSelector })).items,
    deleteEndpoints: async (namespace, name) => {
      await ignoreNotFound(core.deleteNamespacedEndpoints({ namespace, name }));
    },

    replacePortForward: (pf) => custom.replaceNamespacedCustomObject({ ...CUSTOM, ...nameOf(pf), body: pf }) as Promise<PortForward>,
    replacePortForwardStatus: (pf) =>
      custom.replaceNamespacedCustomObjectStatus({ ...CUSTOM, ...nameOf(pf), body: pf }) as Promise<PortForward>,
    deletePortForward: async (namespace, name, uid) => {
      await ignoreNotFound(
        custom.deleteNamespacedCustomObject({ ...CUSTOM, namespace, name, body: { preconditions: { uid } } }),
      );
    },

    createEvent: async (event) => {
      await core.createNamespacedEvent({ namespace: nameOf(event).namespace, body: event });
    },
    replaceEvent: async (event) => {
      try {
        await core.replaceNamespacedEvent({ ...nameOf(event), body: event });
        return true;
      } catch (err) {
        if (isApiError(err, 404)) return false;
        throw err;
      }
    },
  };
}
