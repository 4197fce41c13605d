// An in-memory cluster for reconciler tests: stores the reconciler reads (as the informers would)
// and a KubeApi that writes into them with the API server's rules that matter here: uids,
// resourceVersion conflicts, 409 on create of an existing name, 404 on missing objects, finalizers
// holding a deleted PortForward, a clusterIP for new Services.
import type { CoreV1Event, KubernetesObject, V1EndpointSlice, V1Endpoints, V1Namespace, V1NetworkPolicy, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import type { PortForward, WorkloadKind } from '../../../src/api/index.js';
import type { Workload } from '../../../src/kube/workloads.js';
import type { KubeApi } from '../../../src/kube/api.js';
import type { Store } from '../../../src/kube/resilient-informer.js';
import type { ClusterCache } from '../../../src/kube/caches.js';

export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class MemoryStore<T extends KubernetesObject> implements Store<T> {
  readonly objects = new Map<string, T>();
  get(namespace: string, name: string): T | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }
  list(namespace?: string): readonly T[] {
    return [...this.objects.values()].filter((o) => namespace === undefined || o.metadata?.namespace === namespace);
  }
  put(obj: T): T {
    this.objects.set(`${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`, obj);
    return obj;
  }
  delete(namespace: string, name: string): boolean {
    return this.objects.delete(`${namespace}/${name}`);
  }
}

const clone = <T>(obj: T): T => structuredClone(obj);

function workloadStores(): Record<WorkloadKind, MemoryStore<Workload>> {
  return { Deployment: new MemoryStore(), StatefulSet: new MemoryStore(), DaemonSet: new MemoryStore(), ReplicaSet: new MemoryStore() };
}

export class FakeCluster implements ClusterCache {
  readonly portForwards = new MemoryStore<PortForward>();
  readonly pods = new MemoryStore<V1Pod>();
  readonly services = new MemoryStore<V1Service>();
  readonly endpointSlices = new MemoryStore<V1EndpointSlice>();
  /** v1 Endpoints an older operator version wrote. */
  readonly legacyEndpoints = new MemoryStore<V1Endpoints>();
  readonly namespaces = new MemoryStore<V1Namespace>();
  readonly networkPolicies = new MemoryStore<V1NetworkPolicy>();
  readonly targetServices = new MemoryStore<V1Service>();
  readonly workloads = workloadStores();
  readonly nodes = new MemoryStore<V1Node>();
  readonly events: CoreV1Event[] = [];
  /** Objects outside the operator's label filter: visible to reads, not to the caches. */
  readonly foreignServices = new MemoryStore<V1Service>();
  writes = 0;
  private counter = 0;
  private ipCounter = 10;

  nextVersion(): string {
    return String(++this.counter);
  }

  /** Stamps what the API server fills in on create. */
  admit<T extends KubernetesObject>(obj: T): T {
    const copy = clone(obj);
    copy.metadata = {
      ...copy.metadata,
      uid: copy.metadata?.uid ?? `uid-${copy.metadata?.name}-${this.counter + 1}`,
      resourceVersion: this.nextVersion(),
      creationTimestamp: copy.metadata?.creationTimestamp ?? new Date('2030-01-01T00:00:00Z'),
    };
    return copy;
  }

  addPortForward(pf: PortForward): PortForward {
    return this.portForwards.put(this.admit({ ...pf, metadata: { generation: 1, ...pf.metadata } }));
  }

  addNamespace(name: string, annotations?: Record<string, string>): void {
    this.namespaces.put({ metadata: { name, annotations } } as V1Namespace);
  }

  /** A pod, and its node (Ready) if the cluster does not know that node yet. */
  addPod(pod: V1Pod): V1Pod {
    const node = pod.spec?.nodeName;
    if (node && !this.nodes.get('', node)) this.addNode(node);
    return this.pods.put(this.admit(pod));
  }

