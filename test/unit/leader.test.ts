// Leader election: one replica at a time, a dead leader's lease is taken over only after it expires.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Lease } from '@kubernetes/client-node';
import { LeaderElector, type LeaseClient } from '../../src/controller/leader.js';
import { silentLogger } from '../../src/observability/logger.js';
import { ApiError } from './support/fake-cluster.js';

/** One Lease with the API server's optimistic concurrency. */
function leaseStore(): LeaseClient & { lease: V1Lease | undefined } {
  let version = 0;
  const store = {
    lease: undefined as V1Lease | undefined,
    read: async () => structuredClone(store.lease),
    create: async (lease: V1Lease) => {
      if (store.lease) throw new ApiError(409, 'exists');
      store.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++version) } };
      return structuredClone(store.lease);
    },
    replace: async (lease: V1Lease) => {
      if (lease.metadata?.resourceVersion !== store.lease?.metadata?.resourceVersion) throw new ApiError(409, 'conflict');
      store.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++version) } };
      return structuredClone(store.lease);
    },
  };
  return store;
}

const options = (identity: string) => ({ namespace: 'portforward-system', name: 'portforward-operator', identity, leaseDurationSeconds: 15 });

describe('leader election', () => {
  it('lets the first candidate lead and keeps the second waiting while the lease is renewed', async () => {
    const store = leaseStore();
    let now = 0;
    const a = new LeaderElector(store, options('a'), silentLogger(), () => now);
    const b = new LeaderElector(store, options('b'), silentLogger(), () => now);
    assert.equal(await a.tryAcquireOrRenew(), true);
    assert.equal(await b.tryAcquireOrRenew(), false);
    for (now = 2000; now < 40_000; now += 2000) {
      assert.equal(await a.tryAcquireOrRenew(), true, 'a renews');
      assert.equal(await b.tryAcquireOrRenew(), false, 'b waits');
    }
    assert.equal(store.lease?.spec?.holderIdentity, 'a');
  });

  it('hands over once the leader stops renewing for longer than the lease lasts', async () => {
    const store = leaseStore();
    let now = 0;
    const a = new LeaderElector(store, options('a'), silentLogger(), () => now);
    const b = new LeaderElector(store, options('b'), silentLogger(), () => now);
    await a.tryAcquireOrRenew();
    assert.equal(await b.tryAcquireOrRenew(), false);
    now = 10_000;
    assert.equal(await b.tryAcquireOrRenew(), false, 'not yet expired');
    now = 16_000;
    assert.equal(await b.tryAcquireOrRenew(), true);
    assert.equal(store.lease?.spec?.holderIdentity, 'b');
    assert.equal(store.lease?.spec?.leaseTransitions, 1);
  });

  it('lets a standby take over at once after the leader releases', async () => {
    const store = leaseStore();
    const a = new LeaderElector(store, options('a'), silentLogger());
    const b = new LeaderElector(store, options('b'), silentLogger());
    let started = false;
    a.run({ onStartedLeading: () => (started = true), onStoppedLeading: () => {} });
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(started && a.isLeader);
    await a.release();
    assert.equal(store.lease?.spec?.holderIdentity, '');
    assert.equal(await b.tryAcquireOrRenew(), true);
  });
});
