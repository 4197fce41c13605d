// The operator's behaviour as a user sees it, against an in-memory cluster: what exists after a
// pass, and what the PortForward's status and Events say.
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { PortForward } from '../../src/api/index.js';
import { EventRecorder } from '../../src/controller/events.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import type { Result } from '../../src/controller/result.js';
import { readyCondition } from '../../src/controller/status.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ANNOTATIONS, LABELS } from '../../src/resources/names.js';
import { LEGACY_FINALIZER } from '../../src/controller/finalizer.js';
import { startingHelpersOn } from '../../src/controller/helper-plan.js';
import { keysForPortForward } from '../../src/controller/triggers.js';
import { FakeCluster, LaggingCache } from './support/fake-cluster.js';
import { FakeProbe } from './support/fake-probe.js';
import { projectPod } from '../../src/kube/pods.js';
import { HELPER_NAMESPACE, config, pod, portForward, validSpec } from './support/fixtures.js';

const log = silentLogger();
const NOW = Date.parse('2030-01-01T00:00:10Z');

let cluster: FakeCluster;
let reconciler: Reconciler;
let probe: FakeProbe;
let clock = NOW; // tests that need time to pass move it

function setup(overrides: Partial<typeof config> = {}, now = NOW): void {
  clock = now;
  cluster = new FakeCluster();
  cluster.addNamespace('team-a');
  cluster.addNamespace(HELPER_NAMESPACE);
  probe = new FakeProbe();
  reconciler = new Reconciler({
    config: { ...config, ...overrides },
    cache: cluster,
    api: cluster.api,
    events: new EventRecorder(cluster.api, 'test', () => new Date(clock)),
    probe,
    now: () => clock,
  });
}

const reconcile = (key: string): Promise<Result> => reconciler.reconcile(key, log);

function status(name = 'web', namespace = 'team-a') {
  const pf = cluster.pf(namespace, name);
  assert.ok(pf, `PortForward ${namespace}/${name} exists`);
  return { pf, status: pf.status, ready: readyCondition(pf.status) };
}

function eventReasons(): string[] {
  return cluster.events.map((e) => e.reason!);
}

const webSpec = { target: { pod: 'nginx' }, ports: [{ port: 10080, targetPort: 80 }] };

