// kubectl pf: a local port carried to a PortForward, surviving what kills kubectl port-forward.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apply, eventually, httpGet, kubectl, KUBECONFIG, testNamespace, waitRunning } from './lib/kube.js';
import { HELPER_NS, helpersOf, loopbackTarget, portForward, waitReady, namespaceWithTarget } from './lib/portforward.js';

const PLUGIN = 'bin/kubectl-pf.js';

/** Starts `kubectl pf ARGS` in the background (by default from tsc's output); output() is everything it printed so far. */
function plugin(args: string[], kubeconfig = KUBECONFIG, command = ['node', PLUGIN]) {
  const [file, ...leading] = command as [string, ...string[]];
  const child = spawn(file, [...leading, '--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { output: () => out, stop: () => child.kill('SIGINT'), exited };
}

const role = (namespace: string, name: string, rules: object[]) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name, namespace }, rules });
const binding = (namespace: string, name: string, userNamespace: string, user: string) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name, namespace },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
  subjects: [{ kind: 'ServiceAccount', name: user, namespace: userNamespace }],
});

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
      await kubectl(['delete', 'pod', '-n', HELPER_NS, helper.metadata.name, '--wait=false']);
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

  it('works for a user with rights only in the PortForward\'s namespace (read it, and the tunnel API); without the tunnel right, says what is missing', async () => {
    const user = 'pf-user';
    const tunnelRole = 'connect-portforwards';
    await apply(
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: user, namespace: ns.name } },
      role(ns.name, 'read-portforwards', [{ apiGroups: ['portforward.io'], resources: ['portforwards'], verbs: ['get', 'list', 'watch'] }]),
      binding(ns.name, 'read-portforwards', ns.name, user),
      role(ns.name, tunnelRole, [{ apiGroups: ['connect.portforward.io'], resources: ['portforwards/portforward'], verbs: ['get', 'create'] }]),
      binding(ns.name, tunnelRole, ns.name, user),
    );
    const dir = mkdtempSync(join(tmpdir(), 'pf-user-'));
    try {
      const kubeconfigOf = JSON.parse(await kubectl(['config', 'view', '--raw', '--minify', '-o', 'json']));
      const token = (await kubectl(['create', 'token', user, '-n', ns.name, '--duration=10m'])).trim();
      const userConfig = join(dir, 'kubeconfig');
      writeFileSync(userConfig, JSON.stringify({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'user',
        clusters: [{ name: 'c', cluster: kubeconfigOf.clusters[0].cluster }],
        users: [{ name: 'u', user: { token } }],
        contexts: [{ name: 'user', context: { cluster: 'c', user: 'u', namespace: ns.name } }],
      }));
      const allowed = plugin(['connect', 'web', '32082:10080'], userConfig);
      try {
        await eventually('listening', async () => allowed.output().includes('Forwarding from 127.0.0.1:32082'), 30_000);
        assert.match(await eventually('an answer', () => httpGet('http://127.0.0.1:32082/').catch(() => undefined), 30_000), /hello from web/);
      } finally {
        allowed.stop();
      }
      assert.equal(await allowed.exited, 0);

      await kubectl(['delete', 'rolebinding', '-n', ns.name, tunnelRole]);
      const refused = plugin(['connect', 'web', '32083:10080'], userConfig);
      try {
        await eventually('listening', async () => refused.output().includes('Forwarding from 127.0.0.1:32083'), 30_000);
        const line = await eventually('the refusal', async () => {
          await httpGet('http://127.0.0.1:32083/').catch(() => undefined);
          return /^an error occurred forwarding 32083 -> 10080: .*$/m.exec(refused.output())?.[0];
        }, 30_000);
        // The server's own sentence (kube-apiserver's, or the gateway's), naming the right.
        assert.match(line, /forbidden|may not use/);
        assert.match(line, /portforwards\/portforward/);
        assert.match(line, /connect\.portforward\.io/);
      } finally {
        refused.stop();
      }
      assert.equal(await refused.exited, 0, 'a refused connection does not end the session');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await kubectl(['delete', 'role,rolebinding', '-n', ns.name, tunnelRole, '--ignore-not-found']);
    }
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
    assert.equal(both.stderr.trim(), 'error: set exactly one of --pod (a pod name), --selector (labels of the pods to reach) or --target (svc/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME or pod/NAME)');
  });
});

