// kubectl pf list: what each column says of a PortForward, and the table, objects and errors a user
// gets from an API server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PortForward } from '../../src/api/index.js';
import { listRow, listTable, shortDuration, targetText } from '../../src/cli/list-rows.js';
import { readOnlyApi, runMain } from './support/read-only-api.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');

function pf(name: string, spec: object, status?: object, extra: Partial<PortForward['metadata']> = {}): PortForward {
  return {
    apiVersion: 'portforward.io/v1alpha1',
    kind: 'PortForward',
    metadata: { name, namespace: 'team-a', creationTimestamp: new Date('2025-06-01T11:00:00Z'), ...extra },
    spec,
    status: status as PortForward['status'],
  };
}

const ports = [{ port: 10080, targetPort: 8080 }];
const web = pf(
  'web',
  { target: { pod: 'web' }, ports, ttl: '2h' },
  {
    phase: 'Ready',
    service: { namespace: 'team-a', name: 'pf-web', clusterIP: '10.0.0.1' },
    access: { tunnel: ['/apis/connect.portforward.io/v1alpha1/namespaces/team-a/portforwards/web/portforward?port=10080'] },
    expiresAt: '2025-06-01T13:59:30Z',
    connections: { active: 3, total: 10 },
  },
);

describe('kubectl pf list rows', () => {
  it('names the target as kubectl does, with the namespace when it is another', () => {
    assert.equal(targetText({ pod: 'web' }, 'team-a'), 'pod/web');
    assert.equal(targetText({ service: 'db' }, 'team-a'), 'svc/db');
    assert.equal(targetText({ workload: { kind: 'Deployment', name: 'api' } }, 'team-a'), 'deploy/api');
    assert.equal(targetText({ workload: { kind: 'StatefulSet', name: 'db' } }, 'team-a'), 'sts/db');
    assert.equal(targetText({ selector: { matchLabels: { app: 'a', tier: 'b' } } }, 'team-a'), 'selector app=a,tier=b');
    assert.equal(targetText({ pod: 'coredns', namespace: 'kube-system' }, 'team-a'), 'pod/coredns -n kube-system');
    assert.equal(targetText({ pod: 'web', namespace: 'team-a' }, 'team-a'), 'pod/web');
  });

  it('reads phase, ways in, expiry and active connections from the status', () => {
    assert.deepEqual(listRow(web, NOW), {
      namespace: 'team-a',
      name: 'web',
      phase: 'Ready',
      target: 'pod/web',
      waysIn: 'svc/pf-web, tunnel API',
      expires: 'in 1h59m',
      connections: '3',
    });
  });

  it('says - for what the status does not hold yet, and reckons the expiry from the ttl before the operator does', () => {
    const fresh = listRow(pf('new', { target: { service: 'db' }, ports, ttl: '90m' }), NOW);
    assert.deepEqual(
      { phase: fresh.phase, waysIn: fresh.waysIn, expires: fresh.expires, connections: fresh.connections },
      { phase: '-', waysIn: '-', expires: 'in 30m', connections: '-' },
    );
    assert.equal(listRow(pf('no-ttl', { target: { pod: 'x' }, ports }), NOW).expires, '-');
    assert.equal(listRow(pf('later', { target: { pod: 'x' }, ports, ttl: '2h' }), NOW).expires, 'in 1h');
    assert.equal(listRow(pf('gone', { target: { pod: 'x' }, ports }, { phase: 'Expired', expiresAt: '2025-06-01T11:59:00Z' }), NOW).expires, 'now');
  });

  it('shows CONNECTIONS only when status.connections.active is a number', () => {
    const withConnections = (connections: unknown) => listRow(pf('c', { target: { pod: 'x' }, ports }, { phase: 'Ready', connections }), NOW).connections;
    assert.equal(withConnections({ active: 0, total: 4, failed: 1 }), '0');
    assert.equal(withConnections({ total: 4 }), '-');
    assert.equal(withConnections({ active: 'many' }), '-');
    assert.equal(withConnections(undefined), '-');
  });

  it('writes durations with their two largest units', () => {
    assert.deepEqual([45_000, 330_000, 7_140_000, 7_200_000, 266_400_000, 0].map(shortDuration), ['45s', '5m30s', '1h59m', '2h', '3d2h', '0s']);
  });

  it('aligns the columns three spaces apart, with NAMESPACE first for -A', () => {
    const rows = [listRow(web, NOW), listRow(pf('a-longer-name', { target: { service: 'db' }, ports }, { phase: 'Pending' }, { namespace: 'b' }), NOW)];
    assert.deepEqual(listTable(rows, false), [
      'NAME            PHASE     TARGET    WAYS IN                  EXPIRES    CONNECTIONS',
      'web             Ready     pod/web   svc/pf-web, tunnel API   in 1h59m   3',
      'a-longer-name   Pending   svc/db    -                        -          -',
    ]);
    assert.deepEqual(listTable(rows, true).map((l) => l.slice(0, 12)), ['NAMESPACE   ', 'team-a      ', 'b           ']);
  });
});

