// `kubectl pf create`: the PortForward a user's flags describe, and what they hear when the flags are wrong.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { parseSpec } from '../../src/api/index.js';
import { UsageError } from '../../src/cli/args.js';
import { buildPortForward, parseDryRun, parseOutput, parseSelector, render, runCreate, type CreateInput } from '../../src/cli/create.js';

const base: CreateInput = { name: 'web', namespace: 'team-a', pod: 'nginx', ports: ['10080:80'] };

function problem(input: Partial<CreateInput>): string {
  try {
    buildPortForward({ ...base, ...input });
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    return err.message;
  }
  assert.fail('expected a UsageError');
}

describe('create builds the PortForward the flags describe', () => {
  it('a tunnel to port 80 of pod nginx, listening on 10080', () => {
    assert.deepEqual(buildPortForward(base), {
      apiVersion: 'portforward.io/v1alpha1',
      kind: 'PortForward',
      metadata: { name: 'web', namespace: 'team-a' },
      spec: { target: { pod: 'nginx' }, ports: [{ port: 10080, targetPort: 80, protocol: 'TCP' }] },
    });
  });

  it('any pod with some labels, in another namespace, UDP too, for two hours', () => {
    const pf = buildPortForward({
      name: 'dns',
      namespace: 'team-a',
      selector: 'k8s-app=kube-dns,tier=node',
      targetNamespace: 'kube-system',
      ports: ['10053:53/udp', '10053:53'],
      ttl: '2h',
    });
    assert.deepEqual(pf.spec, {
      target: { selector: { matchLabels: { 'k8s-app': 'kube-dns', tier: 'node' } }, namespace: 'kube-system' },
      ports: [
        { port: 10053, targetPort: 53, protocol: 'UDP' },
        { port: 10053, targetPort: 53, protocol: 'TCP' },
      ],
      ttl: '2h',
    });
  });

  it('what it builds is valid for the operator', () => {
    const pf = buildPortForward({ ...base, ports: ['8080', '9090:90/udp'], ttl: '1h30m' });
    assert.equal(parseSpec(pf.spec).ok, true);
  });
});

describe('create explains bad flags in one line', () => {
  it('needs a name, a valid one', () => {
    assert.match(problem({ name: undefined }), /^NAME is required/);
    assert.match(problem({ name: 'Web_1' }), /^invalid name "Web_1"/);
  });

  it('needs exactly one of --pod or --selector', () => {
    assert.equal(problem({ pod: undefined }), 'set exactly one of --pod (a pod name), --selector (labels of the pods to reach) or --target (svc/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME or pod/NAME)');
    assert.equal(problem({ selector: 'app=web' }), 'set exactly one of --pod (a pod name), --selector (labels of the pods to reach) or --target (svc/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME or pod/NAME)');
  });

  it('needs at least one --port, each well formed', () => {
    assert.equal(problem({ ports: [] }), 'at least one --port is required, e.g. --port 8080 or --port 10080:80');
    assert.match(problem({ ports: ['http'] }), /^invalid --port "http"/);
  });

  it('rejects a ttl the operator would not understand', () => {
    assert.equal(problem({ ttl: '2 hours' }), 'invalid --ttl "2 hours": use a duration like 90s, 30m, 2h, 1h30m or 7d');
  });

  it('passes on the schema\'s own message for what only the schema knows', () => {
    assert.equal(problem({ ports: ['80', '80'] }), 'spec.ports: each port may appear only once per protocol');
    assert.match(problem({ pod: 'Not_A_Pod' }), /^spec\.target\.pod: /);
    assert.match(problem({ targetNamespace: 'Bad NS' }), /^spec\.target\.namespace: /);
    assert.match(problem({ pod: undefined, selector: 'app=-bad-' }), /^spec\.target\.selector\.matchLabels\.app: /);
  });

  it('reads selectors as key=value pairs only', () => {
    assert.deepEqual(parseSelector('app=web, tier==front'), { app: 'web', tier: 'front' });
    assert.throws(() => parseSelector('app'), /"app" is not key=value/);
    assert.throws(() => parseSelector('app!=web'), /"app!=web" is not key=value/);
    assert.throws(() => parseSelector('app=a,app=b'), /"app" is given twice/);
  });
});