describe('kubectl pf installed: the bundle alone in a folder, as npm or krew install it', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  let dir = '';
  let bundle = '';
  before(async () => {
    ns = await namespaceWithTarget('e2e-bundle');
    await apply(portForward(ns.name, 'web', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    await waitReady(ns.name, 'web');
    // outside the repository: no node_modules, no package.json above it (npm test bundles it first)
    dir = mkdtempSync(join(tmpdir(), 'kubectl-pf-installed-'));
    bundle = join(dir, 'kubectl-pf');
    copyFileSync('dist/kubectl-pf', bundle);
    copyFileSync('bin/kubectl_complete-pf', join(dir, 'kubectl_complete-pf'));
    chmodSync(bundle, 0o755);
    chmodSync(join(dir, 'kubectl_complete-pf'), 0o755);
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await ns?.remove();
  });

  it('connects to the PortForward', async () => {
    const session = plugin(['connect', '-n', ns.name, 'web', '32090:10080'], KUBECONFIG, [bundle]);
    try {
      await eventually('listening', async () => session.output().includes('Forwarding from 127.0.0.1:32090'), 30_000);
      assert.match(await eventually('an answer', () => httpGet('http://127.0.0.1:32090/').catch(() => undefined), 30_000), /hello from web/);
    } finally {
      session.stop();
    }
    assert.equal(await session.exited, 0, session.output());
  });

  it('lists it, in its namespace and with -A', () => {
    const listed = spawnSync(bundle, ['--kubeconfig', KUBECONFIG, 'list', '-n', ns.name], { cwd: dir, encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    const [header, row, ...more] = listed.stdout.trimEnd().split('\n');
    assert.match(header!, /^NAME +PHASE +TARGET +WAYS IN +EXPIRES +CONNECTIONS$/);
    assert.match(row!, /^web +Ready +pod\/web +svc\/pf-web, tunnel API +- +\S+$/);
    assert.deepEqual(more, []);
    const all = spawnSync(bundle, ['--kubeconfig', KUBECONFIG, 'list', '-A'], { cwd: dir, encoding: 'utf8' });
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stdout, new RegExp(`^${ns.name} +web +Ready +pod/web `, 'm'));
  });

  it('completes its name, for kubectl through kubectl_complete-pf on PATH', () => {
    const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, KUBECONFIG };
    const lines = (r: ReturnType<typeof spawnSync>) => String(r.stdout).split('\n').filter(Boolean);
    const own = spawnSync(join(dir, 'kubectl_complete-pf'), ['connect', '-n', ns.name, ''], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(own.status, 0, own.stderr);
    assert.deepEqual(lines(own), ['web', ':4']);
    // what the shell asks when the user types `kubectl pf connect -n NS <TAB>`
    const viaKubectl = spawnSync('kubectl', ['__complete', 'pf', 'connect', '-n', ns.name, ''], { cwd: dir, env, encoding: 'utf8' });
    assert.equal(viaKubectl.status, 0, viaKubectl.stderr);
    assert.ok(lines(viaKubectl).includes('web'), String(viaKubectl.stdout));
    assert.equal(lines(viaKubectl).at(-1), ':4');
  });

  it('prints its version and what the cluster serves', () => {
    const r = spawnSync(bundle, ['--kubeconfig', KUBECONFIG, 'version'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Client Version: v\d+\.\d+\.\d+/);
    assert.match(r.stdout, /^Server Version: v1\./m);
    assert.match(r.stdout, /^PortForwards \(portforward\.io\/v1alpha1\): served$/m);
    assert.match(r.stdout, /^Tunnel API \(connect\.portforward\.io\/v1alpha1\): served$/m);
  });
});