describe('kubectl pf list against an API server', () => {
  const items = [pf('web', { target: { pod: 'web' }, ports }, { phase: 'Ready' }), pf('db', { target: { service: 'db' }, ports }, { phase: 'Pending' })];
  let api: Awaited<ReturnType<typeof readOnlyApi>>;
  before(async () => {
    api = await readOnlyApi(
      {
        '/apis/portforward.io/v1alpha1/namespaces/team-a/portforwards': { body: { kind: 'PortForwardList', items } },
        '/apis/portforward.io/v1alpha1/namespaces/empty/portforwards': { body: { kind: 'PortForwardList', items: [] } },
        '/apis/portforward.io/v1alpha1/portforwards': { body: { kind: 'PortForwardList', items: [...items, pf('x', { target: { pod: 'x' }, ports }, {}, { namespace: 'other' })] } },
      },
      'team-a',
    );
  });
  after(() => api.close());

  it("lists the context's namespace by default, sorted by name", async () => {
    const r = await runMain('list', '--kubeconfig', api.kubeconfig);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.deepEqual(r.out.map((l) => l.split(/\s{3,}/).slice(0, 3)), [['NAME', 'PHASE', 'TARGET'], ['db', 'Pending', 'svc/db'], ['web', 'Ready', 'pod/web']]);
  });

  it('lists every namespace with -A, and says so when a namespace has none', async () => {
    const all = await runMain('list', '-A', '--kubeconfig', api.kubeconfig);
    assert.equal(api.requests.at(-1), '/apis/portforward.io/v1alpha1/portforwards');
    assert.deepEqual(all.out.map((l) => l.split(/\s+/).slice(0, 2)), [['NAMESPACE', 'NAME'], ['other', 'x'], ['team-a', 'db'], ['team-a', 'web']]);
    const none = await runMain('list', '-n', 'empty', '--kubeconfig', api.kubeconfig);
    assert.deepEqual([none.code, none.out, none.err], [0, [], ['No PortForwards found in namespace empty.']]);
  });

  it('prints names, or the objects as a v1 List, with -o', async () => {
    assert.deepEqual((await runMain('list', '-o', 'name', '--kubeconfig', api.kubeconfig)).out, ['portforward.portforward.io/db', 'portforward.portforward.io/web']);
    const json = JSON.parse((await runMain('list', '-o', 'json', '--kubeconfig', api.kubeconfig)).out.join('\n'));
    assert.equal(json.kind, 'List');
    assert.deepEqual(json.items.map((i: PortForward) => i.metadata.name), ['db', 'web']);
    assert.match((await runMain('list', '-o', 'yaml', '--kubeconfig', api.kubeconfig)).out.join('\n'), /^kind: List$/m);
  });

  it('says the operator is missing when the server does not know PortForwards', async () => {
    const r = await runMain('list', '-n', 'nowhere', '--kubeconfig', api.kubeconfig);
    assert.equal(r.code, 1);
    assert.deepEqual(r.err, ['error: the server does not know PortForwards (portforwards.portforward.io): is the PortForward operator installed?']);
  });
});