describe('a PortForward to a pod that listens on localhost', () => {
  beforeEach(() => {
    setup();
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    cluster.addPortForward(portForward('team-a', 'web', webSpec));
  });

  it('gets a helper pinned to the pod\'s node, a Service, and says it is starting', async () => {
    await reconcile('team-a/web');

    const [helper, ...others] = cluster.helpers();
    assert.equal(others.length, 0, 'exactly one helper');
    assert.equal(helper!.spec!.nodeName, 'node-1');
    const { pf, status: s, ready } = status();
    assert.deepEqual(pf.metadata.finalizers ?? [], [], 'no finalizer: deleting it never waits for the operator');
    assert.equal(s?.phase, 'Pending');
    assert.equal(ready?.reason, 'HelperStarting');
    assert.equal(s?.ports, '10080->80/TCP');
    assert.deepEqual(s?.target, { namespace: 'team-a', pod: 'nginx', uid: 'uid-team-a-nginx', node: 'node-1', chosenBy: 'named in spec.target.pod' });
    const service = cluster.services.get('team-a', 'pf-web');
    assert.deepEqual(service?.spec?.ports?.map((p) => p.port), [10080]);
    assert.equal(s?.service?.clusterIP, service?.spec?.clusterIP);
  });

  it('becomes Ready once the helper is ready, with the ways to reach it', async () => {
    await reconcile('team-a/web');
    const helper = cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    await reconcile('team-a/web');

    const { status: s, ready } = status();
    assert.equal(s?.phase, 'Ready');
    assert.equal(ready?.status, 'True');
    assert.match(ready!.message, /pf-web\.team-a\.svc:10080 reaches pod team-a\/nginx on node node-1/);
    assert.deepEqual(s?.access?.inCluster, ['pf-web.team-a.svc:10080']);
    assert.deepEqual(s?.access?.apiServerProxy, ['/apis/connect.portforward.io/v1alpha1/namespaces/team-a/portforwards/web/proxy/10080/']);
    assert.equal(s?.access?.connectCommand, 'kubectl pf connect -n team-a web 10080');
    const slice = cluster.endpointSlices.get('team-a', 'pf-web');
    assert.deepEqual(slice?.endpoints?.[0]?.addresses, [helper.status!.podIP]);
    assert.equal(slice?.endpoints?.[0]?.conditions?.ready, true);
    assert.deepEqual(eventReasons(), ['HelperCreated', 'HelperStarting', 'Ready']);
  });

  it('with READY_SETTLE_MS, turns Ready only once the new endpoint has been published that long, for the other nodes; a restarted operator does not wait again', async () => {
    setup({ readySettleMs: 2000 });
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    cluster.addPortForward(portForward('team-a', 'web', webSpec));
    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    const first = await reconcile('team-a/web');
    assert.equal(status().ready?.reason, 'WaitingForService');
    assert.match(status().ready!.message, /waiting 2000 ms more for the other nodes' kube-proxy/);
    assert.equal(cluster.endpointSlices.get('team-a', 'pf-web')?.endpoints?.[0]?.conditions?.ready, true, 'published meanwhile');
    assert.deepEqual(first, { kind: 'requeueAfter', ms: 2000 });
    clock += 1500;
    assert.deepEqual(await reconcile('team-a/web'), { kind: 'requeueAfter', ms: 500 });
    clock += 500;
    await reconcile('team-a/web');
    assert.equal(status().status?.phase, 'Ready');

    // A new operator (no memory) meets the PortForward Ready with this helper: no new wait.
    reconciler = new Reconciler({ config: { ...config, readySettleMs: 2000 }, cache: cluster, api: cluster.api, events: new EventRecorder(cluster.api, 'test', () => new Date(clock)), probe, now: () => clock });
    await reconcile('team-a/web');
    assert.equal(status().status?.phase, 'Ready');
  });

  it('is Ready only once a connection through the Service reaches the helper', async () => {
    await reconcile('team-a/web');
    const helper = cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    probe.routes = false; // kube-proxy has not programmed the endpoint yet
    const waiting = await reconcile('team-a/web');

    const clusterIP = cluster.services.get('team-a', 'pf-web')!.spec!.clusterIP;
    assert.deepEqual(probe.asked, [`ports ${helper.status!.podIP}:9901`, `connect ${clusterIP}:10080`]);
    assert.equal(status().status?.phase, 'Pending');
    assert.equal(status().ready?.reason, 'WaitingForService');
    assert.match(status().ready!.message, new RegExp(`${clusterIP}:10080 does not reach it yet`));
    assert.deepEqual(waiting, { kind: 'requeueAfter', ms: 250 }, 'it looks again soon, with no event to wait for');

    probe.routes = true;
    await reconcile('team-a/web');
    assert.equal(status().status?.phase, 'Ready');
  });

  it('says which port in which pod is closed, and turns Ready once something listens there', async () => {
    setup();
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    const spec = { target: { pod: 'nginx' }, ports: [{ port: 10080, targetPort: 80 }, { port: 10053, targetPort: 53, protocol: 'UDP' }] };
    cluster.addPortForward(portForward('team-a', 'web', spec));
    probe.spec = validSpec(spec);
    probe.closed.add(80);
    probe.closed.add(53); // UDP: reported by the helper, but it does not gate Ready
    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    const closed = await reconcile('team-a/web');

    const { status: s, ready } = status();
    assert.equal(s?.phase, 'Pending');
    assert.equal(ready?.reason, 'TargetPortClosed');
    assert.match(ready!.message, /Nothing in pod team-a\/nginx listens on port 80\/TCP \(tunnel port 10080\)/);
    assert.doesNotMatch(ready!.message, /53\/UDP/, 'the UDP port is not named');
    assert.deepEqual(closed, { kind: 'requeueAfter', ms: 5000 });
    assert.ok(eventReasons().includes('TargetPortClosed'));
    assert.equal(cluster.events.find((e) => e.reason === 'TargetPortClosed')?.type, 'Warning');

    probe.closed.delete(80);
    await reconcile('team-a/web');
    assert.equal(status().status?.phase, 'Ready', 'Ready once TCP port 80 listens, the UDP port still unbound');
  });

  it('says so when the helper does not answer the check, and trusts helper readiness alone when told to', async () => {
    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    probe.answers = false;
    await reconcile('team-a/web');
    assert.equal(status().ready?.reason, 'TunnelCheckFailed');
    assert.match(status().ready!.message, /ECONNREFUSED/);

    setup({ readyCheck: 'helper' });
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    cluster.addPortForward(portForward('team-a', 'web', webSpec));
    probe.answers = false;
    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    await reconcile('team-a/web');
    assert.equal(status().status?.phase, 'Ready');
    assert.deepEqual(probe.asked, []);
  });

  it('lists the helper as not ready in the EndpointSlice until its relay answers', async () => {
    await reconcile('team-a/web');
    probe.answers = false; // the container runs, its relay does not listen yet
    const helper = cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, false);
    await reconcile('team-a/web');
    const endpoint = cluster.endpointSlices.get('team-a', 'pf-web')?.endpoints?.[0];
    assert.deepEqual(endpoint?.addresses, [helper.status!.podIP]);
    assert.equal(endpoint?.conditions?.ready, false);
    assert.equal(status().status?.phase, 'Pending');
    assert.equal(status().ready?.reason, 'HelperStarting');
  });

  it("lists the helper as ready once its relay answers, before the kubelet's readiness probe says so", async () => {
    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, false);
    await reconcile('team-a/web');
    assert.equal(cluster.endpointSlices.get('team-a', 'pf-web')?.endpoints?.[0]?.conditions?.ready, true);
    assert.equal(status().status?.phase, 'Ready', 'the relay relays, the target listens, the Service routes');
  });

  it('works the same from a cache that keeps only the projected pod fields', async () => {
    const project = () => {
      for (const p of cluster.pods.list()) cluster.pods.put(projectPod(p));
    };
    project();
    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    project();
    await reconcile('team-a/web');
    assert.equal(status().status?.phase, 'Ready');
    assert.equal(status().status?.target?.node, 'node-1');
    await reconcile('team-a/web');
    assert.equal(cluster.helpers().length, 1, 'the projected helper is recognised as current: no replacement');
  });

  it('writes nothing and records no Event when a pass finds nothing changed', async () => {
    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    await reconcile('team-a/web');
    const writes = cluster.writes;
    const events = cluster.events.length;
    const transition = status().ready?.lastTransitionTime;

    await reconcile('team-a/web');
    await reconcile('team-a/web');
    assert.equal(cluster.writes, writes);
    assert.equal(cluster.events.length, events);
    assert.equal(status().ready?.lastTransitionTime, transition);
  });

  it('leaves nothing behind when deleted', async () => {
    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    await reconcile('team-a/web');

    cluster.deletePortForwardNow(cluster.pf('team-a', 'web')!);
    assert.equal(cluster.pf('team-a', 'web'), undefined, 'gone at once: nothing holds it');
    await reconcile('team-a/web');

    assert.deepEqual(cluster.helpers(), []);
    assert.equal(cluster.services.get('team-a', 'pf-web'), undefined);
    assert.equal(cluster.endpointSlices.get('team-a', 'pf-web'), undefined);
    assert.deepEqual(cluster.networkPolicies.list(), [], 'the helper\'s NetworkPolicy is gone too');
  });

  it('leaves another PortForward\'s helper alone when cleaning up after a deleted one', async () => {
    cluster.addPortForward(portForward('team-a', 'db', webSpec));
    await reconcile('team-a/web');
    await reconcile('team-a/db');
    cluster.deletePortForwardNow(cluster.pf('team-a', 'web')!);
    await reconcile('team-a/web');

    assert.deepEqual(cluster.helpers().map((h) => h.metadata?.annotations?.[ANNOTATIONS.owner]), ['team-a/db']);
    assert.ok(cluster.services.get('team-a', 'pf-db'));
  });

  it('takes off the finalizer that earlier versions added, and cleans up when one of them is deleted', async () => {
    const old = cluster.pf('team-a', 'web')!;
    cluster.portForwards.put({ ...old, metadata: { ...old.metadata, finalizers: [LEGACY_FINALIZER, 'example.com/keep'] } });
    await reconcile('team-a/web');
    assert.deepEqual(status().pf.metadata.finalizers, ['example.com/keep']);

    cluster.deletePortForwardNow(cluster.pf('team-a', 'web')!);
    await reconcile('team-a/web');
    assert.ok(cluster.pf('team-a', 'web')?.metadata.deletionTimestamp, 'still held by the other finalizer');
    assert.deepEqual(cluster.helpers(), [], 'but its helper is gone already');
    assert.equal(cluster.services.get('team-a', 'pf-web'), undefined);
  });

  it('puts a NetworkPolicy in front of the helper before creating it: the relay ports, from the PortForward\'s namespace', async () => {
    const writes: string[] = [];
    const api = cluster.api;
    const recording = { ...api, createPod: (p: Parameters<typeof api.createPod>[0]) => (writes.push('pod'), api.createPod(p)),
      createNetworkPolicy: (p: Parameters<typeof api.createNetworkPolicy>[0]) => (writes.push('policy'), api.createNetworkPolicy(p)) };
    reconciler = new Reconciler({ config, cache: cluster, api: recording, events: new EventRecorder(cluster.api, 't'), probe, now: () => NOW });
    await reconcile('team-a/web');
    assert.deepEqual(writes, ['policy', 'pod']);
    const [policy] = cluster.networkPolicies.list(HELPER_NAMESPACE);
    const uid = status().pf.metadata.uid!;
    assert.equal(policy?.metadata?.name, `pf-${uid}`);
    assert.deepEqual(policy?.spec?.podSelector, { matchLabels: { [LABELS.component]: 'helper', [LABELS.ownerUid]: uid } });
    assert.deepEqual(policy?.spec?.ingress, [
      { _from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'team-a' } } }], ports: [{ port: 10080, protocol: 'TCP' }] },
    ]);
    const replaced = cluster.networkPolicies.list()[0]!.metadata!.resourceVersion;
    await reconcile('team-a/web');
    assert.equal(cluster.networkPolicies.list().length, 1);
    assert.equal(cluster.networkPolicies.list()[0]!.metadata!.resourceVersion, replaced, 'not rewritten when nothing changed');
  });

  it('makes its Service plain again when someone turns it into a LoadBalancer with external IPs', async () => {
    await reconcile('team-a/web');
    const service = cluster.services.get('team-a', 'pf-web')!;
    cluster.services.put({ ...service, spec: { ...service.spec!, type: 'LoadBalancer', externalIPs: ['203.0.113.7'] } });
    await reconcile('team-a/web'); // deletes the exposed one
    await reconcile('team-a/web'); // and makes a new one
    const now = cluster.services.get('team-a', 'pf-web')!;
    assert.equal(now.spec!.type, 'ClusterIP');
    assert.equal(now.spec!.externalIPs, undefined);
  });

  it('puts the policy back when someone edits it', async () => {
    await reconcile('team-a/web');
    const [policy] = cluster.networkPolicies.list(HELPER_NAMESPACE);
    cluster.networkPolicies.put({ ...policy!, spec: { ...policy!.spec!, ingress: [{}] } }); // open to all
    await reconcile('team-a/web');
    assert.deepEqual(cluster.networkPolicies.list(HELPER_NAMESPACE)[0]!.spec!.ingress, policy!.spec!.ingress);
  });

  it('waits, saying so, while the pod is missing, and tears the helper down', async () => {
    await reconcile('team-a/web');
    cluster.pods.delete('team-a', 'nginx');
    await reconcile('team-a/web');

    const { status: s, ready } = status();
    assert.equal(s?.phase, 'Pending');
    assert.equal(ready?.reason, 'TargetNotFound');
    assert.deepEqual(cluster.helpers(), []);
    assert.ok(cluster.services.get('team-a', 'pf-web'), 'the Service (the address) stays');
  });

  it('a spec edited to be invalid stops the tunnel: no helper, and no endpoint left pointing at its IP', async () => {
    await reconcile('team-a/web');
    const helper = cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    await reconcile('team-a/web');
    assert.deepEqual(cluster.endpointSlices.get('team-a', 'pf-web')?.endpoints?.[0]?.addresses, [helper.status!.podIP]);

    const pf = cluster.pf('team-a', 'web')!;
    cluster.portForwards.put({ ...pf, spec: { ...webSpec, ports: [{ port: 0 }] } });
    await reconcile('team-a/web');
    assert.equal(status().ready?.reason, 'InvalidSpec');
    assert.deepEqual(cluster.helpers(), []);
    assert.deepEqual(cluster.endpointSlices.get('team-a', 'pf-web')?.endpoints, [], 'a reused IP would otherwise get the traffic');
  });

  it('replaces the helper when the ports change', async () => {
    await reconcile('team-a/web');
    const before = cluster.helpers()[0]!;
    const pf = cluster.pf('team-a', 'web')!;
    cluster.portForwards.put({ ...pf, spec: { ...webSpec, ports: [{ port: 10080, targetPort: 8080 }] } });

    await reconcile('team-a/web'); // deletes the stale helper; its name is the same, so it is created on the next pass
    await reconcile('team-a/web');
    const after = cluster.helpers();
    assert.equal(after.length, 1);
    assert.notEqual(after[0]!.metadata!.uid, before.metadata!.uid);
    assert.match(JSON.stringify(after[0]!.spec!.containers[0]!.env), /10080:8080\/tcp/);
  });
});

