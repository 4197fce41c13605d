// The objects the operator creates, as pure functions of the PortForward: what a cluster admin
// would check before letting a privileged helper run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { helperSettingsOf } from '../../src/controller/reconciler.js';
import { helperPodFor, templateHash } from '../../src/resources/helper-pod.js';
import type { ResolvedTarget } from '../../src/api/index.js';
import { ANNOTATIONS, LABELS, helperPodName, serviceName } from '../../src/resources/names.js';
import { endpointSliceFor, SLICE_LABELS, serviceFor } from '../../src/resources/service.js';
import { config, validSpec } from './support/fixtures.js';

const owner = { namespace: 'team-a', name: 'web', uid: 'pf-uid' };
const tolerations = [{ key: 'dedicated', operator: 'Equal', value: 'db', effect: 'NoExecute' }];
const target: ResolvedTarget = { namespace: 'team-a', pod: 'nginx', uid: 'pod-uid', node: 'node-7', ips: ['10.1.2.3', 'fd00::3'], tolerations, ports: [80, 5353], chosenBy: 'named in spec.target.pod' };
const settings = helperSettingsOf(config);
const spec = validSpec({ target: { pod: 'nginx' }, ports: [{ port: 10080, targetPort: 80 }, { port: 5353, protocol: 'UDP' }] });

describe('the helper pod', () => {
  const helper = helperPodFor(owner, spec, target, settings);
  const container = helper.spec!.containers[0]!;

  it('is probed over HTTP by the kubelet, on a port the PortForward does not use, so probes start no process', () => {
    const busy = validSpec({ target: { pod: 'nginx' }, ports: [{ port: 9901 }, { port: 9902 }] });
    const probe = helperPodFor(owner, busy, target, { ...settings, dataPath: 'splice' }).spec!.containers[0]!.readinessProbe!;
    assert.deepEqual(probe.httpGet, { path: '/ready', port: 9903 });
    assert.equal(probe.exec, undefined);
    const classic = helperPodFor(owner, busy, target, { ...settings, dataPath: 'exec' }).spec!.containers[0]!.readinessProbe!;
    assert.deepEqual(classic.exec?.command, ['/usr/local/bin/pf-helper', 'ready']);
  });

  it('names its health port "metrics", where the relay serves Prometheus metrics, whatever number it got', () => {
    const busy = validSpec({ target: { pod: 'nginx' }, ports: [{ port: 9901 }, { port: 9901, protocol: 'UDP' }] });
    const ports = helperPodFor(owner, busy, target, settings).spec!.containers[0]!.ports!;
    assert.deepEqual(ports.find((p) => p.name === 'metrics'), { name: 'metrics', containerPort: 9902, protocol: 'TCP' });
    const classic = helperPodFor(owner, busy, target, { ...settings, dataPath: 'exec' }).spec!.containers[0]!.ports!;
    assert.equal(classic.find((p) => p.name === 'metrics'), undefined, 'the classic path has no relay to count');
  });

  it('runs on the target\'s node, in the helpers\' namespace', () => {
    assert.equal(helper.spec!.nodeName, 'node-7');
    assert.equal(helper.metadata!.namespace, 'portforward-helpers');
  });

  it('gets only the capabilities to enter a network namespace and then give them up, not full privilege', () => {
    const sc = container.securityContext!;
    assert.deepEqual(sc.capabilities!.drop, ['ALL']);
    assert.deepEqual(sc.capabilities!.add, ['SYS_ADMIN', 'SYS_PTRACE', 'SETUID', 'SETGID']);
    assert.notEqual(sc.privileged, true);
    assert.equal(sc.readOnlyRootFilesystem, true);
    const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value]));
    assert.equal(env.PF_RUN_AS, '65532:65532');
    assert.equal(env.PF_TARGET_POD_IPS, '10.1.2.3,fd00::3', 'the namespace it enters must carry one of these');
    const classic = helperPodFor(owner, spec, target, { ...settings, dataPath: 'exec' }).spec!.containers[0]!;
    assert.deepEqual(classic.securityContext!.capabilities!.add, ['SYS_ADMIN', 'SYS_PTRACE'], 'the classic path never switches users');
  });

  it('closes idle TCP connections after the PortForward\'s idleTimeout: an hour unless it says otherwise, 0 for never', () => {
    const idle = (idleTimeout?: string) =>
      helperPodFor(owner, validSpec({ target: { pod: 'x' }, ports: [{ port: 80 }], ...(idleTimeout ? { idleTimeout } : {}) }), target, settings)
        .spec!.containers[0]!.env!.find((e) => e.name === 'PF_IDLE_TIMEOUT')?.value;
    assert.equal(idle(), '3600');
    assert.equal(idle('30m'), '1800');
    assert.equal(idle('0s'), '0');
  });

  it('may bind ports below 1024 only when asked to', () => {
    const low = helperPodFor(owner, validSpec({ target: { pod: 'x' }, ports: [{ port: 53, protocol: 'UDP' }] }), target, settings);
    assert.deepEqual(low.spec!.containers[0]!.securityContext!.capabilities!.add, ['SYS_ADMIN', 'SYS_PTRACE', 'SETUID', 'SETGID', 'NET_BIND_SERVICE']);
  });

  it('tolerates what its target tolerates and nothing more, at a low priority', () => {
    assert.deepEqual(helper.spec!.tolerations, tolerations);
    assert.equal(helper.spec!.priorityClassName, 'portforward-helper');
  });

  it('carries no service-account token', () => {
    assert.equal(helper.spec!.automountServiceAccountToken, false);
  });

  it('is found again by its owner\'s uid and names its owner', () => {
    assert.equal(helper.metadata!.labels![LABELS.ownerUid], 'pf-uid');
    assert.equal(helper.metadata!.annotations![ANNOTATIONS.owner], 'team-a/web');
  });

  it('is the same object every time (no clock, no randomness)', () => {
    assert.deepEqual(helperPodFor(owner, spec, target, settings), helper);
  });

  it('carries a hash of the whole pod, so any change to the template (an upgrade too) replaces it', () => {
    assert.equal(helper.metadata!.annotations![ANNOTATIONS.specHash], templateHash(helper));
    const pulled = helperPodFor(owner, spec, target, { ...settings, imagePullPolicy: 'Never' });
    assert.notEqual(pulled.metadata!.annotations![ANNOTATIONS.specHash], helper.metadata!.annotations![ANNOTATIONS.specHash]);
    // a template change in a new operator version: here, another CPU request
    const upgraded = structuredClone(helper);
    upgraded.spec!.containers[0]!.resources!.requests!.cpu = '10m';
    assert.notEqual(templateHash(upgraded), helper.metadata!.annotations![ANNOTATIONS.specHash]);
  });

  it('changes its spec hash when the ports change, so it is replaced', () => {
    const other = helperPodFor(owner, validSpec({ target: { pod: 'nginx' }, ports: [{ port: 10080, targetPort: 81 }] }), target, settings);
    assert.notEqual(other.metadata!.annotations![ANNOTATIONS.specHash], helper.metadata!.annotations![ANNOTATIONS.specHash]);
  });
});

