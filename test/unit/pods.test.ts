// The pod cache keeps only what the operator reads: a fat pod stays small in it, and nothing the
// reconciler needs is lost (the reconciler tests run on projected pods too).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { projectPod } from '../../src/kube/pods.js';
import { pod } from './support/fixtures.js';

describe('the projected pod', () => {
  const fat: V1Pod = {
    ...pod('team-a', 'nginx', { node: 'node-1', labels: { app: 'web' } }),
  };
  fat.metadata!.annotations = { 'huge/blob': 'x'.repeat(250_000), 'portforward.io/owner': 'team-a/web' };
  fat.metadata!.managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { big: 'x'.repeat(10_000) } }];
  fat.spec!.containers = [{ name: 'app', image: 'app', env: [{ name: 'SECRET_LOOKING', value: 'y'.repeat(10_000) }], ports: [{ name: 'http', containerPort: 8080 }] }];
  fat.spec!.hostNetwork = true;

  it('drops what the operator never reads, and keeps what it does', () => {
    const p = projectPod(fat);
    assert.ok(JSON.stringify(p).length < 2000, `small: ${JSON.stringify(p).length} bytes`);
    assert.deepEqual(p.metadata!.annotations, { 'portforward.io/owner': 'team-a/web' }, "only the operator's own annotations");
    assert.equal(p.metadata!.managedFields, undefined);
    assert.deepEqual(p.metadata!.labels, { app: 'web' });
    assert.equal(p.metadata!.uid, fat.metadata!.uid);
    assert.equal(p.spec!.nodeName, 'node-1');
    assert.equal(p.spec!.hostNetwork, true);
    assert.deepEqual(p.spec!.containers, [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }]);
    assert.equal(p.status!.phase, 'Running');
    assert.deepEqual(p.status!.conditions?.map((c) => [c.type, c.status]), [['Ready', 'True']]);
  });
});