describe('many PortForwards on one node', () => {
  it('start at most HELPER_MAX_STARTING_PER_NODE helpers at once; the others wait, saying so, and start as those become ready', async () => {
    setup({ helperMaxStartingPerNode: 2 });
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    for (const name of ['a', 'b', 'c']) cluster.addPortForward(portForward('team-a', name, webSpec));
    for (const name of ['a', 'b', 'c']) await reconcile(`team-a/${name}`);

    assert.equal(cluster.helpers().length, 2);
    const queued = status('c');
    assert.equal(queued.ready?.reason, 'HelperQueued');
    assert.equal(queued.status?.service?.name, 'pf-c', 'the Service exists, so the status says where it is');
    assert.deepEqual(queued.status?.access?.inCluster, ['pf-c.team-a.svc:10080']);
    assert.equal(queued.status?.target?.pod, 'nginx');
    assert.match(queued.ready!.message, /node node-1 already has as many helpers starting as it takes at once\. .*\(at most 2, HELPER_MAX_STARTING_PER_NODE\)/);
    assert.equal(cluster.helpers().length, 2, 'no helper for the queued one yet');

    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    await reconcile('team-a/c');
    assert.equal(cluster.helpers().length, 3, 'a slot freed: the third helper starts');
    assert.equal(status('c').ready?.reason, 'HelperStarting');
  });
});

