// Which pod a tunnel enters, and why it might not enter any.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Namespace, V1Pod, V1Service } from '@kubernetes/client-node';
import type { Workload } from '../../src/kube/workloads.js';
import { resolveTarget, type TargetLookup } from '../../src/controller/target.js';
import { pod, validSpec } from './support/fixtures.js';
import { phaseOf } from '../../src/controller/reasons.js';
import { parseSpec } from '../../src/api/index.js';

function lookup(pods: V1Pod[], namespaces: Record<string, Record<string, string>> = {}, services: V1Service[] = [], workloads: Workload[] = []): TargetLookup {
  return {
    namespace: (name) => (name in namespaces ? ({ metadata: { name, annotations: namespaces[name] } } as V1Namespace) : undefined),
    pod: (ns, name) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name),
    pods: (ns) => pods.filter((p) => p.metadata?.namespace === ns),
    service: (ns, name) => services.find((svc) => svc.metadata?.namespace === ns && svc.metadata?.name === name),
    workload: (kind, ns, name) => workloads.find((w) => w.kind === kind && w.metadata?.namespace === ns && w.metadata?.name === name),
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

/** A pod with named container ports, owned by `owner` (kind, name, uid). */
function podWith(name: string, o: { labels?: Record<string, string>; ports?: [string, number, string?][]; owner?: [string, string, string]; created?: string; ready?: boolean } = {}): V1Pod {
  const p = pod('team-a', name, { labels: o.labels ?? { app: 'web' }, created: o.created, ready: o.ready });
  p.spec!.containers[0]!.ports = (o.ports ?? []).map(([n, containerPort, protocol]) => ({ name: n, containerPort, protocol: protocol ?? 'TCP' }));
  if (o.owner) p.metadata!.ownerReferences = [{ apiVersion: 'apps/v1', kind: o.owner[0], name: o.owner[1], uid: o.owner[2], controller: true }];
  return p;
}

const ports = (...list: object[]) => validSpec({ target: { pod: 'x' }, ports: list }).ports;
const target = (t: object) => validSpec({ target: t, ports: [{ port: 1 }] }).target;

describe('a container port by name', () => {
  it('leads each port to the number of that name, for its protocol', () => {
    const web = podWith('web', { ports: [['http', 8080], ['dns', 53, 'UDP'], ['dns', 5353]] });
    const r = resolveTarget('team-a', target({ pod: 'web' }), ports({ port: 80, targetPort: 'http' }, { port: 53, targetPort: 'dns', protocol: 'UDP' }, { port: 9 }), lookup([web]));
    assert.ok(r.ok);
    assert.deepEqual(r.target.ports, [8080, 53, 9]);
  });

  it('that no container has is Pending TargetPortNotFound, listing the names there are', () => {
    const web = podWith('web', { ports: [['http', 8080]] });
    const r = resolveTarget('team-a', target({ pod: 'web' }), ports({ port: 80, targetPort: 'grpc' }), lookup([web]));
    assert.ok(!r.ok);
    assert.deepEqual([phaseOf(r.reason), r.reason], ['Pending', 'TargetPortNotFound']);
    assert.match(r.message, /^Port 80\/TCP: pod\/web has no container port named "grpc"; its named ports are 8080 \(http\)/);
  });
});

describe('a service target', () => {
  const svc = (name: string, spec: V1Service['spec']): V1Service => ({ metadata: { name, namespace: 'team-a' }, spec });
  const web = podWith('web', { ports: [['http', 8080]] });

  it('enters a ready pod behind it; targetPort names a Service port, by number or name, and its targetPort leads into the pod', () => {
    const service = svc('front', { selector: { app: 'web' }, ports: [{ name: 'web', port: 80, targetPort: 'http' as never }, { name: 'admin', port: 81, targetPort: 9090 as never }, { port: 82 }] });
    const r = resolveTarget('team-a', target({ service: 'front' }), ports({ port: 10080, targetPort: 'web' }, { port: 10081, targetPort: 81 }, { port: 82 }), lookup([web, podWith('db', { labels: { app: 'db' } })], {}, [service]));
    assert.ok(r.ok);
    assert.equal(r.target.pod, 'web');
    assert.deepEqual(r.target.ports, [8080, 9090, 82]);
    assert.match(r.target.chosenBy, /behind service\/front/);
  });

  it('that is missing waits (TargetNotFound); without a selector it is Failed (TargetHasNoSelector); a missing Service port says which there are', () => {
    const missing = resolveTarget('team-a', target({ service: 'front' }), ports({ port: 80 }), lookup([web]));
    assert.ok(!missing.ok);
    assert.deepEqual([missing.reason, missing.message], ['TargetNotFound', 'Service "front" was not found in namespace "team-a"; the tunnel starts when it exists.']);
    const manual = resolveTarget('team-a', target({ service: 'manual' }), ports({ port: 80 }), lookup([web], {}, [svc('manual', { ports: [{ port: 80 }] })]));
    assert.ok(!manual.ok);
    assert.deepEqual([phaseOf(manual.reason), manual.reason], ['Failed', 'TargetHasNoSelector']);
    const noPort = resolveTarget('team-a', target({ service: 'front' }), ports({ port: 443 }), lookup([web], {}, [svc('front', { selector: { app: 'web' }, ports: [{ name: 'web', port: 80 }] })]));
    assert.ok(!noPort.ok);
    assert.equal(noPort.reason, 'TargetPortNotFound');
    assert.match(noPort.message, /service\/front has no port 443; its ports are 80 \(web\)/);
  });
});

describe('a workload target', () => {
  const deployment: Workload = { kind: 'Deployment', metadata: { name: 'api', namespace: 'team-a', uid: 'dep-uid' }, spec: { selector: { matchLabels: { app: 'api' } } } };
  const replicaSet = (name: string, uid: string, owner: string): Workload => ({
    kind: 'ReplicaSet',
    metadata: { name, namespace: 'team-a', uid, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'x', uid: owner, controller: true }] },
    spec: { selector: { matchLabels: { app: 'api' } } },
  });

  it('enters a ready pod the Deployment owns through its ReplicaSet, not one that only carries its labels', () => {
    const impostor = podWith('api-impostor', { labels: { app: 'api' }, created: '2000-01-01T00:00:00Z' });
    const stranger = podWith('api-stranger', { labels: { app: 'api' }, owner: ['ReplicaSet', 'other-rs', 'other-rs-uid'], created: '2001-01-01T00:00:00Z' });
    const own = podWith('api-abc', { labels: { app: 'api' }, owner: ['ReplicaSet', 'api-123', 'rs-uid'] });
    const workloads = [deployment, replicaSet('api-123', 'rs-uid', 'dep-uid'), replicaSet('other-rs', 'other-rs-uid', 'another-deployment')];
    const r = resolveTarget('team-a', target({ workload: { kind: 'Deployment', name: 'api' } }), ports({ port: 80 }), lookup([impostor, stranger, own], {}, [], workloads));
    assert.ok(r.ok);
    assert.equal(r.target.pod, 'api-abc');
    assert.match(r.target.chosenBy, /of deployment\/api/);
  });

  it('of another kind checks the pod\'s controller directly; none ready is NoMatchingPod naming the workload', () => {
    const sts: Workload = { kind: 'StatefulSet', metadata: { name: 'db', namespace: 'team-a', uid: 'sts-uid' }, spec: { selector: { matchLabels: { app: 'db' } } } };
    const ready = podWith('db-0', { labels: { app: 'db' }, owner: ['StatefulSet', 'db', 'sts-uid'] });
    const r = resolveTarget('team-a', target({ workload: { kind: 'StatefulSet', name: 'db' } }), ports({ port: 5432 }), lookup([ready], {}, [], [sts]));
    assert.ok(r.ok);
    assert.equal(r.target.pod, 'db-0');
    const none = resolveTarget('team-a', target({ workload: { kind: 'StatefulSet', name: 'db' } }), ports({ port: 5432 }), lookup([podWith('db-0', { labels: { app: 'db' }, owner: ['StatefulSet', 'db', 'sts-uid'], ready: false })], {}, [], [sts]));
    assert.ok(!none.ok);
    assert.equal(none.reason, 'NoMatchingPod');
    assert.match(none.message, /belongs to statefulset\/db \(1 match but none is running and ready\)/);
    const gone = resolveTarget('team-a', target({ workload: { kind: 'DaemonSet', name: 'agent' } }), ports({ port: 1 }), lookup([]));
    assert.ok(!gone.ok);
    assert.equal(gone.message, 'DaemonSet "agent" was not found in namespace "team-a"; the tunnel starts when it exists.');
  });
});

describe('the target schema', () => {
  it('takes exactly one kind of target, and port names that are port names', () => {
    const parse = (spec: object) => parseSpec(spec);
    assert.match((parse({ target: { pod: 'a', service: 'b' }, ports: [{ port: 1 }] }) as { message: string }).message, /exactly one of pod, selector, service or workload/);
    assert.match((parse({ target: {}, ports: [{ port: 1 }] }) as { message: string }).message, /exactly one of pod, selector, service or workload/);
    assert.ok(parse({ target: { workload: { kind: 'Deployment', name: 'web' } }, ports: [{ port: 1, targetPort: 'http-alt' }] }).ok);
    for (const bad of ['8080', 'Http', '-http', 'http-', 'a_b', 'x'.repeat(64)]) {
      assert.equal(parse({ target: { pod: 'a' }, ports: [{ port: 1, targetPort: bad }] }).ok, false, `targetPort "${bad}" is refused`);
    }
    assert.match((parse({ target: { workload: { kind: 'Job', name: 'x' } }, ports: [{ port: 1 }] }) as { message: string }).message, /spec\.target\.workload\.kind/);
  });
});
