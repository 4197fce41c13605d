// One tenant cannot starve the others: a namespace over MAX_HELPERS_PER_NAMESPACE waits while
// another's PortForward becomes Ready; a helper the kubelet rejects is retried with growing delays
// and one counted Event; one client's 2000 idle connections do not stop another's requests; an
// idle connection is closed after idleTimeout; fat pods in the cluster do not make the operator fat.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apply, eventually, exec, getJson, kubectl, sleep, testNamespace, toolboxPod, waitRunning } from './lib/kube.js';
import { OPERATOR_NS, clientPod, eventsFor, getPf, namespaceWithTarget, portForward, restartOperatorWith, waitReady, waitReason } from './lib/portforward.js';

const ports = [{ port: 10080, targetPort: 8080 }];

/** Bytes in a Kubernetes memory quantity such as 64Mi, 1Gi, 500M or 1048576. */
function bytesOf(quantity: string): number {
  const m = quantity.match(/^(\d+(?:\.\d+)?)([KMGT]i?|k)?$/);
  if (!m) throw new Error(`not a memory quantity: ${quantity}`);
  const units: Record<string, number> = { '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(m[1]) * units[m[2] ?? '']!;
}

describe('a helper the kubelet rejects', () => {
  let ns: Awaited<ReturnType<typeof namespaceWithTarget>>;
  before(async () => {
    ns = await namespaceWithTarget('e2e-lim-full');
  });
  after(async () => {
    await ns?.remove();
  });

  it('is retried with growing delays, with one Event counted up, and starts once the node has room', async (t) => {
    // Fill the node's memory requests, so that a helper (16Mi) no longer fits: the kubelet admits
    // pods by requests, and rejects the helper (bound to the node) with OutOfmemory. The target's
    // node: the helper is bound to it.
    const target = await getJson(['pod', '-n', ns.name, 'web']);
    const node = await getJson(['node', target.spec.nodeName]);
    const allocatable = bytesOf(node.status.allocatable.memory);
    // Pods still terminating (earlier tests' namespaces) would free their requests meanwhile and
    // make room for the helper after all: wait until they are gone.
    const onNode = async () => (await getJson(['pods', '-A', '--field-selector', `spec.nodeName=${node.metadata.name}`])).items;
    await eventually('no pod terminating on the node', async () => (await onNode()).every((p: any) => !p.metadata.deletionTimestamp), 180_000);
    const pods = (await onNode()).filter((p: any) => !['Succeeded', 'Failed'].includes(p.status.phase));
    const requested = pods
      .flatMap((p: any) => p.spec.containers)
      .reduce((sum: number, c: any) => sum + (c.resources?.requests?.memory ? bytesOf(c.resources.requests.memory) : 0), 0);
    const filler = toolboxPod(ns.name, 'filler', 'exec sleep infinity', { nodeName: node.metadata.name }) as any;
    filler.spec.containers[0].resources = { requests: { memory: String(Math.floor(allocatable - requested - 8 * 2 ** 20)) } };
    await apply(filler);
    await waitRunning(ns.name, 'filler');
    try {
      await apply(portForward(ns.name, 'web', { target: { pod: 'web' }, ports }));
      const pf = await waitReason(ns.name, 'web', 'HelperBackoff', 90_000);
      assert.match(pf.status.conditions.find((c: any) => c.type === 'Ready').message, /failed \(\d+ in a row\), last: OutOfmemory/);
      await sleep(30_000); // a helper recreated about once a second would be ~30 more
      const created = (await eventsFor(ns.name, 'web')).filter((e: any) => e.reason === 'HelperCreated');
      const attempts = created.reduce((sum: number, e: any) => sum + (e.count ?? 1), 0);
      t.diagnostic(`${attempts} helpers in the first ~35 s, ${created.length} Event object(s)`);
      assert.equal(created.length, 1, 'the same Event counted up, not one per attempt');
      assert.ok(attempts >= 2 && attempts <= 6, `retried with growing delays (2 s, 4 s, 8 s, 16 s...): ${attempts} attempts`);
    } finally {
      await kubectl(['delete', 'pod', '-n', ns.name, 'filler', '--wait=false']);
    }
    await waitReady(ns.name, 'web', 120); // the next retry comes within the longest delay so far
  });
});

describe('a namespace with more PortForwards than MAX_HELPERS_PER_NAMESPACE', () => {
  let busy: Awaited<ReturnType<typeof namespaceWithTarget>>;
  let quiet: Awaited<ReturnType<typeof namespaceWithTarget>>;
  before(async () => {
    [busy, quiet] = await Promise.all([namespaceWithTarget('e2e-lim-busy'), namespaceWithTarget('e2e-lim-quiet')]);
    await restartOperatorWith('MAX_HELPERS_PER_NAMESPACE=2');
  });
  after(async () => {
    await restartOperatorWith('MAX_HELPERS_PER_NAMESPACE-');
    await Promise.all([busy?.remove(), quiet?.remove()]);
  });

  it('gets a clear condition on the extra ones, while another namespace\'s new PortForward becomes Ready', async (t) => {
    for (let i = 0; i < 4; i++) await apply(portForward(busy.name, `pf-${i}`, { target: { pod: 'web' }, ports }));
    await Promise.all([waitReady(busy.name, 'pf-0'), waitReady(busy.name, 'pf-1')]);
    for (const name of ['pf-2', 'pf-3']) {
      const pf = await waitReason(busy.name, name, 'NamespaceLimitReached');
      assert.equal(pf.status.phase, 'Pending');
      assert.match(pf.status.conditions.find((c: any) => c.type === 'Ready').message, /more PortForwards than the 2 that may have a helper at once \(MAX_HELPERS_PER_NAMESPACE\)/);
      assert.equal(pf.status.helper, undefined, `${name} has no helper`);
    }
    const started = Date.now();
    await apply(portForward(quiet.name, 'web', { target: { pod: 'web' }, ports }));
    await waitReady(quiet.name, 'web');
    t.diagnostic(`another namespace's PortForward Ready in ${Date.now() - started} ms while ${busy.name} waits over its limit`);

    await kubectl(['delete', 'portforward', '-n', busy.name, 'pf-0']);
    await waitReady(busy.name, 'pf-2'); // the next in line, by age
    assert.equal((await getPf(busy.name, 'pf-3')).status.conditions.find((c: any) => c.type === 'Ready').reason, 'NamespaceLimitReached');
  });
});

describe('a tunnel under abuse', () => {
  let ns: Awaited<ReturnType<typeof namespaceWithTarget>>;
  before(async () => {
    ns = await namespaceWithTarget('e2e-lim-abuse');
    await apply(
      portForward(ns.name, 'web', { target: { pod: 'web' }, ports }),
      portForward(ns.name, 'short', { target: { pod: 'web' }, ports, idleTimeout: '5s' }),
    );
    await Promise.all([waitReady(ns.name, 'web'), waitReady(ns.name, 'short')]);
  });
  after(async () => {
    await ns?.remove();
  });

  it('keeps answering another client while one holds 2000 idle connections', async (t) => {
    // The hog opens 2000 connections, keeps them, and counts those the relay has not closed.
    const hog =
      'import socket,time,json,select\n' +
      'socks=[]\n' +
      'for i in range(2000):\n' +
      '  s=socket.socket();s.settimeout(3)\n' +
      '  try: s.connect(("pf-web",10080)); socks.append(s)\n' +
      '  except OSError: s.close()\n' +
      'time.sleep(2)\n' +
      'p=select.poll()\n' +
      'for s in socks: p.register(s, select.POLLIN)\n' +
      'r=p.poll(0)\n' +
      'open("/tmp/status","w").write(json.dumps({"connected":len(socks),"closedByRelay":len(r)}))\n' +
      'time.sleep(3600)\n';
    await apply(toolboxPod(ns.name, 'hog', `ulimit -n 8192; exec python3 -c '${hog}'`));
    await waitRunning(ns.name, 'hog');
    const status = await eventually('the hog holds its connections', async () => {
      const out = await exec(ns.name, 'hog', ['cat', '/tmp/status']).catch(() => '');
      return out ? JSON.parse(out) : undefined;
    }, 120_000);
    const held = status.connected - status.closedByRelay;
    t.diagnostic(`one client: ${status.connected} connects, ${status.closedByRelay} closed at once by the relay, ${held} held`);
    assert.ok(held <= 512, `at most --max-conns-per-source (512) held by one client: ${held}`);
    const other = await clientPod(ns.name);
    assert.match(await other.curl(`http://pf-web.${ns.name}.svc:10080/`), /hello from web/);
    await kubectl(['delete', 'pod', '-n', ns.name, 'hog', '--grace-period=0', '--force']);
  });

  it('closes a connection that carried nothing for its idleTimeout', async () => {
    await clientPod(ns.name, 'idler');
    const idle =
      'import socket,time\n' +
      's=socket.create_connection(("pf-short",10080),timeout=30)\n' +
      't=time.time()\n' +
      'data=s.recv(1)\n' +
      'print("closed" if data==b"" else "data", round(time.time()-t,1))\n';
    const out = (await exec(ns.name, 'idler', ['python3', '-c', idle], 60_000)).trim();
    const [what, seconds] = out.split(' ');
    assert.equal(what, 'closed', out);
    assert.ok(Number(seconds) >= 4 && Number(seconds) < 20, `closed after about 5 s of silence: ${out}`);
  });
});

describe('an operator in a cluster of fat pods', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  before(async () => {
    ns = await testNamespace('e2e-lim-fat');
  });
  after(async () => {
    await ns?.remove();
  });

  it('stays under 150 MB with 1000 pods of 50 KB annotations each', async (t) => {
    const blob = 'x'.repeat(50_000);
    const fat = (i: number) => {
      const pod = toolboxPod(ns.name, `fat-${i}`, 'exec sleep infinity') as any;
      pod.metadata.annotations = { 'e2e.portforward.io/blob': blob };
      pod.spec.nodeSelector = { 'e2e.portforward.io/nowhere': 'true' }; // stays Pending: nothing runs
      return pod;
    };
    for (let i = 0; i < 1000; i += 25) {
      const items = Array.from({ length: 25 }, (_, j) => fat(i + j));
      await kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items }), timeoutMs: 120_000 });
    }
    const operator = (await getJson(['pods', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/component=operator', '--field-selector=status.phase=Running'])).items[0];
    const rss = async () => {
      const metrics = await kubectl(['get', '--raw', `/api/v1/namespaces/${OPERATOR_NS}/pods/${operator.metadata.name}:8080/proxy/metrics`]);
      return Number(metrics.match(/^process_resident_memory_bytes (\S+)$/m)![1]) / 2 ** 20;
    };
    await sleep(10_000); // every watch event in
    const mib = await rss();
    t.diagnostic(`operator resident memory with 1000 fat pods: ${mib.toFixed(1)} MiB`);
    assert.ok(mib < 150, `${mib.toFixed(1)} MiB`);
  });
});
