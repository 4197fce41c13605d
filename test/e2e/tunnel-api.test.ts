// The tunnel API (connect.portforward.io), through the real aggregation layer: RBAC in the
// PortForward's own namespace decides, the audit log records it, nothing but the front proxy is
// believed, and a gateway that is down is survivable.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apply, eventually, exec, getJson, httpGet, kubectl, KUBECONFIG, randomName, sleep, testNamespace } from './lib/kube.js';
import { clientPod, namespaceWithTarget, OPERATOR_NS, portForward, waitReady } from './lib/portforward.js';

const AUDIT_LOG = '/var/lib/pfdev/logs/audit.log';
const APISERVICE = 'v1alpha1.connect.portforward.io';
const GATEWAY = 'deployment/portforward-gateway';

/** A kubeconfig for a ServiceAccount, as a tenant would get one. */
async function kubeconfigFor(dir: string, namespace: string, sa: string): Promise<string> {
  const admin = JSON.parse(await kubectl(['config', 'view', '--raw', '--minify', '-o', 'json']));
  const token = (await kubectl(['create', 'token', sa, '-n', namespace, '--duration=30m'])).trim();
  const file = join(dir, `${sa}.kubeconfig`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'u',
      clusters: [{ name: 'c', cluster: admin.clusters[0].cluster }],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'u', context: { cluster: 'c', user: 'u', namespace } }],
    }),
  );
  return file;
}

