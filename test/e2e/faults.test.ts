// What real clusters do to an operator: control-plane restarts, a killed operator, a restarted
// kubelet, a network cut. After each, the system converges: no helper or Service duplicated or
// orphaned, status true, and tunnels keep serving where they can (the data path needs no operator).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { apply, eventually, getJson, kubectl, sleep, testNamespace, waitRunning } from './lib/kube.js';
import { HELPER_NS, OPERATOR_NS, clientPod, getPf, helpersOf, loopbackTarget, portForward, waitReady, namespaceWithTarget } from './lib/portforward.js';

const run = promisify(execFile);
const component = (action: 'stop' | 'start' | 'restart', name: string) =>
  run('bash', ['scripts/cluster/component.sh', action, name], { timeout: 60_000 });
/** Runs a command inside the cluster's network namespace (the lab). */
const inLab = (...cmd: string[]) => run('ip', ['netns', 'exec', 'pflab', ...cmd], { timeout: 30_000 });

// A firewall rule inside the cluster's network namespace drops a pod's packets to the API server.
// In mangle, not filter: kube-router keeps its chains first in filter and accepts what its policies allow.
const cutRule = (ip: string) => ['-s', ip, '-p', 'tcp', '--dport', '6443', '-j', 'DROP'];
async function cutFromApiServer(ip: string): Promise<void> {
  await inLab('iptables', '-t', 'mangle', '-N', 'PF_E2E_CUT');
  await inLab('iptables', '-t', 'mangle', '-A', 'PF_E2E_CUT', ...cutRule(ip));
  await inLab('iptables', '-t', 'mangle', '-I', 'INPUT', '-j', 'PF_E2E_CUT');
}
async function restoreApiServerReach(): Promise<void> {
  await inLab('iptables', '-t', 'mangle', '-D', 'INPUT', '-j', 'PF_E2E_CUT');
  await inLab('iptables', '-t', 'mangle', '-F', 'PF_E2E_CUT');
  await inLab('iptables', '-t', 'mangle', '-X', 'PF_E2E_CUT');
}

async function apiServerAnswers(): Promise<boolean> {
  return (await kubectl(['get', '--raw', '/readyz'], { timeoutMs: 5000 }).catch(() => '')).trim() === 'ok';
}