describe('a helper that cannot start', () => {
  const failHelper = () => {
    const helper = cluster.helpers()[0]!;
    cluster.pods.put({ ...helper, status: { phase: 'Failed', reason: 'OutOfmemory', message: "Pod Node didn't have enough resource: memory" } });
  };

  it('is retried with growing delays, its repeated Event counted up instead of written again', async () => {
    setup();
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    cluster.addPortForward(portForward('team-a', 'web', webSpec));
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      await reconcile('team-a/web');
      assert.equal(cluster.helpers().length, 1, `attempt ${attempt}: a helper`);
      failHelper();
      await reconcile('team-a/web'); // removes the failed one
      assert.equal(cluster.helpers().length, 0);
      const waiting = await reconcile('team-a/web'); // its name is free: wait before the next
      assert.equal(cluster.helpers().length, 0, 'not at once');
      assert.equal(status().ready?.reason, 'HelperBackoff');
      assert.match(status().ready!.message, new RegExp(`failed \\(${attempt} in a row\\), last: OutOfmemory: Pod Node didn't have enough resource: memory`));
      assert.equal(waiting.kind, 'requeueAfter');
      delays.push((waiting as { ms: number }).ms);
      clock += (waiting as { ms: number }).ms;
    }
    assert.ok(delays[0]! >= 1500 && delays[1]! > delays[0]! * 1.5 && delays[2]! > delays[1]! * 1.5, `growing delays: ${delays}`);
    const created = cluster.events.filter((e) => e.reason === 'HelperCreated');
    assert.equal(created.length, 1, 'one Event for the same helper created again');
    assert.equal(created[0]!.count, 3);

    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    await reconcile('team-a/web');
    assert.equal(status().ready?.reason, 'Ready');
    failHelper(); // after serving, the delays start again from the shortest
    await reconcile('team-a/web');
    const again = await reconcile('team-a/web');
    assert.ok((again as { ms: number }).ms <= delays[0]! * 1.3, `${JSON.stringify(again)}`);
  });
});

