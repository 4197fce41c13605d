// The work queue: each PortForward is handled by one pass at a time, repeats collapse, and
// failures back off without blocking other keys.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { backoffDelay, RECONCILE_BACKOFF } from '../../src/util/backoff.js';
import { FairQueue, MAX_DELAY_MS, WorkQueue } from '../../src/controller/queue.js';
import { done, failed, requeueAfter, type Result } from '../../src/controller/result.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
/** Lets every pass that can run now run: microtasks and I/O callbacks, not timers. */
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

/** Runs body with setTimeout and Date mocked: time moves only by clock.tick(ms), never by the wall clock. */
async function withMockClock(body: (clock: { tick: (ms: number) => Promise<void> }) => Promise<void>): Promise<void> {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  try {
    await body({
      tick: async (ms) => {
        mock.timers.tick(ms);
        await flush();
      },
    });
  } finally {
    mock.timers.reset();
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const fastBackoff = { initialMs: 5, maxMs: 40, jitter: 0 };

describe('the work queue', () => {
  it('runs a key once when it is added many times before it starts', async () => {
    const runs: string[] = [];
    const slow = deferred();
    const q = new WorkQueue(async (key) => {
      runs.push(key);
      if (key === 'team-a/slow') await slow.promise;
      return done;
    }, { concurrency: 1 });
    q.add('team-a/slow'); // takes the only slot
    q.add('team-a/web');
    q.add('team-a/web');
    q.add('team-a/web');
    assert.equal(q.depth(), 1);
    slow.resolve();
    await tick();
    await q.idle();
    assert.deepEqual(runs, ['team-a/slow', 'team-a/web']);
    await q.stop();
  });

  it('never runs the same key twice at once, and runs it again if it changed meanwhile', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const first = deferred();
    const q = new WorkQueue(async () => {
      running++;
      runs++;
      maxRunning = Math.max(maxRunning, running);
      if (runs === 1) await first.promise;
      running--;
      return done;
    }, { concurrency: 4 });
    q.add('team-a/web');
    await tick();
    q.add('team-a/web'); // arrives while the first pass runs
    q.add('team-a/web');
    await tick();
    assert.equal(runs, 1, 'the second pass waits for the first');
    first.resolve();
    await tick(5);
    await q.idle();
    assert.equal(runs, 2, 'it runs once more, not twice more');
    assert.equal(maxRunning, 1);
    await q.stop();
  });

  it('runs different keys side by side, up to the concurrency limit', async () => {
    let running = 0;
    let maxRunning = 0;
    const q = new WorkQueue(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await tick(5);
      running--;
      return done;
    }, { concurrency: 2 });
    for (const k of ['a/1', 'a/2', 'a/3', 'a/4', 'a/5']) q.add(k);
    await tick(1);
    await q.idle();
    assert.equal(maxRunning, 2);
    await q.stop();
  });

  it('runs a key again when a pass asks to be requeued later, not before', () =>
    withMockClock(async (clock) => {
      const times: number[] = [];
      const q = new WorkQueue(async () => {
        times.push(Date.now());
        return times.length === 1 ? requeueAfter(30) : done;
      }, { concurrency: 1 });
      q.add('a/b');
      await flush();
      await clock.tick(29);
      assert.equal(times.length, 1, 'not before the delay');
      await clock.tick(1);
      assert.deepEqual(times, [0, 30]);
      await q.stop();
    }));

  it('keeps the earliest of several delays for a key', () =>
    withMockClock(async (clock) => {
      let runs = 0;
      const q = new WorkQueue(async () => (runs++, done), { concurrency: 1 });
      q.addAfter('a/b', 20);
      q.addAfter('a/b', 500);
      await clock.tick(20);
      assert.equal(runs, 1, 'at the earlier delay');
      await clock.tick(480);
      assert.equal(runs, 1, 'and not again at the later one');
      await q.stop();
    }));

  it('backs off a failing key more each time, and forgets it after a success', () =>
    withMockClock(async (clock) => {
      const outcomes: Result[] = [failed(new Error('boom')), failed(new Error('boom')), failed(new Error('boom')), done];
      const retries: (number | undefined)[] = [];
      const q = new WorkQueue(async () => outcomes.shift() ?? done, {
        concurrency: 1,
        backoff: fastBackoff,
        onResult: (_key, _result, _s, retryInMs) => retries.push(retryInMs),
      });
      q.add('a/b');
      await flush();
      for (const wait of [5, 10, 20]) {
        await clock.tick(wait - 1);
        const before = retries.length;
        await clock.tick(1);
        assert.equal(retries.length, before + 1, `the retry comes after ${wait} ms, not sooner`);
      }
      assert.deepEqual(retries, [5, 10, 20, undefined]);
      assert.equal(q.failuresOf('a/b'), 0);
      await q.stop();
    }));

  it('treats a thrown error like a failed pass', () =>
    withMockClock(async (clock) => {
      let calls = 0;
      const q = new WorkQueue(async () => {
        calls++;
        if (calls === 1) throw new Error('unexpected');
        return done;
      }, { concurrency: 1, backoff: fastBackoff });
      q.add('a/b');
      await flush();
      assert.equal(calls, 1);
      await clock.tick(5);
      assert.equal(calls, 2, 'retried after the first backoff');
      await q.stop();
    }));

  it('holds a delay longer than a Node timer can (a far-off ttl) as long as one timer can, not at once', () =>
    withMockClock(async (clock) => {
      // setTimeout fires at once for delays past 2^31-1 ms: a 30-day requeue would spin in a hot
      // loop. The queue waits the longest a timer can instead; that pass then requeues the rest.
      let runs = 0;
      const q = new WorkQueue(async () => (runs++, requeueAfter(30 * 86_400_000)), { concurrency: 1 });
      q.add('a/b');
      await flush();
      assert.equal(runs, 1, 'one pass, then it waits');
      await clock.tick(MAX_DELAY_MS - 1);
      assert.equal(runs, 1, 'about 24.8 days without a pass');
      await clock.tick(1);
      assert.equal(runs, 2, 'then one pass, which decides again');
      await q.stop();
    }));

  it('takes no more work once stopped', async () => {
    let runs = 0;
    const q = new WorkQueue(async () => (runs++, done), { concurrency: 1 });
    await q.stop();
    q.add('a/b');
    q.addAfter('a/c', 1);
    await tick(10);
    assert.equal(runs, 0);
  });
});