describe('names', () => {
  it('are deterministic DNS labels of at most 63 characters', () => {
    const long = 'a'.repeat(63);
    for (const name of [serviceName(long), helperPodName(long, long, 'uid')]) {
      assert.ok(name.length <= 63, name);
      assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
    assert.equal(helperPodName('team-a', 'web', 'u1'), helperPodName('team-a', 'web', 'u1'));
  });

  it('do not collide for two long names with the same beginning', () => {
    const a = 'x'.repeat(60) + 'one';
    const b = 'x'.repeat(60) + 'two';
    assert.notEqual(serviceName(a), serviceName(b));
    assert.notEqual(helperPodName('team-a', a, 'u'), helperPodName('team-a', b, 'u'));
  });

  it('give a re-targeted tunnel a fresh helper name', () => {
    assert.notEqual(helperPodName('team-a', 'web', 'pod-1'), helperPodName('team-a', 'web', 'pod-2'));
  });

  it('keep short Service names readable', () => {
    assert.equal(serviceName('web'), 'pf-web');
  });
});

describe('the Service and EndpointSlice', () => {
  it('expose each port of the spec, without a selector', () => {
    const service = serviceFor(owner, spec);
    assert.equal(service.spec!.selector, undefined);
    assert.deepEqual(
      service.spec!.ports!.map((p) => [p.name, p.port, p.protocol]),
      [['tcp-10080', 10080, 'TCP'], ['udp-5353', 5353, 'UDP']],
    );
    assert.equal(service.metadata!.ownerReferences![0]!.uid, 'pf-uid');
    assert.equal(service.metadata!.ownerReferences![0]!.controller, true);
  });

  it('list the helper as ready only when it is, in a slice kube-proxy ties to the Service', () => {
    const helper = { podName: 'h', podNamespace: 'portforward-helpers', podIP: '10.1.2.3', nodeName: 'node-7', ready: false };
    const slice = endpointSliceFor(owner, spec, helper);
    assert.equal(slice.metadata!.labels![SLICE_LABELS.serviceName], serviceFor(owner, spec).metadata!.name);
    assert.equal(slice.metadata!.labels![SLICE_LABELS.managedBy], 'portforward-operator', 'not the EndpointSlice controller');
    assert.equal(slice.addressType, 'IPv4');
    assert.deepEqual(slice.endpoints![0], {
      addresses: ['10.1.2.3'],
      conditions: { ready: false, serving: false, terminating: false },
      nodeName: 'node-7',
      targetRef: { kind: 'Pod', name: 'h', namespace: 'portforward-helpers' },
    });
    assert.equal(endpointSliceFor(owner, spec, { ...helper, ready: true }).endpoints![0]!.conditions!.ready, true);
    assert.deepEqual(endpointSliceFor(owner, spec, undefined).endpoints, []);
    assert.equal(endpointSliceFor(owner, spec, { ...helper, podIP: 'fd00::7' }).addressType, 'IPv6');
  });
});