describe('create output', () => {
  it('prints yaml, json or the resource name', () => {
    const pf = buildPortForward(base);
    assert.match(render(pf, 'yaml', 'web'), /^apiVersion: portforward\.io\/v1alpha1\nkind: PortForward\n/);
    assert.deepEqual(JSON.parse(render(pf, 'json', 'web')), pf);
    assert.equal(render(pf, 'name', 'web'), 'portforward.portforward.io/web');
  });

  it('knows the --dry-run and -o values kubectl knows', () => {
    assert.equal(parseDryRun(undefined), 'none');
    assert.equal(parseDryRun('client'), 'client');
    assert.equal(parseDryRun('server'), 'server');
    assert.throws(() => parseDryRun('yes'), /invalid --dry-run "yes"/);
    assert.equal(parseOutput('yaml'), 'yaml');
    assert.throws(() => parseOutput('wide'), /invalid --output "wide": use yaml, json or name/);
  });
});

describe('create against the API server', () => {
  /** A stand-in API server that keeps one PortForward and records the requests it gets. */
  async function fakeApi(): Promise<{ url: string; requests: { method: string; url: string; type: string; body: unknown }[]; stored: () => unknown; close: () => void }> {
    let stored: Record<string, unknown> | undefined;
    const requests: { method: string; url: string; type: string; body: unknown }[] = [];
    const server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const body: unknown = text ? JSON.parse(text) : undefined;
        requests.push({ method: req.method ?? '', url: req.url ?? '', type: String(req.headers['content-type'] ?? ''), body });
        const json = (code: number, obj: unknown): void => {
          res.writeHead(code, { 'Content-Type': 'application/json' }).end(JSON.stringify(obj));
        };
        if (!req.url?.startsWith('/apis/portforward.io/v1alpha1/namespaces/team-a/portforwards/web')) return json(404, { kind: 'Status', code: 404, message: 'nope' });
        if (req.method === 'GET') {
          return stored ? json(200, stored) : json(404, { kind: 'Status', code: 404, message: 'not found', details: { name: 'web' } });
        }
        if (req.method === 'PATCH' || req.method === 'PUT') {
          const applied = body as { metadata: Record<string, unknown>; spec: unknown };
          stored = { ...applied, metadata: { ...applied.metadata, resourceVersion: String(requests.length) } };
          return json(200, stored);
        }
        json(405, { kind: 'Status', code: 405, message: 'method not allowed' });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, requests, stored: () => stored, close: () => server.close() };
  }

  function kubeConfigFor(server: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server, skipTLSVerify: true }],
      users: [{ name: 'me', token: 'secret' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'me' }],
      currentContext: 'fake',
    });
    return kc;
  }

  it('applies the PortForward with server-side apply as kubectl-pf, and says created, unchanged, configured', async () => {
    const api = await fakeApi();
    try {
      const kc = kubeConfigFor(api.url);
      const lines: string[] = [];
      const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(`ERR ${l}`) };
      const manifest = buildPortForward(base);
      assert.equal(await runCreate({ kc, manifest, dryRun: 'none', io }), 0);
      const patch = api.requests.find((r) => r.method === 'PATCH');
      assert.ok(patch, 'a PATCH was sent');
      assert.equal(patch.type, 'application/apply-patch+yaml');
      assert.match(patch.url, /fieldManager=kubectl-pf/);
      assert.match(patch.url, /force=true/);
      assert.deepEqual(patch.body, manifest);

      assert.equal(await runCreate({ kc, manifest, dryRun: 'none', io }), 0);
      const changed = buildPortForward({ ...base, ports: ['10080:8080'] });
      assert.equal(await runCreate({ kc, manifest: changed, dryRun: 'none', io }), 0);
      assert.deepEqual(lines, [
        'portforward.portforward.io/web created',
        'portforward.portforward.io/web unchanged',
        'portforward.portforward.io/web configured',
      ]);
      assert.deepEqual((api.stored() as { spec: unknown }).spec, changed.spec);
    } finally {
      api.close();
    }
  });
});

describe('create --target', () => {
  it('names a Service or a workload as kubectl does, with a targetPort by name', () => {
    const manifest = (target: string, port = '10080:http') => buildPortForward({ name: 'web', namespace: 'team-a', target, ports: [port] }).spec;
    assert.deepEqual(manifest('svc/web'), { target: { service: 'web' }, ports: [{ port: 10080, targetPort: 'http', protocol: 'TCP' }] });
    assert.deepEqual(manifest('deployment.apps/api', '8080').target, { workload: { kind: 'Deployment', name: 'api' } });
    assert.deepEqual(manifest('sts/db', '5432').target, { workload: { kind: 'StatefulSet', name: 'db' } });
    assert.deepEqual(manifest('pod/nginx', '80').target, { pod: 'nginx' });
    assert.throws(() => manifest('job/x', '80'), /"job" is not a kind forward knows/);
    assert.throws(() => buildPortForward({ name: 'web', namespace: 'a', target: 'svc/web', pod: 'x', ports: ['80'] }), /set exactly one of --pod/);
  });
});