  addNode(name: string, ready = true, unschedulable = false): void {
    this.nodes.put({ metadata: { name }, spec: { unschedulable }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'KubeletReady' : 'NodeStatusUnknown' }] } } as V1Node);
  }

  /** When set, a deleted pod lingers with a deletionTimestamp (terminating) until finishDeletions(). */
  gracefulPodDeletion = false;

  /** The kubelet finishing every terminating pod. */
  finishDeletions(): void {
    for (const pod of this.pods.list()) if (pod.metadata?.deletionTimestamp) this.pods.delete(pod.metadata.namespace!, pod.metadata.name!);
  }

  /** What the kubelet would do to a helper: schedule it, give it an IP, and report it ready (or not). */
  runHelper(name: string, namespace: string, ready: boolean): V1Pod {
    const pod = this.pods.get(namespace, name);
    if (!pod) throw new Error(`no helper ${namespace}/${name}`);
    const updated = this.pods.put({
      ...pod,
      metadata: { ...pod.metadata, resourceVersion: this.nextVersion() },
      status: {
        phase: 'Running',
        podIP: `10.0.0.${this.ipCounter++}`,
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
        containerStatuses: [
          {
            name: 'relay',
            image: 'helper',
            imageID: '',
            ready,
            restartCount: 0,
            state: { running: { startedAt: new Date('2030-01-01T00:00:00Z') } },
          },
        ],
      },
    });
    return updated;
  }

  pf(namespace: string, name: string): PortForward | undefined {
    return this.portForwards.get(namespace, name);
  }

  helpers(namespace = 'portforward-helpers'): V1Pod[] {
    return [...this.pods.list(namespace)];
  }

  private checkVersion(current: KubernetesObject | undefined, next: KubernetesObject): void {
    if (!current) throw new ApiError(404, 'not found');
    if (next.metadata?.resourceVersion !== current.metadata?.resourceVersion) throw new ApiError(409, 'the object has been modified');
  }

  private create<T extends KubernetesObject>(store: MemoryStore<T>, obj: T, also?: MemoryStore<T>): T {
    const { namespace = '', name = '' } = obj.metadata ?? {};
    if (store.get(namespace, name) || also?.get(namespace, name)) throw new ApiError(409, `${name} already exists`);
    if (!this.namespaces.get('', namespace)) throw new ApiError(404, `namespaces "${namespace}" not found`);
    this.writes++;
    return clone(store.put(this.admit(obj)));
  }

  private replace<T extends KubernetesObject>(store: MemoryStore<T>, obj: T): T {
    const { namespace = '', name = '' } = obj.metadata ?? {};
    this.checkVersion(store.get(namespace, name), obj);
    this.writes++;
    return clone(store.put({ ...clone(obj), metadata: { ...obj.metadata, resourceVersion: this.nextVersion() } }));
  }

  readonly api: KubeApi = {
    listPods: async (namespace, selector) => {
      const [key, value] = selector.split('=');
      return this.pods.list(namespace).filter((p) => p.metadata?.labels?.[key!] === value);
    },
    createPod: async (pod) => this.create(this.pods, pod),
    deletePod: async (namespace, name) => {
      this.writes++;
      const pod = this.pods.get(namespace, name);
      if (this.gracefulPodDeletion && pod) {
        if (!pod.metadata?.deletionTimestamp) {
          this.pods.put({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: new Date('2030-01-01T00:00:00Z'), resourceVersion: this.nextVersion() } });
        }
        return;
      }
      this.pods.delete(namespace, name);
    },
    readService: async (namespace, name) => this.services.get(namespace, name) ?? this.foreignServices.get(namespace, name),
    createService: async (service) => {
      const created = this.create(this.services, { ...service, spec: { ...service.spec, clusterIP: `10.96.0.${this.ipCounter++}` } }, this.foreignServices);
      return created;
    },
    replaceService: async (service) => this.replace(this.services, service),
    deleteService: async (namespace, name) => {
      this.writes++;
      this.services.delete(namespace, name);
    },
    readEndpointSlice: async (namespace, name) => this.endpointSlices.get(namespace, name),
    createEndpointSlice: async (slice) => this.create(this.endpointSlices, slice),
    replaceEndpointSlice: async (slice) => this.replace(this.endpointSlices, slice),
    deleteEndpointSlice: async (namespace, name) => {
      this.writes++;
      this.endpointSlices.delete(namespace, name);
    },
    listNetworkPolicies: async (namespace, selector) => {
      const [key, value] = selector.split('=');
      return this.networkPolicies.list(namespace).filter((p) => p.metadata?.labels?.[key!] === value);
    },
    createNetworkPolicy: async (policy) => this.create(this.networkPolicies, policy),
    replaceNetworkPolicy: async (policy) => this.replace(this.networkPolicies, policy),
    deleteNetworkPolicy: async (namespace, name) => {
      this.writes++;
      this.networkPolicies.delete(namespace, name);
    },
    listLegacyEndpoints: async (selector) => {
      const [key, value] = selector.split('=');
      return this.legacyEndpoints.list().filter((e) => e.metadata?.labels?.[key!] === value);
    },
    deleteEndpoints: async (namespace, name) => {
      this.writes++;
      this.legacyEndpoints.delete(namespace, name);
    },
    replacePortForward: async (pf) => {
      const current = this.portForwards.get(pf.metadata.namespace!, pf.metadata.name!);
      this.checkVersion(current, pf);
      this.writes++;
      // the main resource ignores status; an object being deleted goes once its finalizers are gone
      const next = { ...clone(pf), status: current!.status, metadata: { ...pf.metadata, resourceVersion: this.nextVersion() } };
      if (next.metadata.deletionTimestamp && !(next.metadata.finalizers ?? []).length) {
        this.portForwards.delete(pf.metadata.namespace!, pf.metadata.name!);
      } else this.portForwards.put(next);
      return clone(next);
    },
    replacePortForwardStatus: async (pf) => {
      const current = this.portForwards.get(pf.metadata.namespace!, pf.metadata.name!);
      this.checkVersion(current, pf);
      this.writes++;
      const next = { ...current!, status: clone(pf.status), metadata: { ...current!.metadata, resourceVersion: this.nextVersion() } };
      return clone(this.portForwards.put(next));
    },
    deletePortForward: async (namespace, name, uid) => {
      const current = this.portForwards.get(namespace, name);
      if (!current || current.metadata.uid !== uid) return;
      this.writes++;
      this.deletePortForwardNow(current);
    },
    createEvent: async (event) => {
      this.events.push(event);
    },
    replaceEvent: async (event) => {
      const i = this.events.findIndex((e) => e.metadata?.name === event.metadata?.name);
      if (i < 0) return false;
      this.events[i] = event;
      return true;
    },
  };

  /** kubectl delete: with finalizers the object stays, marked for deletion. */
  deletePortForwardNow(pf: PortForward): void {
    if ((pf.metadata.finalizers ?? []).length) {
      this.portForwards.put({
        ...pf,
        metadata: { ...pf.metadata, deletionTimestamp: new Date('2030-01-01T00:00:00Z'), resourceVersion: this.nextVersion() },
      });
    } else this.portForwards.delete(pf.metadata.namespace!, pf.metadata.name!);
  }
}

