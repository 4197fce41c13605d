// Ready means traffic flows: the first request sent right after `kubectl wait --for=condition=Ready`
// is answered, every time, and a target port that nothing listens on is reported as such.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apply, eventually, exec, kubectl, testNamespace, waitRunning } from './lib/kube.js';
import { clientPod, getPf, loopbackTarget, portForward, waitReady, waitReason } from './lib/portforward.js';

const readyOf = (pf: any) => (pf.status?.conditions ?? []).find((c: any) => c.type === 'Ready');

describe('Ready means traffic flows', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  let client: Awaited<ReturnType<typeof clientPod>>;
  before(async () => {
    ns = await testNamespace('e2e-ready');
    client = await clientPod(ns.name);
  });
  after(async () => ns?.remove());

  /** One request, no retry, through the Service's cluster IP (DNS may lag a new Service by seconds). */
  const firstRequest = (pf: any, port = 10080) => client.curlOnce(`http://${pf.status.service.clusterIP}:${port}/`);

  it('10 new PortForwards in a row, each to a new target: the first request after Ready is answered', async () => {
    const targets = Array.from({ length: 10 }, (_, i) => `web-${i}`);
    await apply(...targets.map((t) => loopbackTarget(ns.name, t)));
    for (const t of targets) await waitRunning(ns.name, t);
    for (const t of targets) {
      await apply(portForward(ns.name, `pf-${t}`, { target: { pod: t }, ports: [{ port: 10080, targetPort: 8080 }] }));
      const pf = await waitReady(ns.name, `pf-${t}`);
      assert.match(await firstRequest(pf), new RegExp(`hello from ${t}`), `pf-${t}: the first request`);
    }
  });

  it('a target deleted and recreated under the same name: once Ready for the new pod, the first request is answered', async () => {
    await apply(loopbackTarget(ns.name, 'again'));
    const old = await waitRunning(ns.name, 'again');
    await apply(portForward(ns.name, 'again', { target: { pod: 'again' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    assert.match(await firstRequest(await waitReady(ns.name, 'again')), /hello from again/);

    await kubectl(['delete', 'pod', '-n', ns.name, 'again', '--wait=true']);
    await apply(loopbackTarget(ns.name, 'again'));
    const fresh = await waitRunning(ns.name, 'again');
    assert.notEqual(fresh.metadata.uid, old.metadata.uid);
    const pf = await eventually('Ready for the new pod', async () => {
      const p = await getPf(ns.name, 'again');
      return p.status?.target?.uid === fresh.metadata.uid && readyOf(p)?.status === 'True' ? p : undefined;
    }, 120_000);
    assert.match(await firstRequest(pf), /hello from again/);
  });

  it('a target port with no listener is not Ready, names the port, and turns Ready once something listens', async () => {
    await apply(loopbackTarget(ns.name, 'late'));
    await waitRunning(ns.name, 'late');
    await apply(portForward(ns.name, 'late', { target: { pod: 'late' }, ports: [{ port: 10099, targetPort: 9999 }] }));
    const closed = await waitReason(ns.name, 'late', 'TargetPortClosed');
    assert.equal(closed.status.phase, 'Pending');
    assert.match(readyOf(closed).message, new RegExp(`Nothing in pod ${ns.name}/late listens on port 9999/TCP \\(tunnel port 10099\\)`));

    await exec(ns.name, 'late', ['sh', '-c', 'nohup python3 -m http.server 9999 --bind 127.0.0.1 --directory /srv >/dev/null 2>&1 &']);
    const pf = await waitReady(ns.name, 'late', 60);
    assert.match(await firstRequest(pf, 10099), /hello from late/);
  });
});
