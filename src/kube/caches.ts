// The caches the operator reads from: PortForwards, pods (targets anywhere, helpers in the helpers'
// namespace), the Services, EndpointSlices and NetworkPolicies the operator made, namespaces (the
// opt-in annotation), and what targets are resolved through: every Service and workload (projected
// to their selectors and ports) and the nodes (whether a target's node is Ready).
import type { KubernetesListObject, V1EndpointSlice, V1Namespace, V1NetworkPolicy, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { WORKLOAD_KINDS, type WorkloadKind } from '../api/index.js';
import type { Logger } from 'winston';
import { GROUP, PLURAL, VERSION, type PortForward } from '../api/index.js';
import { MANAGED_SELECTOR } from '../resources/names.js';
import type { KubeClients } from './client.js';
import { projectPod } from './pods.js';
import { ResilientInformer, type Store, type WatchedStore } from './resilient-informer.js';
import { WORKLOAD_PLURALS, projectWorkload, type Workload } from './workloads.js';

type InformerLifecycle = Pick<ResilientInformer<PortForward>, 'resource' | 'synced' | 'hasSynced' | 'start' | 'stop'>;


/** What the reconciler reads: plain stores, so tests can hand it in-memory ones. */
export interface ClusterCache {
  portForwards: Store<PortForward>;
  pods: Store<V1Pod>;
  services: Store<V1Service>;
  endpointSlices: Store<V1EndpointSlice>;
  namespaces: Store<V1Namespace>;
  networkPolicies: Store<V1NetworkPolicy>;
  /** Every Service (selector and ports only): what a service target resolves through. */
  targetServices: Store<V1Service>;
  workloads: Record<WorkloadKind, Store<Workload>>;
  nodes: Store<V1Node>;
}

/** The caches as the controller sees them: each tells of its changes, and all fill together. */
export interface Informers extends ClusterCache {
  portForwards: WatchedStore<PortForward>;
  pods: WatchedStore<V1Pod>;
  services: WatchedStore<V1Service>;
  endpointSlices: WatchedStore<V1EndpointSlice>;
  namespaces: WatchedStore<V1Namespace>;
  networkPolicies: WatchedStore<V1NetworkPolicy>;
  targetServices: WatchedStore<V1Service>;
  workloads: Record<WorkloadKind, WatchedStore<Workload>>;
  nodes: WatchedStore<V1Node>;
  synced: Promise<void>;
  hasSynced(): boolean;
  start(): void;
  stop(): Promise<void>;
}

export function createInformers({ kubeConfig, core, custom, discovery, networking }: KubeClients, helperNamespace: string, log: Logger): Informers {
  const portForwards = new ResilientInformer<PortForward>(
    'portforwards',
    kubeConfig,
    `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    () => custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }) as Promise<KubernetesListObject<PortForward>>,
    log,
  );
  // every pod of the cluster (targets may be anywhere): cached projected to the fields the operator reads
  const pods = new ResilientInformer<V1Pod>('pods', kubeConfig, '/api/v1/pods', () => core.listPodForAllNamespaces(), log, undefined, projectPod);
  const services = new ResilientInformer<V1Service>(
    'services',
    kubeConfig,
    '/api/v1/services',
    () => core.listServiceForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
    log,
    MANAGED_SELECTOR,
  );
  const endpointSlices = new ResilientInformer<V1EndpointSlice>(
    'endpointslices',
    kubeConfig,
    '/apis/discovery.k8s.io/v1/endpointslices',
    () => discovery.listEndpointSliceForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
    log,
    MANAGED_SELECTOR,
  );
  const namespaces = new ResilientInformer<V1Namespace>('namespaces', kubeConfig, '/api/v1/namespaces', () => core.listNamespace(), log);

  // the helpers' policies, in the helpers' namespace only
  const networkPolicies = new ResilientInformer<V1NetworkPolicy>(
    'networkpolicies',
    kubeConfig,
    `/apis/networking.k8s.io/v1/namespaces/${helperNamespace}/networkpolicies`,
    () => networking.listNamespacedNetworkPolicy({ namespace: helperNamespace, labelSelector: MANAGED_SELECTOR }),
    log,
    MANAGED_SELECTOR,
  );

  const targetServices = new ResilientInformer<V1Service>(
    'target-services',
    kubeConfig,
    '/api/v1/services',
    () => core.listServiceForAllNamespaces(),
    log,
    undefined,
    projectService,
  );
  const workloads = Object.fromEntries(
    WORKLOAD_KINDS.map((kind) => {
      const plural = WORKLOAD_PLURALS[kind];
      const list = () => custom.listClusterCustomObject({ group: 'apps', version: 'v1', plural }) as Promise<KubernetesListObject<Workload>>;
      return [kind, new ResilientInformer<Workload>(plural, kubeConfig, `/apis/apps/v1/${plural}`, list, log, undefined, projectWorkload)];
    }),
  ) as Record<WorkloadKind, ResilientInformer<Workload>>;
  const nodes = new ResilientInformer<V1Node>('nodes', kubeConfig, '/api/v1/nodes', () => core.listNode(), log, undefined, projectNode);

  const all: InformerLifecycle[] = [portForwards, pods, services, endpointSlices, namespaces, networkPolicies, targetServices, ...Object.values(workloads), nodes];
  return {
    portForwards,
    pods,
    services,
    endpointSlices,
    namespaces,
    networkPolicies,
    targetServices,
    workloads,
    nodes,
    synced: Promise.all(all.map((i) => i.synced)).then(() => undefined),
    hasSynced: () => all.every((i) => i.hasSynced),
    start: () => all.forEach((i) => i.start()),
    stop: async () => {
      await Promise.all(all.map((i) => i.stop()));
    },
  };
}

/** A Service as target resolution reads it: its selector and ports. */
export function projectService(svc: V1Service): V1Service {
  const m = svc.metadata ?? {};
  return {
    apiVersion: svc.apiVersion,
    kind: svc.kind,
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion },
    spec: { selector: svc.spec?.selector, ports: svc.spec?.ports?.map((p) => ({ name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol })) },
  };
}

/** A node as status reads it: whether it is Ready and whether it takes new pods. */
export function projectNode(node: V1Node): V1Node {
  const m = node.metadata ?? {};
  return {
    apiVersion: node.apiVersion,
    kind: node.kind,
    metadata: { name: m.name, uid: m.uid, resourceVersion: m.resourceVersion },
    spec: { unschedulable: node.spec?.unschedulable },
    status: { conditions: node.status?.conditions?.filter((c) => c.type === 'Ready').map((c) => ({ type: c.type, status: c.status, reason: c.reason, lastTransitionTime: c.lastTransitionTime })) },
  };
}
