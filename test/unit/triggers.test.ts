// Which PortForwards a change in the cluster wakes up.
import { helperSettingsOf } from '../../src/controller/reconciler.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Namespace, V1Service } from '@kubernetes/client-node';
import { PortForwardIndex, keysForNamespace, keysForOwned, keysForPod } from '../../src/controller/triggers.js';
import { keyOfPortForward } from '../../src/controller/keys.js';
import { helperPodFor } from '../../src/resources/helper-pod.js';
import { MemoryStore } from './support/fake-cluster.js';
import { HELPER_NAMESPACE, config, pod, portForward, validSpec } from './support/fixtures.js';

const pfs = new MemoryStore<ReturnType<typeof portForward>>();
const named = { ...portForward('team-a', 'web', { target: { pod: 'nginx' }, ports: [{ port: 1 }] }) };
named.metadata.uid = 'uid-web';
const selecting = portForward('team-a', 'any', { target: { selector: { matchLabels: { app: 'x' } } }, ports: [{ port: 1 }] });
const remote = portForward('team-b', 'db', { target: { namespace: 'databases', pod: 'pg' }, ports: [{ port: 1 }] });
const broken = portForward('team-a', 'broken', 'not even an object');
const queued = portForward('team-c', 'waiting', { target: { pod: 'x' }, ports: [{ port: 1 }] });
queued.status = { target: { namespace: 'team-c', pod: 'x', uid: 'uid-x', node: 'node-9' }, conditions: [{ type: 'Ready', status: 'False', reason: 'HelperQueued', message: '', lastTransitionTime: '2030-01-01T00:00:00Z' }] };
const index = new PortForwardIndex();
for (const pf of [named, selecting, remote, broken, queued]) {
  pfs.put(pf);
  index.update(keyOfPortForward(pf), pf);
}

describe('a pod change', () => {
  it('wakes the PortForwards that name it or select in its namespace', () => {
    assert.deepEqual(keysForPod(pod('team-a', 'nginx'), pfs, index, HELPER_NAMESPACE).sort(), ['team-a/any', 'team-a/broken', 'team-a/web']);
    assert.deepEqual(keysForPod(pod('team-a', 'other'), pfs, index, HELPER_NAMESPACE).sort(), ['team-a/any', 'team-a/broken']);
    assert.deepEqual(keysForPod(pod('databases', 'pg'), pfs, index, HELPER_NAMESPACE), ['team-b/db']);
  });

  it('of a helper wakes only its owner', () => {
    const spec = validSpec({ target: { pod: 'nginx' }, ports: [{ port: 1 }] });
    const helper = helperPodFor({ namespace: 'team-a', name: 'web', uid: 'uid-web' }, spec, { namespace: 'team-a', pod: 'nginx', uid: 'u', node: 'n', ips: ['10.0.0.2'], tolerations: [], ports: [1], chosenBy: 'test' }, helperSettingsOf(config));
    assert.deepEqual(keysForPod(helper, pfs, index, HELPER_NAMESPACE), ['team-a/web']);
    // on node-9, where a PortForward waits for a start slot, a helper's change may free one
    assert.deepEqual(keysForPod({ ...helper, spec: { ...helper.spec!, nodeName: 'node-9' } }, pfs, index, HELPER_NAMESPACE), ['team-a/web', 'team-c/waiting']);
  });

  it('wakes a PortForward that enters it from another namespace, by uid, and forgets a deleted one', () => {
    const pg = pod('databases', 'pg');
    const entered = { ...remote, status: { target: { namespace: 'databases', pod: 'pg', uid: pg.metadata!.uid!, node: 'n' } } };
    const local = new PortForwardIndex();
    local.update('team-b/db', entered);
    assert.deepEqual(keysForPod(pg, pfs, local, HELPER_NAMESPACE), ['team-b/db']);
    local.update('team-b/db', undefined);
    assert.deepEqual(keysForPod(pg, pfs, local, HELPER_NAMESPACE), []);
    assert.deepEqual(local.targetingNamespace('databases'), []);
  });
});

describe('a Service or EndpointSlice change', () => {
  it('wakes the PortForward that controls it', () => {
    const svc: V1Service = {
      metadata: { namespace: 'team-a', name: 'pf-web', ownerReferences: [{ apiVersion: 'portforward.io/v1alpha1', kind: 'PortForward', name: 'web', uid: 'uid-web', controller: true }] },
    };
    assert.deepEqual(keysForOwned(svc, pfs), ['team-a/web']);
    assert.deepEqual(keysForOwned({ metadata: { namespace: 'team-a', name: 'x' } }, pfs), []);
  });
});

describe('a namespace change', () => {
  it('wakes the PortForwards reaching into it from elsewhere', () => {
    const ns: V1Namespace = { metadata: { name: 'databases' } };
    assert.deepEqual(keysForNamespace(ns, index), ['team-b/db']);
    assert.deepEqual(keysForNamespace({ metadata: { name: 'team-a' } }, index), []);
  });
});
