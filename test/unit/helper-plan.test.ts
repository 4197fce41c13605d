// Keeping exactly one right helper, and telling the user what it is doing.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { helperNotReady, planHelper } from '../../src/controller/helper-plan.js';
import { ANNOTATIONS } from '../../src/resources/names.js';

function helper(name: string, hash: string, extra: Partial<V1Pod> = {}): V1Pod {
  return { metadata: { name, namespace: 'portforward-helpers', annotations: { [ANNOTATIONS.specHash]: hash } }, ...extra };
}

const NOW = Date.parse('2030-01-01T00:01:00Z');

describe('planning the helper', () => {
  const desired = helper('pf-team-a-web-1234', 'h1');

  it('creates it when there is none', () => {
    assert.deepEqual(planHelper([], desired), { remove: [], outdated: undefined, current: undefined, create: true });
  });

  it('keeps the one that matches, and creates no second one', () => {
    const running = helper('pf-team-a-web-1234', 'h1', { status: { phase: 'Running' } });
    assert.deepEqual(planHelper([running], desired), { remove: [], outdated: undefined, current: running, create: false });
  });

  it('removes helpers for an old target or that have finished, and marks one with an older template as outdated', () => {
    const oldTarget = helper('pf-team-a-web-9999', 'h0');
    const stale = helper('pf-team-a-web-1234', 'h0');
    const plan = planHelper([oldTarget, stale], desired);
    assert.deepEqual(plan.remove, [oldTarget]);
    assert.equal(plan.outdated, stale, 'it serves until its node has room for the replacement');
    assert.equal(plan.current, undefined);
    assert.equal(plan.create, false, 'the name is still taken by the stale one');
    const failed = helper('pf-team-a-web-1234', 'h1', { status: { phase: 'Failed' } });
    assert.deepEqual(planHelper([failed], desired).remove, [failed]);
  });

  it('removes all when no helper is wanted', () => {
    const any = helper('x', 'h');
    assert.deepEqual(planHelper([any], undefined), { remove: [any], outdated: undefined, current: undefined, create: false });
  });
});

describe('the helper as the user sees it', () => {
  it('is starting while it has no pod or a container being created', () => {
    assert.equal(helperNotReady(undefined, 'h', 'ns', 'node-1', NOW)?.reason, 'HelperStarting');
    const creating = helper('h', 'x', {
      status: { phase: 'Pending', containerStatuses: [{ name: 'relay', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] },
    });
    assert.equal(helperNotReady(creating, 'h', 'ns', 'node-1', NOW)?.reason, 'HelperStarting');
  });

  it('is not ready with the container\'s waiting reason, and where to look', () => {
    const stuck = helper('h', 'x', {
      status: { phase: 'Pending', containerStatuses: [{ name: 'relay', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'pull access denied' } } }] },
    });
    const r = helperNotReady(stuck, 'h', 'portforward-helpers', 'node-1', NOW)!;
    assert.equal(r.reason, 'HelperNotReady');
    assert.match(r.message, /ImagePullBackOff \(pull access denied\)/);
    assert.match(r.message, /kubectl -n portforward-helpers logs h/);
  });

  it('is not ready when it runs but its probe has not passed for a while', () => {
    const running = (startedAt: string) =>
      helper('h', 'x', {
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [{ name: 'relay', image: '', imageID: '', ready: false, restartCount: 0, state: { running: { startedAt: new Date(startedAt) } } }] },
      });
    assert.equal(helperNotReady(running('2030-01-01T00:00:55Z'), 'h', 'ns', 'n', NOW)?.reason, 'HelperStarting');
    assert.equal(helperNotReady(running('2030-01-01T00:00:00Z'), 'h', 'ns', 'n', NOW)?.reason, 'HelperNotReady');
  });

  it('is Ready when its Ready condition is True', () => {
    const ready = helper('h', 'x', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } });
    assert.equal(helperNotReady(ready, 'h', 'ns', 'n', NOW), undefined);
  });
});
