// Which pod a tunnel enters, and why it might not enter any.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Namespace, V1Pod } from '@kubernetes/client-node';
import { resolveTarget, type TargetLookup } from '../../src/controller/target.js';
import { pod, validSpec } from './support/fixtures.js';
import { phaseOf } from '../../src/controller/reasons.js';

function lookup(pods: V1Pod[], namespaces: Record<string, Record<string, string>> = {}): TargetLookup {
  return {
    namespace: (name) => (name in namespaces ? ({ metadata: { name, annotations: namespaces[name] } } as V1Namespace) : undefined),
    pod: (ns, name) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name),
    pods: (ns) => pods.filter((p) => p.metadata?.namespace === ns),
    service: () => undefined,
    workload: () => undefined,
  };
}

const ONE_PORT = validSpec({ target: { pod: 'x' }, ports: [{ port: 1 }] }).ports;

const byName = (name: string) => validSpec({ target: { pod: name }, ports: [{ port: 1 }] }).target;
const bySelector = (labels: Record<string, string>) => validSpec({ target: { selector: { matchLabels: labels } }, ports: [{ port: 1 }] }).target;

describe('a named target', () => {
  it('resolves to the pod and its node', () => {
    const r = resolveTarget('team-a', byName('nginx'), ONE_PORT, lookup([pod('team-a', 'nginx', { node: 'n3' })]));
    assert.ok(r.ok);
    assert.deepEqual(r.target, { namespace: 'team-a', pod: 'nginx', uid: 'uid-team-a-nginx', node: 'n3', ips: ['10.1.0.9'], tolerations: [], ports: [1], chosenBy: 'named in spec.target.pod' });
  });

  it('carries the IPs the helper checks its namespace by, and only the NoExecute tolerations that keep it on the node', () => {
    const p = pod('team-a', 'nginx');
    p.status!.podIPs = [{ ip: '10.1.0.9' }, { ip: 'fd00::9' }];
    p.spec!.tolerations = [
      { key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { operator: 'Exists' },
    ];
    const r = resolveTarget('team-a', byName('nginx'), ONE_PORT, lookup([p]));
    assert.ok(r.ok);
    assert.deepEqual(r.target.ips, ['10.1.0.9', 'fd00::9']);
    assert.deepEqual(r.target.tolerations, [p.spec!.tolerations[1], p.spec!.tolerations[2]]);
  });

  it('that runs but has no IP yet is not a target yet', () => {
    const p = pod('team-a', 'nginx');
    delete p.status!.podIP;
    delete p.status!.podIPs;
    const r = resolveTarget('team-a', byName('nginx'), ONE_PORT, lookup([p]));
    assert.ok(!r.ok);
    assert.equal(r.reason, 'TargetNotRunning');
  });

  it('that does not exist yet is Pending TargetNotFound', () => {
    const r = resolveTarget('team-a', byName('nginx'), ONE_PORT, lookup([]));
    assert.ok(!r.ok);
    assert.deepEqual([phaseOf(r.reason), r.reason], ['Pending', 'TargetNotFound']);
  });

  it('that is not running yet, or is terminating, is Pending TargetNotRunning', () => {
    for (const p of [pod('team-a', 'nginx', { phase: 'Pending' }), pod('team-a', 'nginx', { deleting: true })]) {
      const r = resolveTarget('team-a', byName('nginx'), ONE_PORT, lookup([p]));
      assert.ok(!r.ok);
      assert.deepEqual([phaseOf(r.reason), r.reason], ['Pending', 'TargetNotRunning']);
    }
  });

  it('on the host network is refused: Failed TargetUsesHostNetwork', () => {
    const r = resolveTarget('team-a', byName('nginx'), ONE_PORT, lookup([pod('team-a', 'nginx', { hostNetwork: true })]));
    assert.ok(!r.ok);
    assert.deepEqual([phaseOf(r.reason), r.reason], ['Failed', 'TargetUsesHostNetwork']);
  });
});

describe('a selected target', () => {
  const web = (name: string, o: Parameters<typeof pod>[2] = {}) => pod('team-a', name, { labels: { app: 'web' }, ...o });

  it('is the oldest running, ready pod, then the first by name', () => {
    const pods = [
      web('web-c', { created: '2030-01-01T00:00:00Z' }),
      web('web-b', { created: '2029-01-01T00:00:00Z' }),
      web('web-a', { created: '2029-01-01T00:00:00Z' }),
      web('web-old-unready', { created: '2020-01-01T00:00:00Z', ready: false }),
      web('web-old-leaving', { created: '2020-01-01T00:00:00Z', deleting: true }),
      pod('team-a', 'other', { labels: { app: 'db' }, created: '2000-01-01T00:00:00Z' }),
    ];
    const r = resolveTarget('team-a', bySelector({ app: 'web' }), ONE_PORT, lookup(pods));
    assert.ok(r.ok);
    assert.equal(r.target.pod, 'web-a');
  });

  it('stays on the current pod while it remains eligible', () => {
    const pods = [web('web-a', { created: '2029-01-01T00:00:00Z' }), web('web-b', { created: '2030-01-01T00:00:00Z' })];
    const r = resolveTarget('team-a', bySelector({ app: 'web' }), ONE_PORT, lookup(pods), 'uid-team-a-web-b');
    assert.ok(r.ok);
    assert.equal(r.target.pod, 'web-b');
  });

  it('moves on when the current pod is no longer ready', () => {
    const pods = [web('web-a'), web('web-b', { ready: false })];
    const r = resolveTarget('team-a', bySelector({ app: 'web' }), ONE_PORT, lookup(pods), 'uid-team-a-web-b');
    assert.ok(r.ok);
    assert.equal(r.target.pod, 'web-a');
  });

  it('with no eligible pod is Pending NoMatchingPod, naming the selector', () => {
    const r = resolveTarget('team-a', bySelector({ app: 'web' }), ONE_PORT, lookup([web('web-a', { ready: false })]));
    assert.ok(!r.ok);
    assert.deepEqual([phaseOf(r.reason), r.reason], ['Pending', 'NoMatchingPod']);
    assert.match(r.message, /app=web \(1 match but none is running and ready\)/);
  });

  it('supports matchExpressions', () => {
    const target = validSpec({
      target: { selector: { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }, { key: 'app', operator: 'Exists' }] } },
      ports: [{ port: 1 }],
    }).target;
    const pods = [pod('team-a', 'db', { labels: { app: 'x', tier: 'db' } }), pod('team-a', 'fe', { labels: { app: 'x', tier: 'fe' } })];
    const r = resolveTarget('team-a', target, ONE_PORT, lookup(pods));
    assert.ok(r.ok);
    assert.equal(r.target.pod, 'fe');
  });
});

