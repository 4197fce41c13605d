// The per-node start limit: it widens while helpers start quickly, halves once when they start
// slowly or fail, and stays between its floor and the configured ceiling.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { StartLimits, startOutcome } from '../../src/controller/start-limit.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');
let n = 0;

/** A helper on node created at T0+createdS that turned Ready after startS seconds (or is still starting, or failed). */
function helper(node: string, createdS: number, startS: number | 'starting' | 'failed'): V1Pod {
  const created = new Date(T0 + createdS * 1000);
  const conditions = typeof startS === 'number' ? [{ type: 'Ready', status: 'True', lastTransitionTime: new Date(created.getTime() + startS * 1000) }] : [];
  const waiting = startS === 'failed' ? { reason: 'RunContainerError' } : undefined;
  return {
    metadata: { uid: `h${n++}`, creationTimestamp: created },
    spec: { nodeName: node, containers: [] },
    status: { phase: 'Running', conditions, containerStatuses: waiting ? [{ name: 'relay', ready: false, restartCount: 0, image: '', imageID: '', state: { waiting } }] : [] },
  } as V1Pod;
}

const options = { ceiling: 20, initial: 8, fastMs: 10_000, slowMs: 30_000 };

describe('start limits per node', () => {
  it('reads a start from creation to Ready, and a runtime error as a failed start', () => {
    assert.equal(startOutcome(helper('a', 0, 4)), 4000);
    assert.equal(startOutcome(helper('a', 0, 'starting')), undefined);
    assert.equal(startOutcome(helper('a', 0, 'failed')), 'failed');
  });

  it('widens by one for each quick start, up to the ceiling, and counts each helper once', () => {
    const limits = new StartLimits(options);
    assert.equal(limits.limitFor('a'), 8);
    const quick = [helper('a', 0, 2), helper('a', 1, 3), helper('a', 2, 1)];
    limits.observe(quick);
    limits.observe(quick); // seen again on the next pass: not counted twice
    assert.equal(limits.limitFor('a'), 11);
    assert.equal(limits.limitFor('b'), 8, 'another node learns on its own');
    limits.observe(Array.from({ length: 30 }, (_, i) => helper('a', 10 + i, 1)));
    assert.equal(limits.limitFor('a'), 20, 'never above the ceiling');
  });

  it('halves once for a burst of slow starts begun under the old limit, and again for a slow start begun after', () => {
    let now = T0 + 100_000;
    const limits = new StartLimits(options, () => now);
    limits.observe(Array.from({ length: 8 }, (_, i) => helper('a', i, 40))); // all created before the shrink
    assert.equal(limits.limitFor('a'), 4);
    now += 60_000;
    limits.observe([helper('a', 120, 45)]); // created after the first shrink
    assert.equal(limits.limitFor('a'), 2);
    limits.observe([helper('a', 200, 'failed'), helper('a', 300, 'failed')]);
    assert.equal(limits.limitFor('a'), 2, 'never below the floor');
    limits.observe([helper('a', 400, 12)]); // neither quick nor slow: unchanged
    assert.equal(limits.limitFor('a'), 2);
  });

  it('starts no higher than a ceiling below the initial value', () => {
    assert.equal(new StartLimits({ ...options, ceiling: 2 }).limitFor('a'), 2);
    assert.equal(new StartLimits({ ...options, ceiling: 1 }).limitFor('a'), 1);
  });
});

describe('start slots on a busy node', () => {
  /** A helper of namespace ns, created secondsAgo before now, still starting. */
  const starting = (ns: string, createdS: number): V1Pod => {
    const pod = helper('a', createdS, 'starting');
    pod.metadata!.annotations = { 'portforward.io/owner': `${ns}/pf-${n}` };
    return pod;
  };

  it('are shared between namespaces: one that holds its share waits while another wants one', () => {
    const now = T0 + 10_000;
    const limits = new StartLimits({ ...options, initial: 4, ceiling: 4 }, () => now);
    const busy = [starting('busy', 1), starting('busy', 2), starting('busy', 3), starting('busy', 4)];
    assert.equal(limits.take('a', busy, 'quiet', 'create'), undefined, 'the node is full');
    const oneDone = busy.slice(1); // one of busy's helpers turned Ready
    assert.equal(limits.take('a', oneDone, 'busy', 'create'), undefined, 'busy holds 3, more than its half while quiet waits');
    assert.ok(limits.take('a', oneDone, 'quiet', 'create'), 'quiet gets the free slot');
  });

  it('lets one namespace use every slot when nobody else wants one', () => {
    const now = T0 + 10_000;
    const limits = new StartLimits({ ...options, initial: 4, ceiling: 4 }, () => now);
    const mine = [starting('busy', 1), starting('busy', 2)];
    assert.ok(limits.take('a', mine, 'busy', 'create'));
    assert.ok(limits.take('a', mine, 'busy', 'create'));
    assert.equal(limits.take('a', mine, 'busy', 'create'), undefined, 'full: 2 starting, 2 reserved');
  });

  it('are held by a helper only while it recently started: one that never turns Ready frees its slot', () => {
    let now = T0 + 10_000;
    const limits = new StartLimits({ ...options, initial: 2, ceiling: 2 }, () => now);
    const stuck = [starting('busy', 1), starting('busy', 2)];
    assert.equal(limits.take('a', stuck, 'other', 'create'), undefined);
    now = T0 + 2000 + 61_000;
    assert.ok(limits.take('a', stuck, 'other', 'create'), 'a minute later they no longer count as starting');
  });
});