describe('a namespace over MAX_HELPERS_PER_NAMESPACE', () => {
  it('gives helpers to its oldest PortForwards; the next in line starts when one is deleted; other namespaces are not held up', async () => {
    setup({ maxHelpersPerNamespace: 2 });
    cluster.addNamespace('team-b');
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    cluster.addPod(pod('team-b', 'nginx', { node: 'node-1' }));
    const names = ['c', 'a', 'b']; // created in this order, a second apart
    names.forEach((name, i) => cluster.addPortForward(portForward('team-a', name, webSpec, `2030-01-01T00:00:0${i}Z`)));
    cluster.addPortForward(portForward('team-b', 'web', webSpec));
    for (const name of names) await reconcile(`team-a/${name}`);
    await reconcile('team-b/web');

    const owners = () => cluster.helpers().map((h) => h.metadata!.annotations![ANNOTATIONS.owner]).sort();
    assert.deepEqual(owners(), ['team-a/a', 'team-a/c', 'team-b/web']);
    assert.equal(status('b').ready?.reason, 'NamespaceLimitReached');
    assert.equal(status('b').status?.phase, 'Pending');
    assert.match(status('b').ready!.message, /more PortForwards than the 2 that may have a helper at once \(MAX_HELPERS_PER_NAMESPACE\)/);

    const oldest = cluster.pf('team-a', 'c')!;
    cluster.deletePortForwardNow(oldest);
    await reconcile('team-a/c');
    assert.deepEqual(keysForPortForward(oldest, cluster.portForwards), ['team-a/c', 'team-a/b'], 'its deletion wakes the one waiting');
    await reconcile('team-a/b');
    assert.deepEqual(owners(), ['team-a/a', 'team-a/b', 'team-b/web']);
  });
});

describe('passes that run at once over a lagging cache', () => {
  it('never take one start slot twice: the second of two concurrent passes waits', async () => {
    setup({ helperMaxStartingPerNode: 1 });
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    for (const name of ['a', 'b']) cluster.addPortForward(portForward('team-a', name, webSpec));
    const lagging = new LaggingCache(cluster);
    reconciler = new Reconciler({ config: { ...config, helperMaxStartingPerNode: 1 }, cache: lagging, api: cluster.api, events: new EventRecorder(cluster.api, 't'), probe, now: () => NOW });
    // neither pass sees the other's helper: both read the same stale snapshot
    await Promise.all([reconcile('team-a/a'), reconcile('team-a/b')]);
    assert.equal(cluster.helpers().length, 1, 'one slot, one helper');
    assert.deepEqual(['a', 'b'].map((n) => status(n).ready?.reason).sort(), ['HelperQueued', 'HelperStarting']);
  });

  it('meets its own helper as a 409 while the cache lags, and looks again without a second helper', async () => {
    setup();
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    cluster.addPortForward(portForward('team-a', 'web', webSpec));
    const lagging = new LaggingCache(cluster);
    reconciler = new Reconciler({ config, cache: lagging, api: cluster.api, events: new EventRecorder(cluster.api, 't'), probe, now: () => NOW });
    await reconcile('team-a/web');
    lagging.catchUp();
    // the cache has the PortForward's new version, but a lost pod event leaves the helper out of it
    lagging.pods.delete(HELPER_NAMESPACE, cluster.helpers()[0]!.metadata!.name!);
    const again = await reconcile('team-a/web');
    assert.deepEqual(again, { kind: 'requeueAfter', ms: 1000 }, 'a conflict: re-read and try again soon');
    assert.equal(cluster.helpers().length, 1);
    lagging.catchUp();
    await reconcile('team-a/web');
    assert.equal(cluster.helpers().length, 1);
  });
});

