// kubectl pf: a local port carried to a PortForward, surviving what kills kubectl port-forward.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { apply, eventually, httpGet, kubectl, KUBECONFIG, testNamespace, waitRunning } from './lib/kube.js';
import { OPERATOR_NS, helpersOf, loopbackTarget, portForward, waitReady, namespaceWithTarget } from './lib/portforward.js';

const PLUGIN = 'bin/kubectl-pf.js';

/** Starts `kubectl pf ARGS` in the background; output() is everything it printed so far. */
function plugin(args: string[]) {
  const child = spawn('node', [PLUGIN, '--kubeconfig', KUBECONFIG, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { output: () => out, stop: () => child.kill('SIGINT'), exited };
}

describe('kubectl pf connect', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  let uid: string;
  before(async () => {
    ns = await namespaceWithTarget('e2e-plugin');
    await apply(
      portForward(ns.name, 'web', {
        target: { pod: 'web' },
        ports: [{ port: 10080, targetPort: 8080 }, { port: 10081, targetPort: 8080 }],
      }),
    );
    uid = (await waitReady(ns.name, 'web')).metadata.uid;
  });
  after(async () => ns?.remove());

  it('forwards a chosen local port and a free one, printing the lines kubectl prints', async () => {
    const session = plugin(['connect', '-n', ns.name, 'web', '32080:10080', ':10081']);
    try {
      await eventually('two forwards', async () => (session.output().match(/Forwarding from 127\.0\.0\.1/g) ?? []).length === 2, 30_000);
      assert.match(session.output(), /^Forwarding from 127\.0\.0\.1:32080 -> 10080$/m);
      assert.match(session.output(), /^Forwarding from \[::1\]:32080 -> 10080$/m);
      const free = Number(/^Forwarding from 127\.0\.0\.1:(\d+) -> 10081$/m.exec(session.output())![1]);
      assert.ok(free > 0 && free !== 10081);
      assert.match(await httpGet('http://127.0.0.1:32080/'), /hello from web/);
      assert.match(await httpGet('http://[::1]:32080/'), /hello from web/);
      assert.match(await httpGet(`http://127.0.0.1:${free}/`), /hello from web/);
    } finally {
      session.stop();
    }
    assert.equal(await session.exited, 0, 'Ctrl-C ends the session cleanly');
  });

  it('keeps going when the helper pod is replaced, and after a failed connection', async () => {
    const session = plugin(['connect', '-n', ns.name, 'web', '32081:10080']);
    try {
      await eventually('listening', async () => session.output().includes('Forwarding from 127.0.0.1:32081'), 30_000);
      assert.match(await httpGet('http://127.0.0.1:32081/'), /hello from web/);
      const [helper] = await helpersOf(uid);
      await kubectl(['delete', 'pod', '-n', OPERATOR_NS, helper.metadata.name, '--wait=false']);
      // Connections during the switch may fail; the session must not, and must reach the new helper.
      const body = await eventually('traffic through the new helper', async () => {
        const [current] = (await helpersOf(uid)).filter((h) => h.metadata.uid !== helper.metadata.uid);
        return current ? httpGet('http://127.0.0.1:32081/') : undefined;
      }, 90_000);
      assert.match(body, /hello from web/);
    } finally {
      session.stop();
    }
    assert.equal(await session.exited, 0);
  });

  it('refuses bad port syntax and unknown PortForwards with exit code 2 and a clear message', () => {
    const bad = spawnSync('node', [PLUGIN, '--kubeconfig', KUBECONFIG, 'connect', '-n', ns.name, 'web', '70000'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /invalid port "70000"/);
    const unknown = spawnSync('node', [PLUGIN, '--kubeconfig', KUBECONFIG, 'connect', '-n', ns.name, 'nope'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /PortForward "nope" not found/);
  });
});

describe('kubectl pf create', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  before(async () => {
    ns = await namespaceWithTarget('e2e-create');
  });
  after(async () => ns?.remove());

  it('prints the object with --dry-run -o yaml, and creates a PortForward that becomes Ready', async () => {
    const dry = spawnSync('node', [PLUGIN, '--kubeconfig', KUBECONFIG, 'create', 'web', '-n', ns.name, '--pod', 'web', '--port', '10080:8080', '--port', '5353/udp', '--dry-run', '-o', 'yaml'], { encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    assert.match(dry.stdout, /kind: PortForward/);
    assert.match(dry.stdout, /protocol: UDP/);
    const created = spawnSync('node', [PLUGIN, '--kubeconfig', KUBECONFIG, 'create', 'web', '-n', ns.name, '--pod', 'web', '--port', '10080:8080', '--ttl', '1h'], { encoding: 'utf8' });
    assert.equal(created.status, 0, created.stderr);
    const pf = await waitReady(ns.name, 'web');
    assert.equal(pf.spec.ttl, '1h');
    assert.ok(pf.status.expiresAt);
  });

  it('refuses a PortForward with both --pod and --selector, with exit code 2', () => {
    const both = spawnSync('node', [PLUGIN, '--kubeconfig', KUBECONFIG, 'create', 'x', '-n', ns.name, '--pod', 'web', '--selector', 'app=web', '--port', '80'], { encoding: 'utf8' });
    assert.equal(both.status, 2);
    assert.match(both.stderr, /pod|selector/);
  });
});