describe('fairness between namespaces', () => {
  it('takes one key per namespace in turn, oldest first within each', () => {
    const q = new FairQueue();
    for (let i = 0; i < 1000; i++) q.add(`busy/pf-${i}`);
    q.add('quiet/only');
    q.add('other/one');
    q.add('other/two');
    q.add('busy/pf-0'); // already waiting: keeps its place
    assert.equal(q.size, 1003);
    const taken = Array.from({ length: 6 }, () => q.take());
    assert.deepEqual(taken, ['busy/pf-0', 'quiet/only', 'other/one', 'busy/pf-1', 'other/two', 'busy/pf-2']);
    assert.equal(q.size, 997);
  });

  it('runs another namespace\'s one key within one turn, however many one tenant queued first', async () => {
    const runs: string[] = [];
    const q = new WorkQueue(async (key) => {
      runs.push(key);
      return done;
    }, { concurrency: 1 });
    for (let i = 0; i < 100; i++) q.add(`busy/pf-${i}`);
    q.add('quiet/only');
    await q.idle();
    // pf-0 runs at once; then busy and quiet take turns: pf-1, then quiet's key (not 99 keys later)
    assert.equal(runs.indexOf('quiet/only'), 2);
    assert.equal(runs.length, 101);
    await q.stop();
  });
});

describe('reconcile backoff', () => {
  it('starts at half a second and is capped at a minute', () => {
    const noJitter = () => 0.5;
    assert.equal(backoffDelay(RECONCILE_BACKOFF, 1, noJitter), 500);
    assert.equal(backoffDelay(RECONCILE_BACKOFF, 2, noJitter), 1000);
    assert.equal(backoffDelay(RECONCILE_BACKOFF, 20, noJitter), 60_000);
    assert.ok(backoffDelay(RECONCILE_BACKOFF, 50, () => 1) <= 60_000);
  });

  it('spreads retries with jitter', () => {
    assert.notEqual(backoffDelay(RECONCILE_BACKOFF, 3, () => 0), backoffDelay(RECONCILE_BACKOFF, 3, () => 1));
  });
});