describe('an operator upgrade that changes the helper template', () => {
  it('replaces helpers a start limit at a time per node, while the others keep serving', async () => {
    setup({ helperMaxStartingPerNode: 2 });
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    const names = ['a', 'b', 'c', 'd'];
    for (const name of names) cluster.addPortForward(portForward('team-a', name, webSpec));
    // bring all four up, two at a time
    for (let round = 0; round < 3; round++) {
      for (const name of names) await reconcile(`team-a/${name}`);
      for (const h of cluster.helpers()) if (!h.status?.podIP) cluster.runHelper(h.metadata!.name!, HELPER_NAMESPACE, true);
    }
    for (const name of names) await reconcile(`team-a/${name}`);
    assert.deepEqual(names.map((n) => status(n).status?.phase), ['Ready', 'Ready', 'Ready', 'Ready']);
    const before = new Map(cluster.helpers().map((h) => [h.metadata!.name!, h.metadata!.annotations![ANNOTATIONS.specHash]]));

    // the new operator version: same cluster, another template
    cluster.gracefulPodDeletion = true;
    reconciler = new Reconciler({
      config: { ...config, helperMaxStartingPerNode: 2, helperImagePullPolicy: 'Never' },
      cache: cluster,
      api: cluster.api,
      events: new EventRecorder(cluster.api, 'test', () => new Date(NOW)),
      probe,
      now: () => NOW,
    });
    const replacing = () => startingHelpersOn(cluster.helpers(), 'node-1', NOW).length;
    let most = 0;
    for (let round = 0; round < 8; round++) {
      for (const name of names) {
        await reconcile(`team-a/${name}`);
        most = Math.max(most, replacing());
      }
      cluster.finishDeletions();
      for (const h of cluster.helpers()) if (!h.status?.podIP) cluster.runHelper(h.metadata!.name!, HELPER_NAMESPACE, true);
    }
    for (const name of names) await reconcile(`team-a/${name}`);

    assert.equal(most, 2, 'never more than the start limit being replaced on the node at once');
    const after = cluster.helpers();
    assert.equal(after.length, 4);
    for (const h of after) assert.notEqual(h.metadata!.annotations![ANNOTATIONS.specHash], before.get(h.metadata!.name!), `${h.metadata!.name} was replaced`);
    assert.deepEqual(names.map((n) => status(n).status?.phase), ['Ready', 'Ready', 'Ready', 'Ready']);
  });

  it('keeps an outdated helper serving, and the PortForward Ready, while its node has no slot', async () => {
    setup({ helperMaxStartingPerNode: 1 });
    cluster.addPod(pod('team-a', 'nginx', { node: 'node-1' }));
    cluster.addPortForward(portForward('team-a', 'web', webSpec));
    await reconcile('team-a/web');
    cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    await reconcile('team-a/web');
    cluster.addPod({ ...pod(HELPER_NAMESPACE, 'someone-elses-helper', { node: 'node-1', ready: false }), metadata: { name: 'someone-elses-helper', namespace: HELPER_NAMESPACE, labels: { [LABELS.managedBy]: 'portforward-operator', [LABELS.ownerUid]: 'other' } } });
    reconciler = new Reconciler({ config: { ...config, helperMaxStartingPerNode: 1, helperImagePullPolicy: 'Never' }, cache: cluster, api: cluster.api, events: new EventRecorder(cluster.api, 't'), probe, now: () => NOW });
    const result = await reconcile('team-a/web');
    assert.equal(cluster.helpers().filter((h) => h.metadata?.labels?.[LABELS.ownerUid] !== 'other').length, 1, 'the outdated helper is kept');
    assert.equal(status().status?.phase, 'Ready');
    assert.deepEqual(result, { kind: 'requeueAfter', ms: 2000 }, 'it looks again for a slot');
  });
});

describe('a PortForward with a selector', () => {
  const spec = { target: { selector: { matchLabels: { app: 'web' } } }, ports: [{ port: 8080 }] };

  beforeEach(() => setup());

  it('follows the pod to another node when it is replaced', async () => {
    cluster.addPod(pod('team-a', 'web-1', { node: 'node-1', labels: { app: 'web' } }));
    cluster.addPortForward(portForward('team-a', 'web', spec));
    await reconcile('team-a/web');
    assert.equal(cluster.helpers()[0]!.spec!.nodeName, 'node-1');

    cluster.pods.delete('team-a', 'web-1');
    cluster.addPod(pod('team-a', 'web-2', { node: 'node-2', labels: { app: 'web' } }));
    await reconcile('team-a/web');

    const helpers = cluster.helpers();
    assert.equal(helpers.length, 1, 'the old helper went, one new one came');
    assert.equal(helpers[0]!.spec!.nodeName, 'node-2');
    assert.equal(status().status?.target?.pod, 'web-2');
  });

  it('stays on its pod when an older matching pod appears', async () => {
    cluster.addPod(pod('team-a', 'web-1', { labels: { app: 'web' }, created: '2029-12-31T00:00:00Z' }));
    cluster.addPortForward(portForward('team-a', 'web', spec));
    await reconcile('team-a/web');
    cluster.addPod(pod('team-a', 'web-0', { labels: { app: 'web' }, created: '2029-01-01T00:00:00Z' }));
    await reconcile('team-a/web');
    assert.equal(status().status?.target?.pod, 'web-1');
  });

  it('waits for a ready pod', async () => {
    cluster.addPod(pod('team-a', 'web-1', { labels: { app: 'web' }, ready: false }));
    cluster.addPortForward(portForward('team-a', 'web', spec));
    await reconcile('team-a/web');
    const { status: s, ready } = status();
    assert.equal(s?.phase, 'Pending');
    assert.equal(ready?.reason, 'NoMatchingPod');
    assert.match(ready!.message, /app=web/);
    assert.deepEqual(cluster.helpers(), []);
  });
});