describe('faults', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  let client: Awaited<ReturnType<typeof clientPod>>;
  const names = ['a', 'b', 'c'];

  /** Every PortForward Ready with exactly one live helper, and nothing orphaned. */
  async function converged() {
    await eventually('all Ready, one helper each', async () => {
      for (const name of names) {
        const pf = await getPf(ns.name, name);
        if (pf.status?.phase !== 'Ready' || pf.status.observedGeneration !== pf.metadata.generation) return false;
        const helpers = (await helpersOf(pf.metadata.uid)).filter((h) => !h.metadata.deletionTimestamp);
        if (helpers.length !== 1 || helpers[0].metadata.name !== pf.status.helper.pod) return false;
      }
      return true;
    }, 180_000);
    const live = new Set((await getJson(['portforwards', '-A'])).items.map((p: any) => p.metadata.uid));
    const helpers = (await getJson(['pods', '-n', HELPER_NS, '-l', 'app.kubernetes.io/component=helper'])).items;
    const orphans = helpers.filter((h: any) => !h.metadata.deletionTimestamp && !live.has(h.metadata.labels['portforward.io/owner-uid']));
    assert.deepEqual(orphans.map((h: any) => h.metadata.name), [], 'no orphaned helpers');
  }

  const serves = (name: string) => client.curl(`http://pf-${name}.${ns.name}.svc:10080/`);

  /**
   * Requests through a tunnel every 200 ms from inside the client pod, recorded there: they need no
   * API server, so they show whether the data path kept serving while the control plane was away.
   */
  async function startTrafficProbe(name: string) {
    const url = `http://pf-${name}.${ns.name}.svc:10080/`;
    await kubectl(['exec', '-n', ns.name, 'client', '--', 'sh', '-c',
      `rm -f /tmp/probe /tmp/probe.stop; (while [ ! -e /tmp/probe.stop ]; do curl -sf --max-time 2 ${url} >/dev/null && echo ok >>/tmp/probe || echo fail >>/tmp/probe; sleep 0.2; done) >/dev/null 2>&1 &`]);
    return {
      /** Stops the probe; returns how many requests succeeded and failed. */
      async stop() {
        const log = await kubectl(['exec', '-n', ns.name, 'client', '--', 'sh', '-c', 'touch /tmp/probe.stop; sleep 2.5; cat /tmp/probe']);
        const lines = log.split('\n').filter(Boolean);
        return { ok: lines.filter((l) => l === 'ok').length, failed: lines.filter((l) => l === 'fail').length };
      },
    };
  }

  before(async () => {
    ns = await namespaceWithTarget('e2e-faults');
    client = await clientPod(ns.name);
    for (const name of names) await apply(portForward(ns.name, name, { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    for (const name of names) await waitReady(ns.name, name);
    await eventually('tunnels serve', () => serves('a'), 20_000);
  });
  after(async () => {
    await restoreApiServerReach().catch(() => undefined);
    await ns?.remove();
  });

  it('rides out a kube-apiserver restart during reconciles, and tunnels keep serving meanwhile', async () => {
    const probe = await startTrafficProbe('a');
    await apply(portForward(ns.name, 'd', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    names.push('d');
    await component('stop', 'kube-apiserver');
    try {
      assert.equal(await apiServerAnswers(), false);
      await sleep(8000);
    } finally {
      await component('start', 'kube-apiserver');
    }
    await eventually('API server back', apiServerAnswers, 120_000);
    const traffic = await probe.stop();
    assert.ok(traffic.ok > 20, `requests kept succeeding (${traffic.ok} ok)`);
    assert.equal(traffic.failed, 0, 'no request failed while the API server was down');
    await converged();
  });

  it('rides out an etcd restart', async () => {
    await component('restart', 'etcd');
    await eventually('API server ready again', apiServerAnswers, 120_000);
    await apply(portForward(ns.name, 'e', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    names.push('e');
    await converged();
    // CoreDNS's own watch takes a while to resume after etcd restarts; until then the new
    // Service's name does not resolve (curl exit 6), though the tunnel itself is up.
    const byName = () => client.curlOnce(`http://pf-e.${ns.name}.svc:10080/`).catch(() => undefined);
    assert.match(await eventually('the new tunnel serves by name', byName, 60_000), /hello from web/);
  });

  it('converges after the operator is SIGKILLed mid-reconcile, without duplicate helpers', async () => {
    for (const n of ['f', 'g', 'h']) {
      await apply(portForward(ns.name, n, { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
      names.push(n);
    }
    // Right away, while those are being reconciled: kill -9 (no grace).
    await kubectl(['delete', 'pod', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/component=operator', '--grace-period=0', '--force']);
    await converged();
  });

  it('rides out a kubelet restart: helpers keep running and serving', async () => {
    const before = await Promise.all(names.map(async (n) => (await getPf(ns.name, n)).status.helper.pod));
    const probe = await startTrafficProbe('a');
    // The kubelet of the target's node (node N of the local cluster is pfdev-node-N).
    const nodeName: string = (await getPf(ns.name, 'a')).status.target.node;
    const kubelet = `kubelet@${nodeName.replace(/^pfdev-node-/, '')}`;
    await component('stop', kubelet);
    try {
      await sleep(5000);
    } finally {
      await component('start', kubelet);
    }
    await eventually('node Ready', async () => {
      const node = await getJson(['node', nodeName]);
      return node.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True');
    }, 120_000);
    const traffic = await eventually('the probe read back', () => probe.stop(), 60_000);
    assert.equal(traffic.failed, 0, `no request failed while the kubelet was away (${traffic.ok} ok)`);
    await converged();
    const after = await Promise.all(names.map(async (n) => (await getPf(ns.name, n)).status.helper.pod));
    assert.deepEqual(after, before, 'the same helpers: nothing was recreated needlessly');
  });

  it('resumes its watches after being cut off from the API server, and misses nothing', async () => {
    const operator = (await getJson(['pods', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/component=operator'])).items.find(
      (p: any) => !p.metadata.deletionTimestamp,
    );
    const ip: string = operator.status.podIP;
    await cutFromApiServer(ip);
    try {
      // While it is cut off: a new PortForward, and a helper deleted behind its back.
      await apply(portForward(ns.name, 'during-cut', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
      names.push('during-cut');
      const victim = (await getPf(ns.name, 'a')).status.helper.pod;
      await kubectl(['delete', 'pod', '-n', HELPER_NS, victim, '--wait=false']);
      await sleep(20_000);
      assert.notEqual((await getPf(ns.name, 'during-cut')).status?.phase, 'Ready', 'nothing could act while cut off');
    } finally {
      await restoreApiServerReach();
    }
    await converged();
    assert.match(await eventually('traffic through the recreated helper', () => serves('a'), 30_000), /hello from web/);
    assert.match(await eventually('traffic through the new tunnel', () => serves('during-cut'), 30_000), /hello from web/);
  });
});
