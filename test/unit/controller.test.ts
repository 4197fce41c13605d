// The controller: events become keys and keys become passes, only while this replica leads; at
// start it removes the v1 Endpoints earlier versions wrote; the resync sweeps orphaned helpers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubernetesObject, V1Endpoints, V1NetworkPolicy, V1Pod } from '@kubernetes/client-node';
import { Controller } from '../../src/controller/controller.js';
import { done } from '../../src/controller/result.js';
import type { Informers } from '../../src/kube/caches.js';
import type { ChangeHandler } from '../../src/kube/resilient-informer.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { LABELS, MANAGED_BY } from '../../src/resources/names.js';
import { FakeCluster, MemoryStore } from './support/fake-cluster.js';
import { HELPER_NAMESPACE, pod, portForward } from './support/fixtures.js';

/** A MemoryStore that tells of its changes, as an informer does. */
class WatchedMemoryStore<T extends KubernetesObject> extends MemoryStore<T> {
  private readonly handlers: ChangeHandler<T>[] = [];
  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }
  /** Stores the object and tells the handlers, as a watch event would. */
  emit(obj: T): void {
    this.put(obj);
    for (const h of this.handlers) h(obj);
  }
}

function setup() {
  const cluster = new FakeCluster();
  const informers = {
    portForwards: new WatchedMemoryStore(),
    pods: new WatchedMemoryStore<V1Pod>(),
    services: new WatchedMemoryStore(),
    endpointSlices: new WatchedMemoryStore(),
    namespaces: new WatchedMemoryStore(),
    networkPolicies: new WatchedMemoryStore<V1NetworkPolicy>(),
    targetServices: new WatchedMemoryStore(),
    workloads: { Deployment: new WatchedMemoryStore(), StatefulSet: new WatchedMemoryStore(), DaemonSet: new WatchedMemoryStore(), ReplicaSet: new WatchedMemoryStore() },
    nodes: new WatchedMemoryStore(),
    synced: Promise.resolve(),
    hasSynced: () => true,
    start: () => undefined,
    stop: async () => undefined,
  } as unknown as Informers & {
    portForwards: WatchedMemoryStore<ReturnType<typeof portForward>>;
    pods: WatchedMemoryStore<V1Pod>;
    networkPolicies: WatchedMemoryStore<V1NetworkPolicy>;
  };
  const passes: string[] = [];
  const metrics = new Metrics({ defaultMetrics: false });
  const controller = new Controller({
    informers,
    reconciler: { reconcile: async (key) => (passes.push(key), done) },
    api: cluster.api,
    metrics,
    log: silentLogger(),
    helperNamespace: HELPER_NAMESPACE,
    concurrency: 2,
    resyncSeconds: 3600,
  });
  return { cluster, informers, passes, controller, metrics };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('the controller', () => {
  it('turns events into passes only while it leads, and a pod event into a pass of the PortForward that names it', async () => {
    const { informers, passes, controller } = setup();
    const web = portForward('team-a', 'web', { target: { pod: 'nginx' }, ports: [{ port: 1 }] });
    informers.portForwards.emit(web); // a standby sees it, but does not reconcile
    await settle();
    assert.deepEqual(passes, []);

    await controller.start(); // the resync at start queues every PortForward
    await settle();
    assert.deepEqual(passes, ['team-a/web']);
    informers.pods.emit(pod('team-a', 'nginx'));
    informers.pods.emit(pod('team-a', 'another'));
    informers.pods.emit(pod('team-b', 'nginx'));
    await settle();
    assert.deepEqual(passes, ['team-a/web', 'team-a/web'], 'the named pod wakes it; another pod, or a namesake elsewhere, does not');
    await controller.stop();
    informers.portForwards.emit(web);
    await settle();
    assert.equal(passes.length, 2, 'nothing after stop');
  });

  it("makes no pass for an update of status.connections alone (the poll's write), and one for any other change", async () => {
    const { informers, passes, controller } = setup();
    const web = { ...portForward('team-a', 'web', { target: { pod: 'nginx' }, ports: [{ port: 1 }] }), status: { phase: 'Ready' as const } };
    await controller.start();
    await settle();
    passes.length = 0;
    const version = (v: string, status: object) => ({ ...web, metadata: { ...web.metadata, resourceVersion: v, managedFields: [{ time: v as unknown as Date }] }, status: { ...web.status, ...status } });
    informers.portForwards.emit(version('1', {}));
    await settle();
    informers.portForwards.emit(version('2', { connections: { active: 0, total: 1, failed: 0 } }));
    informers.portForwards.emit(version('3', { connections: { active: 1, total: 2, failed: 0 } }));
    await settle();
    assert.deepEqual(passes, ['team-a/web'], 'the first event, and none for the two polls');
    informers.portForwards.emit(version('4', { phase: 'Pending', connections: { active: 1, total: 2, failed: 0 } }));
    informers.portForwards.emit(version('5', { phase: 'Pending', connections: { active: 1, total: 2, failed: 0 } }));
    await settle();
    assert.deepEqual(passes, ['team-a/web', 'team-a/web', 'team-a/web'], 'a status change, and an update that changed nothing, each make one');
    await controller.stop();
  });

  it("removes at start the v1 Endpoints an earlier version wrote, and not the endpoints controller's", async () => {
    const { cluster, controller } = setup();
    const labels = { [LABELS.managedBy]: MANAGED_BY };
    const legacy: V1Endpoints = { metadata: { namespace: 'team-a', name: 'pf-web', labels, ownerReferences: [{ apiVersion: 'portforward.io/v1alpha1', kind: 'PortForward', name: 'web', uid: 'u', controller: true }] } };
    // the endpoints controller copies a selector Service's labels, ours included, onto its Endpoints
    const controllers: V1Endpoints = { metadata: { namespace: HELPER_NAMESPACE, name: 'pf-team-a-web-1234', labels } };
    cluster.legacyEndpoints.put(legacy);
    cluster.legacyEndpoints.put(controllers);
    await controller.start();
    await controller.stop();
    assert.deepEqual(cluster.legacyEndpoints.list().map((e) => e.metadata!.name), ['pf-team-a-web-1234']);
  });

  it('sweeps helpers and their NetworkPolicies whose PortForward is gone at each resync', async () => {
    const { cluster, informers, controller } = setup();
    const orphan = pod(HELPER_NAMESPACE, 'pf-gone-1234');
    orphan.metadata!.labels = { [LABELS.managedBy]: MANAGED_BY, [LABELS.ownerUid]: 'no-such-portforward' };
    informers.pods.emit(orphan);
    cluster.pods.put(orphan);
    const policy: V1NetworkPolicy = { metadata: { name: 'pf-no-such-portforward', namespace: HELPER_NAMESPACE, labels: orphan.metadata!.labels } };
    informers.networkPolicies.emit(policy);
    cluster.networkPolicies.put(policy);
    await controller.start();
    await controller.stop();
    assert.deepEqual(cluster.pods.list().map((p) => p.metadata!.name), [], 'the orphan was deleted');
    assert.deepEqual(cluster.networkPolicies.list(), [], 'and its policy');
  });

  it('counts PortForwards by namespace and phase for portforward_resources, every phase of a namespace present', async () => {
    const { informers, metrics } = setup();
    const withPhase = (ns: string, name: string, phase?: 'Ready' | 'Pending') => ({ ...portForward(ns, name, {}), ...(phase ? { status: { phase } } : {}) });
    informers.portForwards.emit(withPhase('team-a', 'one', 'Ready'));
    informers.portForwards.emit(withPhase('team-a', 'two', 'Ready'));
    informers.portForwards.emit(withPhase('team-a', 'three', 'Pending'));
    informers.portForwards.emit(withPhase('team-b', 'new'));
    const samples = (await metrics.registry.getSingleMetric('portforward_resources')!.get()).values
      .filter((v) => v.value > 0 || v.labels.namespace === 'team-b')
      .map((v) => `${v.labels.namespace}/${v.labels.phase}=${v.value}`)
      .sort();
    assert.deepEqual(samples, ['team-a/Pending=1', 'team-a/Ready=2', 'team-b/Expired=0', 'team-b/Failed=0', 'team-b/Pending=0', 'team-b/Ready=0', 'team-b/Unknown=1']);
    informers.portForwards.delete('team-b', 'new');
    const namespaces = new Set((await metrics.registry.getSingleMetric('portforward_resources')!.get()).values.map((v) => v.labels.namespace));
    assert.deepEqual([...namespaces], ['team-a'], 'a namespace without PortForwards has no series');
  });
});
