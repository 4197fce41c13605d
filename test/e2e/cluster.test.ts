// The local cluster is a real Kubernetes: what the operator relies on works here.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  apply, eventually, exec, getJson, httpGet, kubectl, kubectlBackground, testNamespace, toolboxPod, waitRunning,
} from './lib/kube.js';

const HTTP_SERVER = (bind: string, port: number) =>
  `mkdir -p /srv && echo hello-from-$(hostname) > /srv/index.html && exec python3 -m http.server ${port} --bind ${bind} --directory /srv`;

describe('the local cluster', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  before(async () => {
    ns = await testNamespace('e2e-cluster');
    await apply(toolboxPod(ns.name, 'web', HTTP_SERVER('0.0.0.0', 8080)));
    await waitRunning(ns.name, 'web');
  });
  after(async () => ns?.remove());

  it('has its nodes Ready (CLUSTER_NODES, two by default)', async () => {
    const nodes = await getJson(['nodes']);
    assert.equal(nodes.items.length, Number(process.env.CLUSTER_NODES ?? 2));
    for (const node of nodes.items) {
      const ready = node.status.conditions.find((c: any) => c.type === 'Ready');
      assert.equal(ready.status, 'True', `${node.metadata.name} Ready`);
    }
  });

  it('runs a toolbox pod whose logs and exec work', async () => {
    await apply(toolboxPod(ns.name, 'talker', 'echo started-ok; exec sleep infinity'));
    await waitRunning(ns.name, 'talker');
    await eventually('log line', async () => (await kubectl(['logs', '-n', ns.name, 'talker'])).includes('started-ok'));
    assert.equal((await exec(ns.name, 'talker', ['sh', '-c', 'echo $((6*7))'])).trim(), '42');
  });

  it('forwards a port to a pod with kubectl port-forward from the machine', async () => {
    const pf = kubectlBackground(['port-forward', '-n', ns.name, 'pod/web', '38080:8080']);
    try {
      await eventually('port-forward listening', async () => pf.output().includes('Forwarding from'), 30_000);
      assert.match(await httpGet('http://127.0.0.1:38080/'), /hello-from-web/);
    } finally {
      pf.stop();
    }
  });

  it("reaches a pod's HTTP server through the API server's pod proxy", async () => {
    const body = await kubectl(['get', '--raw', `/api/v1/namespaces/${ns.name}/pods/web:8080/proxy/`]);
    assert.match(body, /hello-from-web/);
  });

  it('routes a ClusterIP Service to its pod from another pod', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: ns.name },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    const svc = await getJson(['service', '-n', ns.name, 'web']);
    await apply(toolboxPod(ns.name, 'client', 'exec sleep infinity'));
    await waitRunning(ns.name, 'client');
    const body = await eventually('service answers', async () =>
      exec(ns.name, 'client', ['curl', '-sf', '--max-time', '3', `http://${svc.spec.clusterIP}/`]),
    );
    assert.match(body, /hello-from-web/);
    // ...and by its DNS name: the cluster runs DNS for cluster.local (and nothing else).
    const byName = await exec(ns.name, 'client', ['curl', '-sf', '--max-time', '3', `http://web.${ns.name}.svc/`]);
    assert.match(byName, /hello-from-web/);
  });

  it('garbage-collects a pod when its owner is deleted', async () => {
    await apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: ns.name } });
    const owner = await getJson(['configmap', '-n', ns.name, 'owner']);
    await apply(
      toolboxPod(ns.name, 'owned', 'exec sleep infinity', {
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid }],
      }),
    );
    await kubectl(['delete', 'configmap', '-n', ns.name, 'owner']);
    await eventually('owned pod deleted', async () => {
      const pods = await getJson(['pods', '-n', ns.name, '--field-selector', 'metadata.name=owned']);
      return pods.items.length === 0;
    });
  });

  it("lets a hostPID pod with SYS_ADMIN and SYS_PTRACE enter another pod's network namespace", async () => {
    // The helper's mechanism: a server bound to 127.0.0.1 only, reached from a different pod.
    await apply(toolboxPod(ns.name, 'private', HTTP_SERVER('127.0.0.1', 9090), { labels: { app: 'private' } }));
    const target = await waitRunning(ns.name, 'private');
    // On the target's node: a host-PID pod sees only its own node's processes.
    await apply(toolboxPod(ns.name, 'enterer', 'exec sleep infinity', { hostPID: true, capabilities: ['SYS_ADMIN', 'SYS_PTRACE'], nodeName: target.spec.nodeName }));
    await waitRunning(ns.name, 'enterer');
    const uid: string = target.metadata.uid;
    const findPid = `grep -l -e 'pod${uid}' -e 'pod${uid.replace(/-/g, '_')}' /proc/[0-9]*/cgroup | head -1 | cut -d/ -f3`;
    const body = await exec(ns.name, 'enterer', [
      'sh', '-c', `pid=$(${findPid}); nsenter -t "$pid" -n curl -sf --max-time 3 http://127.0.0.1:9090/`,
    ]);
    assert.match(body, /hello-from-private/);
    // ...and without entering, the server is out of reach from another pod.
    await assert.rejects(exec(ns.name, 'enterer', ['curl', '-sf', '--max-time', '2', `http://${target.status.podIP}:9090/`]));
  });
});
