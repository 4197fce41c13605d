// Two nodes, as separate machines: the helper runs on its target's node and follows the target to
// another node; a helper on the wrong node cannot reach the target; targets named as kubectl names
// them (a Deployment, a Service with a named targetPort, a container port's name); and a target's
// node that is cordoned or NotReady is told in the status.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { apply, eventually, exec, getJson, kubectl, testNamespace, toolboxPod, waitRunning } from './lib/kube.js';
import { HELPER_NS, LOOPBACK_SERVERS, classicHelper, getPf, loopbackTarget, portForward, waitReady, waitReason } from './lib/portforward.js';

const run = promisify(execFile);
const nodeNames = async (): Promise<string[]> => (await getJson(['nodes'])).items.map((n: any) => n.metadata.name).sort();
const nodeCount = (await nodeNames()).length;
const TWO_NODES = nodeCount >= 2 ? {} : { skip: `the cluster has ${nodeCount} node; these tests need two (CLUSTER_NODES=2, the default)` };

const isReady = (pod: any) => (pod?.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const condition = (pf: any, type: string) => (pf.status?.conditions ?? []).find((c: any) => c.type === type);

describe('two nodes', TWO_NODES, () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  let nodes: string[] = [];
  /** Runs on node 1: every tunnel it uses crosses nodes when the target is on node 2. */
  const client = { curl: (url: string) => eventually(`GET ${url}`, () => exec(ns.name, 'client', ['curl', '-sf', '--max-time', '3', url]), 20_000) };
  const handMade: string[] = [];

  before(async () => {
    nodes = await nodeNames();
    ns = await testNamespace('e2e-nodes');
    await apply(toolboxPod(ns.name, 'client', 'exec sleep infinity', { nodeName: nodes[0] }));
    await waitRunning(ns.name, 'client');
  });
  after(async () => {
    for (const name of handMade) await kubectl(['delete', 'pod,networkpolicy', '-n', HELPER_NS, name, '--ignore-not-found', '--wait=false']);
    await kubectl(['uncordon', nodes[0]!]).catch(() => '');
    await ns?.remove();
  });

  it('runs the helper on the target\'s node, serves a client on the other node, and follows the target to another node', async () => {
    await apply(loopbackTarget(ns.name, 'web', { app: 'web' }, { nodeName: nodes[1] }));
    await waitRunning(ns.name, 'web');
    await apply(portForward(ns.name, 'web', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    const pf = await waitReady(ns.name, 'web');
    assert.equal(pf.status.target.node, nodes[1]);
    const helper = await getJson(['pod', '-n', HELPER_NS, pf.status.helper.pod]);
    assert.equal(helper.spec.nodeName, nodes[1], 'the helper runs on the target\'s node');
    assert.match(await client.curl(`http://pf-web.${ns.name}.svc:10080/`), /hello from web/, 'a client on node 1 reaches a target on node 2');

    // The same pod name, now on node 1.
    await kubectl(['delete', 'pod', '-n', ns.name, 'web', '--wait=true', '--timeout=60s'], { timeoutMs: 70_000 });
    await apply(loopbackTarget(ns.name, 'web', { app: 'web' }, { nodeName: nodes[0] }));
    await waitRunning(ns.name, 'web');
    const moved = await eventually('the PortForward Ready on node 1', async () => {
      const now = await getPf(ns.name, 'web');
      return now.status?.target?.node === nodes[0] && condition(now, 'Ready')?.status === 'True' ? now : undefined;
    }, 120_000);
    const newHelper = await getJson(['pod', '-n', HELPER_NS, moved.status.helper.pod]);
    assert.equal(newHelper.spec.nodeName, nodes[0], 'the helper moved with its target');
    assert.match(await client.curl(`http://pf-web.${ns.name}.svc:10080/`), /hello from web/);
    // The old helper (on node 2) is gone: the PortForward's only helper is the new one, on node 1.
    const helpers = await eventually('the old helper gone', async () => {
      const all = (await getJson(['pods', '-n', HELPER_NS, '-l', `portforward.io/owner-uid=${pf.metadata.uid}`])).items;
      return all.length === 1 ? all : undefined;
    }, 60_000);
    assert.deepEqual(helpers.map((h: any) => [h.metadata.uid, h.spec.nodeName]), [[newHelper.metadata.uid, nodes[0]]], 'one helper, on node 1');
  });

  it('a helper made by hand on the wrong node cannot reach the target: the nodes are separate', async () => {
    const target = await getJson(['pod', '-n', ns.name, 'web']); // on node 1 since the test before
    assert.equal(target.spec.nodeName, nodes[0]);
    const spec = { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] };
    const [right, rightPolicy] = classicHelper(ns.name, 'e2e-right-node', spec, target);
    const [wrong, wrongPolicy] = classicHelper(ns.name, 'e2e-wrong-node', spec, target);
    wrong.spec!.nodeName = nodes[1];
    handMade.push(right.metadata!.name!, wrong.metadata!.name!);
    await apply(right, rightPolicy, wrong, wrongPolicy);

    const good = await eventually('the helper on the target\'s node Ready', async () => {
      const p = await getJson(['pod', '-n', HELPER_NS, right.metadata!.name!]);
      return isReady(p) ? p : undefined;
    }, 90_000);
    assert.match(await client.curl(`http://${good.status.podIP}:10080/`), /hello from web/, 'the same helper on the right node works');

    const logs = await eventually('the wrong-node helper says why it cannot start', async () => {
      const text = await kubectl(['logs', '-n', HELPER_NS, wrong.metadata!.name!, '--all-containers']).catch(() => '');
      return /no process of pod/.test(text) ? text : undefined;
    }, 60_000);
    assert.match(logs, new RegExp(`no process of pod ${target.metadata.uid}`));
    const bad = await getJson(['pod', '-n', HELPER_NS, wrong.metadata!.name!]);
    assert.equal(bad.spec.nodeName, nodes[1]);
    assert.equal(isReady(bad), false, 'never Ready');
    if (bad.status.podIP) {
      await assert.rejects(exec(ns.name, 'client', ['curl', '-sf', '--max-time', '3', `http://${bad.status.podIP}:10080/`]), 'nothing answers through it');
    }
  });

  it('enters a Deployment\'s pod by target.workload and a container port\'s name, and re-targets when the Deployment rolls', async () => {
    await apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'api', namespace: ns.name },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'api' } },
        template: {
          metadata: { labels: { app: 'api' } },
          spec: toolboxPod(ns.name, 'api', LOOPBACK_SERVERS, { ports: [{ name: 'http', containerPort: 8080 }] }).spec,
        },
      },
    });
    await kubectl(['rollout', 'status', '-n', ns.name, 'deployment/api', '--timeout=120s'], { timeoutMs: 130_000 });
    await apply(portForward(ns.name, 'api', { target: { workload: { kind: 'Deployment', name: 'api' } }, ports: [{ port: 10080, targetPort: 'http' }] }));
    const pf = await waitReady(ns.name, 'api');
    const first: string = pf.status.target.pod;
    assert.match(first, /^api-/);
    assert.match(pf.status.target.chosenBy, /deployment\/api/);
    assert.match(await client.curl(`http://pf-api.${ns.name}.svc:10080/`), new RegExp(`hello from ${first}`), 'the name http led to 8080 on 127.0.0.1');

    await kubectl(['rollout', 'restart', '-n', ns.name, 'deployment/api']);
    await kubectl(['rollout', 'status', '-n', ns.name, 'deployment/api', '--timeout=120s'], { timeoutMs: 130_000 });
    const rolled = await eventually('the PortForward on the new pod, Ready', async () => {
      const now = await getPf(ns.name, 'api');
      return now.status?.target?.pod !== first && condition(now, 'Ready')?.status === 'True' ? now : undefined;
    }, 120_000);
    const second: string = rolled.status.target.pod;
    const live = (await getJson(['pods', '-n', ns.name, '-l', 'app=api'])).items.filter((p: any) => !p.metadata.deletionTimestamp).map((p: any) => p.metadata.name);
    assert.ok(live.includes(second), `re-targeted to a pod of the rolled Deployment (${second} among ${live.join(', ')})`);
    assert.match(await client.curl(`http://pf-api.${ns.name}.svc:10080/`), new RegExp(`hello from ${second}`));
  });

  it('enters the pod behind a Service through the Service port\'s name and its named targetPort, and says why one cannot resolve', async () => {
    await apply(loopbackTarget(ns.name, 'db', { app: 'db' }, { ports: [{ name: 'web', containerPort: 8080 }] }));
    await apply(
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db', namespace: ns.name }, spec: { selector: { app: 'db' }, ports: [{ name: 'http', port: 80, targetPort: 'web' }] } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'manual', namespace: ns.name }, spec: { ports: [{ name: 'http', port: 80 }] } },
    );
    await waitRunning(ns.name, 'db');
    await apply(portForward(ns.name, 'db', { target: { service: 'db' }, ports: [{ port: 10080, targetPort: 'http' }] }));
    const pf = await waitReady(ns.name, 'db');
    assert.equal(pf.status.target.pod, 'db');
    assert.match(pf.status.target.chosenBy, /service\/db/);
    assert.match(await client.curl(`http://pf-db.${ns.name}.svc:10080/`), /hello from db/, 'service port http -> targetPort web -> 8080 on 127.0.0.1');

    await apply(portForward(ns.name, 'manual', { target: { service: 'manual' }, ports: [{ port: 10080, targetPort: 80 }] }));
    const noSelector = await waitReason(ns.name, 'manual', 'TargetHasNoSelector');
    assert.equal(noSelector.status.phase, 'Failed');
    assert.match(condition(noSelector, 'Ready').message, /Service "manual" .* has no selector/);

    await apply(portForward(ns.name, 'unnamed', { target: { pod: 'db' }, ports: [{ port: 10080, targetPort: 'grpc' }] }));
    const noPort = await waitReason(ns.name, 'unnamed', 'TargetPortNotFound');
    assert.match(condition(noPort, 'Ready').message, /pod\/db has no container port named "grpc"; its named ports are 8080 \(web\)/);

    await apply(portForward(ns.name, 'nosvc', { target: { service: 'missing' }, ports: [{ port: 10080 }] }));
    const missing = await waitReason(ns.name, 'nosvc', 'TargetNotFound');
    assert.match(condition(missing, 'Ready').message, /Service "missing" was not found/);
  });

  it('says so in its status when the target\'s node is cordoned, and when it goes NotReady', async () => {
    // web runs on node 1 (first test); a second target on node 2 for the NotReady case.
    await kubectl(['cordon', nodes[0]!]);
    try {
      const cordoned = await eventually('TargetNodeReady False, NodeCordoned', async () => {
        const pf = await getPf(ns.name, 'web');
        return condition(pf, 'TargetNodeReady')?.reason === 'NodeCordoned' ? pf : undefined;
      }, 60_000);
      assert.equal(condition(cordoned, 'TargetNodeReady').status, 'False');
      assert.match(condition(cordoned, 'TargetNodeReady').message, /cordoned/);
    } finally {
      await kubectl(['uncordon', nodes[0]!]);
    }
    await eventually('TargetNodeReady True again', async () => condition(await getPf(ns.name, 'web'), 'TargetNodeReady')?.status === 'True', 60_000);

    await apply(loopbackTarget(ns.name, 'far', { app: 'far' }, { nodeName: nodes[1] }));
    await waitRunning(ns.name, 'far');
    await apply(portForward(ns.name, 'far', { target: { pod: 'far' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    await waitReady(ns.name, 'far');
    const kubelet = `kubelet@${nodes[1]!.replace(/^pfdev-node-/, '')}`;
    await run('bash', ['scripts/cluster/component.sh', 'stop', kubelet], { timeout: 60_000 });
    try {
      // The node controller marks the node NotReady once its grace period (50 s) passes.
      const notReady = await eventually('TargetNodeReady False, NodeNotReady', async () => {
        const pf = await getPf(ns.name, 'far');
        return condition(pf, 'TargetNodeReady')?.reason === 'NodeNotReady' ? pf : undefined;
      }, 150_000);
      assert.match(condition(notReady, 'TargetNodeReady').message, new RegExp(`Node ${nodes[1]} of the target pod is NotReady`));
      const events = await kubectl(['get', 'events', '-n', ns.name, '--field-selector', 'involvedObject.name=far,reason=NodeNotReady', '-o', 'name']);
      assert.notEqual(events.trim(), '', 'and an Event says so');
    } finally {
      await run('bash', ['scripts/cluster/component.sh', 'start', kubelet], { timeout: 60_000 });
    }
    await eventually('TargetNodeReady True once the kubelet is back', async () => condition(await getPf(ns.name, 'far'), 'TargetNodeReady')?.status === 'True', 150_000);
  });
});