describe('reaching into another namespace', () => {
  const spec = { target: { namespace: 'databases', pod: 'postgres-0' }, ports: [{ port: 5432 }] };

  beforeEach(() => {
    setup();
    cluster.addNamespace('databases');
    cluster.addPod(pod('databases', 'postgres-0'));
    cluster.addPortForward(portForward('team-a', 'db', spec));
  });

  it('is refused until that namespace opts in, with the command that allows it', async () => {
    await reconcile('team-a/db');
    const { status: s, ready } = status('db');
    assert.equal(s?.phase, 'Failed');
    assert.equal(ready?.reason, 'CrossNamespaceNotAllowed');
    assert.match(ready!.message, /kubectl annotate namespace databases portforward\.io\/allow-from=team-a/);
    assert.deepEqual(cluster.helpers(), []);
    assert.equal(cluster.events.at(-1)?.type, 'Warning');
  });

  it('works once the namespace allows it, and stops when it withdraws', async () => {
    cluster.addNamespace('databases', { 'portforward.io/allow-from': 'team-b, team-a' });
    await reconcile('team-a/db');
    assert.equal(cluster.helpers().length, 1);

    cluster.addNamespace('databases', {});
    await reconcile('team-a/db');
    assert.deepEqual(cluster.helpers(), [], 'the tunnel is torn down');
    assert.equal(status('db').ready?.reason, 'CrossNamespaceNotAllowed');
  });
});

describe('clients beyond the PortForward\'s namespace', () => {
  beforeEach(() => setup());

  it('are let in by the policy as NetworkPolicy peers; a podSelector alone means pods of the PortForward\'s namespace', async () => {
    cluster.addPod(pod('team-a', 'nginx'));
    const clients = [{ namespaceSelector: { matchLabels: { team: 'b' } } }, { podSelector: { matchLabels: { role: 'debug' } } }];
    cluster.addPortForward(portForward('team-a', 'web', { ...webSpec, clients }));
    await reconcile('team-a/web');
    const own = { matchLabels: { 'kubernetes.io/metadata.name': 'team-a' } };
    assert.deepEqual(cluster.networkPolicies.list()[0]!.spec!.ingress![0]!._from, [
      { namespaceSelector: own },
      { namespaceSelector: { matchLabels: { team: 'b' } } },
      { namespaceSelector: own, podSelector: { matchLabels: { role: 'debug' } } },
    ]);
  });

  it('for a target in another namespace, must stay within its opt-in: refused with ClientsNotAllowed otherwise', async () => {
    cluster.addNamespace('databases', { 'portforward.io/allow-from': 'team-a,team-b' });
    cluster.addPod(pod('databases', 'postgres-0'));
    const spec = (clients: unknown[]) => ({ target: { namespace: 'databases', pod: 'postgres-0' }, ports: [{ port: 5432 }], clients });
    cluster.addPortForward(portForward('team-a', 'db', spec([{ namespaceSelector: { matchLabels: { team: 'c' } } }])));
    await reconcile('team-a/db');
    const { status: s, ready } = status('db');
    assert.equal(s?.phase, 'Failed');
    assert.equal(ready?.reason, 'ClientsNotAllowed');
    assert.match(ready!.message, /spec\.clients\[0\]\.namespaceSelector does not name its namespaces .* namespace "databases" .* lets only team-a, team-b reach its pods/);
    assert.deepEqual(cluster.helpers(), []);

    const pf = cluster.pf('team-a', 'db')!;
    cluster.portForwards.put({ ...pf, spec: spec([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'team-b' } }, podSelector: { matchLabels: { app: 'x' } } }]) });
    await reconcile('team-a/db');
    assert.equal(cluster.helpers().length, 1, 'a client named among the allowed namespaces is fine');

    cluster.addNamespace('databases', { 'portforward.io/allow-from': 'team-a' });
    await reconcile('team-a/db');
    assert.equal(status('db').ready?.reason, 'ClientsNotAllowed', 'team-b is no longer allowed');
    assert.match(status('db').ready!.message, /names namespace\(s\) team-b/);
    assert.deepEqual(cluster.helpers(), [], 'the tunnel is torn down');
  });
});

