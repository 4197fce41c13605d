// The classic data path (HELPER_DATA_PATH=exec: socat, and nsenter + socat per connection), kept as
// the alternative and the benchmark baseline: a helper built by the operator's own builder with
// that path, run beside the operator (labelled so that the operator leaves it alone), carries TCP
// and UDP to a target that listens on 127.0.0.1 only.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apply, eventually, getJson, kubectl, testNamespace, waitRunning } from './lib/kube.js';
import { HELPER_NS, classicHelper, clientPod, loopbackTarget } from './lib/portforward.js';

describe('the classic exec data path', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  let client: Awaited<ReturnType<typeof clientPod>>;
  let helperName = '';
  let helperIP = '';

  before(async () => {
    ns = await testNamespace('e2e-classic');
    await apply(loopbackTarget(ns.name, 'web'));
    await waitRunning(ns.name, 'web');
    client = await clientPod(ns.name);
    const target = await getJson(['pod', '-n', ns.name, 'web']);
    const spec = { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }, { port: 5353, protocol: 'UDP' }] };
    const [helper, policy] = classicHelper(ns.name, 'e2e-classic', spec, target);
    helperName = helper.metadata!.name!;
    await apply(helper, policy);
    const ready = await eventually('the classic helper Ready', async () => {
      const p = await getJson(['pod', '-n', HELPER_NS, helperName]);
      return p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ? p : undefined;
    }, 90_000);
    helperIP = ready.status.podIP;
  });
  after(async () => {
    if (helperName) await kubectl(['delete', 'pod,networkpolicy', '-n', HELPER_NS, helperName, '--ignore-not-found', '--wait=false']);
    await ns?.remove();
  });

  it('pins the namespace through pf-relay, which checked it carries the pod IP', async () => {
    const logs = await kubectl(['logs', '-n', HELPER_NS, helperName]);
    assert.match(logs, /pf-relay: target pod [0-9a-f-]+: network namespace \d+ of PID \d+ \(\w+\), which carries the pod's IP/);
    assert.match(logs, /pinned at \/run\/netns\/target/);
    assert.match(logs, /relay tcp :10080 -> target localhost:8080 .*data path exec/);
  });

  it('carries TCP to a server bound to 127.0.0.1', async () => {
    assert.match(await client.curl(`http://${helperIP}:10080/`), /hello from web/);
  });

  it('carries UDP datagrams both ways', async () => {
    assert.equal((await client.udp(helperIP, 5353, 'ping')).trim(), 'echo:ping');
  });
});
