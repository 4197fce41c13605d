// Which PortForwards a change in the cluster wakes up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Namespace, V1Service } from '@kubernetes/client-node';
import { keysForNamespace, keysForOwned, keysForPod } from '../../src/controller/triggers.js';
import { helperPodFor } from '../../src/resources/helper-pod.js';
import { MemoryStore } from './support/fake-cluster.js';
import { OPERATOR_NAMESPACE, config, pod, portForward, validSpec } from './support/fixtures.js';

const pfs = new MemoryStore<ReturnType<typeof portForward>>();
const named = { ...portForward('team-a', 'web', { target: { pod: 'nginx' }, ports: [{ port: 1 }] }) };
named.metadata.uid = 'uid-web';
const selecting = portForward('team-a', 'any', { target: { selector: { matchLabels: { app: 'x' } } }, ports: [{ port: 1 }] });
const remote = portForward('team-b', 'db', { target: { namespace: 'databases', pod: 'pg' }, ports: [{ port: 1 }] });
const broken = portForward('team-a', 'broken', 'not even an object');
for (const pf of [named, selecting, remote, broken]) pfs.put(pf);

describe('a pod change', () => {
  it('wakes the PortForwards that name it or select in its namespace', () => {
    assert.deepEqual(keysForPod(pod('team-a', 'nginx'), pfs, OPERATOR_NAMESPACE).sort(), ['team-a/any', 'team-a/broken', 'team-a/web']);
    assert.deepEqual(keysForPod(pod('team-a', 'other'), pfs, OPERATOR_NAMESPACE).sort(), ['team-a/any', 'team-a/broken']);
    assert.deepEqual(keysForPod(pod('databases', 'pg'), pfs, OPERATOR_NAMESPACE), ['team-b/db']);
  });

  it('of a helper wakes only its owner', () => {
    const spec = validSpec({ target: { pod: 'nginx' }, ports: [{ port: 1 }] });
    const helper = helperPodFor({ namespace: 'team-a', name: 'web', uid: 'uid-web' }, spec, { namespace: 'team-a', pod: 'nginx', uid: 'u', node: 'n' }, {
      namespace: OPERATOR_NAMESPACE,
      image: config.helperImage,
      imagePullPolicy: config.helperImagePullPolicy,
      dataPath: config.helperDataPath,
    });
    assert.deepEqual(keysForPod(helper, pfs, OPERATOR_NAMESPACE), ['team-a/web']);
  });
});

describe('a Service or Endpoints change', () => {
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
    assert.deepEqual(keysForNamespace(ns, pfs), ['team-b/db']);
    assert.deepEqual(keysForNamespace({ metadata: { name: 'team-a' } }, pfs), []);
  });
});