describe('what the operator refuses', () => {
  beforeEach(() => setup());

  it('a pod on the host network: entering it would expose the node', async () => {
    cluster.addPod(pod('team-a', 'agent', { hostNetwork: true }));
    cluster.addPortForward(portForward('team-a', 'web', { target: { pod: 'agent' }, ports: [{ port: 9100 }] }));
    await reconcile('team-a/web');
    assert.equal(status().status?.phase, 'Failed');
    assert.equal(status().ready?.reason, 'TargetUsesHostNetwork');
    assert.deepEqual(cluster.helpers(), []);
  });

  it('a Service name someone else uses: it is left untouched', async () => {
    const foreign = { metadata: { name: 'pf-web', namespace: 'team-a', resourceVersion: '7' }, spec: { ports: [{ port: 1 }] } };
    cluster.foreignServices.put(foreign);
    cluster.addPod(pod('team-a', 'nginx'));
    cluster.addPortForward(portForward('team-a', 'web', webSpec));

    await reconcile('team-a/web');
    assert.equal(status().ready?.reason, 'ServiceNameConflict');
    assert.equal(status().status?.phase, 'Failed');
    assert.deepEqual(cluster.foreignServices.get('team-a', 'pf-web'), foreign);
    assert.deepEqual(cluster.helpers(), []);
  });

  it('an invalid spec: Failed with the problem and an Event, and no retry loop', async () => {
    cluster.addPortForward(portForward('team-a', 'web', { target: { pod: 'nginx' }, ports: [{ port: 0 }] }));
    const result = await reconcile('team-a/web');
    assert.deepEqual(result, { kind: 'done' });
    assert.equal(status().status?.phase, 'Failed');
    assert.equal(status().ready?.reason, 'InvalidSpec');
    assert.match(status().ready!.message, /spec\.ports\.0\.port/);
    assert.deepEqual(
      cluster.events.map((e) => [e.type, e.reason]),
      [['Warning', 'InvalidSpec']],
    );
  });
});

describe('a PortForward with a ttl', () => {
  const spec = { ...webSpec, ttl: '1h' };

  it('asks to be looked at again when it expires', async () => {
    setup();
    cluster.addPod(pod('team-a', 'nginx'));
    cluster.addPortForward(portForward('team-a', 'web', spec));
    const result = await reconcile('team-a/web');
    assert.equal(status().status?.expiresAt, '2030-01-01T01:00:00Z');
    assert.equal(result.kind, 'requeueAfter');
    assert.ok(result.kind === 'requeueAfter' && result.ms <= 3600_000 - 10_000);
  });

  it('is deleted, helper and all, once it has expired', async () => {
    setup({}, Date.parse('2030-01-01T01:00:01Z'));
    cluster.addPod(pod('team-a', 'nginx'));
    cluster.addPortForward(portForward('team-a', 'web', spec));
    await reconcile('team-a/web');
    assert.ok(eventReasons().includes('Expired'));
    assert.equal(cluster.pf('team-a', 'web'), undefined, 'deleted');
    await reconcile('team-a/web'); // as the deletion's watch event queues it
    assert.deepEqual(cluster.helpers(), []);
  });

  it('never outlives the operator\'s MAX_TTL, even without a ttl of its own', async () => {
    setup({ maxTtlSeconds: 600 });
    cluster.addPod(pod('team-a', 'nginx'));
    cluster.addPortForward(portForward('team-a', 'web', webSpec));
    await reconcile('team-a/web');
    assert.equal(status().status?.expiresAt, '2030-01-01T00:10:00Z');
  });
});

describe('races with other writers', () => {
  it('a stale copy of the PortForward is retried soon, not backed off', async () => {
    setup();
    cluster.addPod(pod('team-a', 'nginx'));
    const pf = cluster.addPortForward(portForward('team-a', 'web', webSpec));
    const stale: PortForward = { ...pf, metadata: { ...pf.metadata, resourceVersion: '0' } };
    const staleCache = { ...cluster, portForwards: { get: () => stale, list: () => [stale] } };
    const racing = new Reconciler({ config, cache: staleCache as never, api: cluster.api, events: new EventRecorder(cluster.api, 't'), probe, now: () => NOW });
    assert.deepEqual(await racing.reconcile('team-a/web', log), { kind: 'requeueAfter', ms: 1000 });
  });

  it('a PortForward gone from the cache is done', async () => {
    setup();
    assert.deepEqual(await reconcile('team-a/nothing'), { kind: 'done' });
  });

  it('a restarted operator (a new reconciler, no memory) finds the running helper again and keeps it', async () => {
    setup();
    cluster.addPod(pod('team-a', 'nginx'));
    cluster.addPortForward(portForward('team-a', 'web', webSpec));
    await reconcile('team-a/web');
    const helper = cluster.runHelper(cluster.helpers()[0]!.metadata!.name!, HELPER_NAMESPACE, true);
    await reconcile('team-a/web');
    const writes = cluster.writes;

    reconciler = new Reconciler({ config, cache: cluster, api: cluster.api, events: new EventRecorder(cluster.api, 'restarted'), probe, now: () => NOW });
    await reconcile('team-a/web');
    assert.deepEqual(cluster.helpers().map((h) => h.metadata!.uid), [helper.metadata!.uid], 'the same helper, no second one');
    assert.equal(cluster.writes, writes, 'nothing to write: the world already matches');
    assert.equal(status().status?.phase, 'Ready');
  });
});