/**
 * The cluster as lagging informers show it: a snapshot of the FakeCluster's stores, refreshed only
 * by catchUp(). A reconciler reading this while writing through cluster.api meets what a real one
 * meets: its own writes not visible yet, 409 on creating what its cache lacks, stale versions.
 */
export class LaggingCache implements ClusterCache {
  readonly portForwards = new MemoryStore<PortForward>();
  readonly pods = new MemoryStore<V1Pod>();
  readonly services = new MemoryStore<V1Service>();
  readonly endpointSlices = new MemoryStore<V1EndpointSlice>();
  readonly namespaces = new MemoryStore<V1Namespace>();
  readonly networkPolicies = new MemoryStore<V1NetworkPolicy>();
  readonly targetServices = new MemoryStore<V1Service>();
  readonly workloads = workloadStores();
  readonly nodes = new MemoryStore<V1Node>();

  constructor(private readonly cluster: FakeCluster) {
    this.catchUp();
  }

  catchUp(): void {
    for (const kind of ['portForwards', 'pods', 'services', 'endpointSlices', 'namespaces', 'networkPolicies', 'targetServices', 'nodes'] as const) {
      const mine = this[kind].objects as Map<string, KubernetesObject>;
      mine.clear();
      for (const [key, obj] of this.cluster[kind].objects) mine.set(key, clone(obj));
    }
  }
}