describe('a target in another namespace', () => {
  const target = validSpec({ target: { namespace: 'db', pod: 'pg' }, ports: [{ port: 1 }] }).target;
  const pods = [pod('db', 'pg')];

  it('needs that namespace to list ours in portforward.io/allow-from', () => {
    assert.ok(resolveTarget('team-a', target, ONE_PORT, lookup(pods, { db: { 'portforward.io/allow-from': 'x,team-a' } })).ok);
    assert.ok(resolveTarget('team-a', target, ONE_PORT, lookup(pods, { db: { 'portforward.io/allow-from': '*' } })).ok);
  });

  it('is refused otherwise, with the annotation to add, and without the list it holds already', () => {
    const r = resolveTarget('team-a', target, ONE_PORT, lookup(pods, { db: { 'portforward.io/allow-from': 'team-b' } }));
    assert.ok(!r.ok);
    assert.deepEqual([phaseOf(r.reason), r.reason], ['Failed', 'CrossNamespaceNotAllowed']);
    assert.match(r.message, /kubectl annotate namespace db portforward\.io\/allow-from=team-a /);
    assert.doesNotMatch(r.message, /team-b/, "another namespace's trust is not the requester's business");
  });

  it('is refused when the namespace does not exist, without saying whether it does', () => {
    const missing = resolveTarget('team-a', target, ONE_PORT, lookup(pods));
    const closed = resolveTarget('team-a', target, ONE_PORT, lookup(pods, { db: {} }));
    const listsOthers = resolveTarget('team-a', target, ONE_PORT, lookup(pods, { db: { 'portforward.io/allow-from': 'team-b' } }));
    assert.ok(!missing.ok && !closed.ok && !listsOthers.ok);
    assert.equal(missing.reason, 'CrossNamespaceNotAllowed');
    assert.equal(missing.message, closed.message, 'a namespace that exists reads the same as one that does not');
    assert.equal(missing.message, listsOthers.message);
  });
});

describe('which namespaces a client selector names', () => {
  it('by matchLabels or In on kubernetes.io/metadata.name, ANDed; any other label names none', async () => {
    const { namedNamespaces } = await import('../../src/controller/clients.js');
    const key = 'kubernetes.io/metadata.name';
    assert.deepEqual(namedNamespaces({ matchLabels: { [key]: 'team-b' } }), ['team-b']);
    assert.deepEqual(namedNamespaces({ matchExpressions: [{ key, operator: 'In', values: ['a', 'b'] }] }), ['a', 'b']);
    assert.deepEqual(namedNamespaces({ matchLabels: { [key]: 'a' }, matchExpressions: [{ key, operator: 'In', values: ['a', 'b'] }] }), ['a']);
    assert.equal(namedNamespaces({ matchLabels: { team: 'b' } }), undefined);
    assert.equal(namedNamespaces({ matchExpressions: [{ key, operator: 'NotIn', values: ['a'] }] }), undefined);
    assert.equal(namedNamespaces({}), undefined, '{} is every namespace');
  });
});