async function kubectlAs(kubeconfig: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = spawn('kubectl', ['--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  return { code, out, err };
}

/** `kubectl pf ARGS` in the background; output() is everything it printed so far. */
function plugin(kubeconfig: string, args: string[]) {
  const child = spawn('node', ['bin/kubectl-pf.js', '--kubeconfig', kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { output: () => out, stop: () => child.kill('SIGINT'), exited };
}

/** One datagram to a local port and its answer. */
async function udpAsk(port: number, text: string): Promise<string> {
  const socket = createSocket('udp4');
  try {
    const answer = new Promise<string>((resolve) => socket.once('message', (m) => resolve(m.toString())));
    socket.send(text, port, '127.0.0.1');
    return await Promise.race([answer, sleep(2000).then(() => Promise.reject(new Error('no UDP answer within 2 s')))]);
  } finally {
    socket.close();
  }
}

describe('the tunnel API', () => {
  let a: Awaited<ReturnType<typeof testNamespace>>;
  let b: Awaited<ReturnType<typeof testNamespace>>;
  let dir: string;
  let tenant: string;
  const proxyPath = (ns: string, rest = '') => `/apis/connect.portforward.io/v1alpha1/namespaces/${ns}/portforwards/web/proxy/10080/${rest}`;

  before(async () => {
    [a, b] = await Promise.all([namespaceWithTarget('e2e-tapi-a'), namespaceWithTarget('e2e-tapi-b')]);
    for (const ns of [a.name, b.name]) {
      await apply(portForward(ns, 'web', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }, { port: 5353, protocol: 'UDP' }] }));
    }
    // The tenant: the shipped ClusterRole, bound in namespace A only; nothing in portforward-system.
    await apply(
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'tenant', namespace: a.name } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'tunnel-user', namespace: a.name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'portforward-tunnel-user' },
        subjects: [{ kind: 'ServiceAccount', name: 'tenant', namespace: a.name }],
      },
    );
    dir = mkdtempSync(join(tmpdir(), 'pf-tapi-'));
    tenant = await kubeconfigFor(dir, a.name, 'tenant');
    await Promise.all([waitReady(a.name, 'web'), waitReady(b.name, 'web')]);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await Promise.all([a?.remove(), b?.remove()]);
  });

  it('is Available, and kubectl api-resources lists it', async () => {
    const svc = await getJson(['apiservice', APISERVICE]);
    assert.equal(svc.status.conditions.find((c: any) => c.type === 'Available')?.status, 'True');
    const listed = await kubectl(['api-resources', '--api-group=connect.portforward.io', '--no-headers', '--cache-dir', join(dir, 'fresh')]);
    assert.match(listed, /^portforwards\s+connect\.portforward\.io\/v1alpha1\s+true\s+PortForward/m);
    // and `kubectl get portforwards` still means the CRD
    assert.match(await kubectl(['get', 'portforwards', '-n', a.name]), /^web\s+web\s+/m);
  });

  it('serves HTTP through the proxy subresource to a tenant with rights in its namespace only, and names the missing right elsewhere', async () => {
    const own = await kubectlAs(tenant, ['get', '--raw', proxyPath(a.name)]);
    assert.equal(own.code, 0, own.err);
    assert.match(own.out, /hello from web/);
    const other = await kubectlAs(tenant, ['get', '--raw', proxyPath(b.name)]);
    assert.notEqual(other.code, 0);
    assert.match(other.err, new RegExp(`cannot get resource "portforwards/proxy" in API group "connect.portforward.io" in the namespace "${b.name}"`));
    const status = JSON.parse((await kubectlAs(tenant, ['get', '--raw', `/apis/connect.portforward.io/v1alpha1/namespaces/${a.name}/portforwards/web`])).out);
    assert.deepEqual(status.status.access.apiServerProxy, [proxyPath(a.name)]);
  });

  it('records the tunnel in the audit log with the user, the PortForward and the port', async () => {
    const user = `system:serviceaccount:${a.name}:tenant`;
    await kubectlAs(tenant, ['get', '--raw', proxyPath(a.name)]);
    const entry = await eventually('the audit entry', async () =>
      readFileSync(AUDIT_LOG, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((e) => e.user?.username === user && e.objectRef?.apiGroup === 'connect.portforward.io' && e.objectRef?.namespace === a.name),
    20_000);
    assert.equal(entry.objectRef.resource, 'portforwards');
    assert.equal(entry.objectRef.name, 'web');
    assert.equal(entry.objectRef.subresource, 'proxy');
    assert.match(entry.requestURI, /\/proxy\/10080\//);
  });

  it('works through kubectl proxy, a browser at the path without its slash sent to the one with it', async () => {
    const proxy = spawn('kubectl', ['--kubeconfig', KUBECONFIG, 'proxy', '--port=0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      proxy.stdout.on('data', (d) => (out += d));
      const port = await eventually('kubectl proxy listening', async () => /127\.0\.0\.1:(\d+)/.exec(out)?.[1], 20_000);
      const base = `http://127.0.0.1:${port}${proxyPath(a.name)}`;
      assert.match(await (await fetch(base)).text(), /hello from web/);
      // kube-apiserver passes no redirect from an aggregated API: a browser is moved on by the page
      const bare = await fetch(base.replace(/\/$/, ''), { headers: { accept: 'text/html' } });
      assert.equal(bare.status, 200);
      assert.match(bare.headers.get('x-portforward-redirect') ?? '', /^301 10080\/$/);
      assert.match(await bare.text(), /<meta http-equiv="refresh" content="0; url=10080\/">/);
      // a relative link resolves under the port: index.html next to the page
      assert.match(await (await fetch(new URL('index.html', base))).text(), /hello from web/);
    } finally {
      proxy.kill();
    }
  });

  it('refuses a request that does not come through the front proxy, forged identity headers or not', async () => {
    await clientPod(a.name, 'forger');
    const url = `https://portforward-gateway.${OPERATOR_NS}.svc${proxyPath(a.name)}`;
    const answer = await exec(a.name, 'forger', [
      'curl', '-sk', '--max-time', '5', '-w', '\n%{http_code}', '-H', 'X-Remote-User: system:admin', '-H', 'X-Remote-Group: system:masters', url,
    ]);
    const [body, code] = answer.trim().split('\n');
    assert.equal(code, '401', answer);
    assert.match(body ?? '', /front proxy/);
    assert.doesNotMatch(answer, /hello from web/);
  });

  it('carries kubectl pf connect, TCP and UDP, for a tenant with rights in its namespace only; elsewhere it names the missing right', async () => {
    const session = plugin(tenant, ['connect', '-n', a.name, 'web', '33080:10080', '33053:5353/udp']);
    try {
      await eventually('listening', async () => session.output().includes('Forwarding from 127.0.0.1:33053'), 30_000);
      assert.doesNotMatch(session.output(), /note:/, 'the tunnel API, not the fallback');
      assert.match(await eventually('an answer', () => httpGet('http://127.0.0.1:33080/').catch(() => undefined), 30_000), /hello from web/);
      assert.equal(await eventually('a UDP answer', () => udpAsk(33053, 'ping').catch(() => undefined), 30_000), 'echo:ping');
    } finally {
      session.stop();
    }
    assert.equal(await session.exited, 0);
    const user = `system:serviceaccount:${a.name}:tenant`;
    const tunnels = readFileSync(AUDIT_LOG, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"subresource":"portforward"'))
      .map((l) => JSON.parse(l))
      .filter((e) => e.user?.username === user && e.objectRef?.namespace === a.name && e.objectRef?.name === 'web');
    assert.ok(tunnels.some((e) => /[?&]port=10080&protocol=tcp/.test(e.requestURI)), 'the TCP tunnel is in the audit log');
    assert.ok(tunnels.some((e) => /[?&]port=5353&protocol=udp/.test(e.requestURI)), 'the UDP tunnel is in the audit log');

    const refused = plugin(tenant, ['connect', '-n', b.name, 'web', '33081:10080']);
    const code = await refused.exited;
    assert.notEqual(code, 0);
    assert.match(refused.output(), /portforwards/);
    assert.match(refused.output(), new RegExp(`forbidden|cannot get`));
  });

  it('keeps serving new connections when the gateway pod carrying them is killed', async () => {
    const session = plugin(KUBECONFIG, ['connect', '-n', a.name, 'web', '33082:10080']);
    try {
      await eventually('listening', async () => session.output().includes('Forwarding from 127.0.0.1:33082'), 30_000);
      assert.match(await eventually('an answer', () => httpGet('http://127.0.0.1:33082/').catch(() => undefined), 30_000), /hello from web/);
      // A pod's log reaches kubectl through its node's kubelet, a moment after it is written.
      const carrier = await eventually('the gateway pod that carries the tunnel logged it', async () => {
        const logs = await kubectl(['logs', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/component=gateway', '--prefix', '--tail=-1']);
        return [...logs.matchAll(/^\[pod\/(\S+)\/gateway\] .*"tunnel opened".*/gm)].filter((m) => m[0].includes(`"namespace":"${a.name}"`) && m[0].includes('"port":10080')).pop()?.[1];
      }, 20_000);
      await kubectl(['delete', 'pod', '-n', OPERATOR_NS, carrier, '--grace-period=1', '--wait=false']);
      const answers = await eventually('answers again after the kill', async () => {
        const got = await Promise.all([1, 2, 3].map(() => httpGet('http://127.0.0.1:33082/').catch(() => '')));
        return got.every((g) => /hello from web/.test(g)) ? got : undefined;
      }, 60_000);
      assert.equal(answers.length, 3);
    } finally {
      session.stop();
    }
    assert.equal(await session.exited, 0, 'the session survived the gateway pod');
    await kubectl(['rollout', 'status', GATEWAY, '-n', OPERATOR_NS, '--timeout=120s'], { timeoutMs: 130_000 });
  });

  it('with every gateway pod gone, says so in discovery, and a namespace deleted meanwhile finishes once it is back', async () => {
    const doomed = randomName('e2e-tapi-doomed');
    await kubectl(['create', 'namespace', doomed]);
    await kubectl(['scale', GATEWAY, '-n', OPERATOR_NS, '--replicas=0']);
    try {
      await eventually('no gateway pod', async () => (await getJson(['pods', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/component=gateway'])).items.length === 0, 60_000);
      await eventually('the APIService unavailable', async () => {
        const svc = await getJson(['apiservice', APISERVICE]);
        return svc.status.conditions.find((c: any) => c.type === 'Available')?.status === 'False';
      }, 60_000);
      // Kubernetes 1.34 serves aggregated discovery: kubectl prints no warning, the group just drops out.
      const cacheDir = join(dir, 'cache');
      const resources = await kubectlAs(KUBECONFIG, ['api-resources', '--cache-dir', cacheDir]);
      assert.equal(resources.code, 0, resources.err);
      assert.doesNotMatch(resources.out, /connect\.portforward\.io/);
      const pods = await kubectlAs(KUBECONFIG, ['get', 'pods', '-n', a.name, '--cache-dir', join(cacheDir, '2')]);
      assert.equal(pods.code, 0, pods.err);
      assert.equal(pods.err, '', 'ordinary commands print nothing about it');
      const raw = await kubectlAs(KUBECONFIG, ['get', '--raw', '/apis/connect.portforward.io/v1alpha1']);
      assert.match(raw.err, /ServiceUnavailable.*the server is currently unable to handle the request/);
      await kubectl(['delete', 'namespace', doomed, '--wait=false']);
      await eventually('the namespace stuck on discovery', async () => {
        const ns = await getJson(['namespace', doomed]);
        return ns.status.conditions?.some((c: any) => c.type === 'NamespaceDeletionDiscoveryFailure' && c.status === 'True');
      }, 60_000);
    } finally {
      await kubectl(['scale', GATEWAY, '-n', OPERATOR_NS, '--replicas=2']);
    }
    await kubectl(['rollout', 'status', GATEWAY, '-n', OPERATOR_NS, '--timeout=120s'], { timeoutMs: 130_000 });
    await kubectl(['wait', '--for=condition=Available', `apiservice/${APISERVICE}`, '--timeout=60s'], { timeoutMs: 70_000 });
    await eventually('the namespace gone', async () => {
      const left = await kubectl(['get', 'namespace', doomed, '--ignore-not-found', '-o', 'name']);
      return left.trim() === '';
    }, 300_000);
  });

  it('is uninstalled APIService first, so nothing is left to hang on', async () => {
    const plan = await kubectl(['delete', '-k', 'manifests/', '--dry-run=client']);
    const first = plan.split('\n').find(Boolean) ?? '';
    assert.match(first, /^apiservice\.apiregistration\.k8s\.io "v1alpha1\.connect\.portforward\.io" deleted/);
  });
});
