// The caches the operator reads from: PortForwards, pods (targets anywhere, helpers in the helpers'
// namespace), the Services, EndpointSlices and NetworkPolicies the operator made, and namespaces (the
// opt-in annotation).
import type { KubernetesListObject, V1EndpointSlice, V1Namespace, V1NetworkPolicy, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { GROUP, PLURAL, VERSION, type PortForward } from '../api/index.js';
import { LABELS, MANAGED_BY } from '../resources/names.js';
import type { KubeClients } from './client.js';
import { projectPod } from './pods.js';
import { ResilientInformer, type Store, type WatchedStore } from './resilient-informer.js';

type InformerLifecycle = Pick<ResilientInformer<PortForward>, 'resource' | 'synced' | 'hasSynced' | 'start' | 'stop'>;

const MANAGED = `${LABELS.managedBy}=${MANAGED_BY}`;

/** What the reconciler reads: plain stores, so tests can hand it in-memory ones. */
export interface ClusterCache {
  portForwards: Store<PortForward>;
  pods: Store<V1Pod>;
  services: Store<V1Service>;
  endpointSlices: Store<V1EndpointSlice>;
  namespaces: Store<V1Namespace>;
  networkPolicies: Store<V1NetworkPolicy>;
}

/** The caches as the controller sees them: each tells of its changes, and all fill together. */
export interface Informers extends ClusterCache {
  portForwards: WatchedStore<PortForward>;
  pods: WatchedStore<V1Pod>;
  services: WatchedStore<V1Service>;
  endpointSlices: WatchedStore<V1EndpointSlice>;
  namespaces: WatchedStore<V1Namespace>;
  networkPolicies: WatchedStore<V1NetworkPolicy>;
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
    () => core.listServiceForAllNamespaces({ labelSelector: MANAGED }),
    log,
    MANAGED,
  );
  const endpointSlices = new ResilientInformer<V1EndpointSlice>(
    'endpointslices',
    kubeConfig,
    '/apis/discovery.k8s.io/v1/endpointslices',
    () => discovery.listEndpointSliceForAllNamespaces({ labelSelector: MANAGED }),
    log,
    MANAGED,
  );
  const namespaces = new ResilientInformer<V1Namespace>('namespaces', kubeConfig, '/api/v1/namespaces', () => core.listNamespace(), log);

  // the helpers' policies, in the helpers' namespace only
  const networkPolicies = new ResilientInformer<V1NetworkPolicy>(
    'networkpolicies',
    kubeConfig,
    `/apis/networking.k8s.io/v1/namespaces/${helperNamespace}/networkpolicies`,
    () => networking.listNamespacedNetworkPolicy({ namespace: helperNamespace, labelSelector: MANAGED }),
    log,
    MANAGED,
  );

  const all: InformerLifecycle[] = [portForwards, pods, services, endpointSlices, namespaces, networkPolicies];
  return {
    portForwards,
    pods,
    services,
    endpointSlices,
    namespaces,
    networkPolicies,
    synced: Promise.all(all.map((i) => i.synced)).then(() => undefined),
    hasSynced: () => all.every((i) => i.hasSynced),
    start: () => all.forEach((i) => i.start()),
    stop: async () => {
      await Promise.all(all.map((i) => i.stop()));
    },
  };
}
