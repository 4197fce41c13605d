// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: one replica
// reconciles, the others keep warm caches and wait. Every write carries the resourceVersion it
// read, so two candidates cannot both win. Expiry is judged by when *we* last saw the lease
// change, not by the holder's clock.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { describeError, isApiError } from '../kube/errors.js';

export interface LeaseClient {
  read(): Promise<V1Lease | undefined>;
  create(lease: V1Lease): Promise<V1Lease>;
  replace(lease: V1Lease): Promise<V1Lease>;
}

export function leaseClient(api: CoordinationV1Api, namespace: string, name: string): LeaseClient {
  return {
    read: async () => {
      try {
        return await api.readNamespacedLease({ namespace, name });
      } catch (err) {
        if (isApiError(err, 404)) return undefined;
        throw err;
      }
    },
    create: (lease) => api.createNamespacedLease({ namespace, body: lease }),
    replace: (lease) => api.replaceNamespacedLease({ namespace, name, body: lease }),
  };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  /** How often the leader renews. */
  renewIntervalMs?: number;
  /** How often a candidate tries to acquire. */
  retryIntervalMs?: number;
  /** A leader that could not renew for this long steps down (before others may take over). */
  renewDeadlineMs?: number;
}

export interface LeadershipCallbacks {
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export class LeaderElector {
  private readonly durationMs: number;
  private readonly renewIntervalMs: number;
  private readonly retryIntervalMs: number;
  private readonly renewDeadlineMs: number;
  private observedVersion: string | undefined;
  private observedAt = 0;
  private observedHolder = '';
  private leading = false;
  private stopped = false;
  private lastRenewAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private deadlineCheck: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: LeaseClient,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.durationMs = (options.leaseDurationSeconds ?? 15) * 1000;
    this.renewIntervalMs = options.renewIntervalMs ?? 2000;
    this.retryIntervalMs = options.retryIntervalMs ?? 2000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until elected, then renews; calls onStoppedLeading once if the lease is lost. */
  run(callbacks: LeadershipCallbacks): void {
    const campaign = async () => {
      if (this.stopped) return;
      if (await this.attempt('acquire')) {
        this.leading = true;
        this.lastRenewAt = this.now();
        this.log.info('became the leader', { lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity });
        this.watchDeadline(callbacks);
        this.schedule(renew, this.renewIntervalMs);
        callbacks.onStartedLeading();
        return;
      }
      this.schedule(campaign, jittered(this.retryIntervalMs));
    };
    const renew = async () => {
      if (this.stopped || !this.leading) return;
      if (await this.attempt('renew')) this.lastRenewAt = this.now();
      else if (this.observedHolder !== this.options.identity) return this.lose(callbacks, `the lease is now held by ${this.observedHolder || 'nobody'}`);
      this.schedule(renew, this.renewIntervalMs);
    };
    this.log.info('campaigning for leadership', { lease: `${this.options.namespace}/${this.options.name}`, identity: this.options.identity });
    void campaign();
  }

  /** One try to take or keep the lease; false when someone else holds it or we lost a race. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.now();
    const lease = await this.client.read();
    if (!lease) {
      try {
        this.observe(await this.client.create(this.leaseRecord(undefined, now)), now);
        return true;
      } catch (err) {
        if (isApiError(err, 409)) return false;
        throw err;
      }
    }
    this.observe(lease, now);
    const holder = lease.spec?.holderIdentity ?? '';
    const mine = holder === this.options.identity;
    const durationMs = (lease.spec?.leaseDurationSeconds ?? this.durationMs / 1000) * 1000;
    if (holder !== '' && !mine && this.observedAt + durationMs > now) return false;
    try {
      this.observe(await this.client.replace(this.leaseRecord(lease, now)), now);
      return true;
    } catch (err) {
      if (isApiError(err, 409)) return false;
      throw err;
    }
  }

  /** Gives the lease up so a standby takes over at once instead of after it expires. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.deadlineCheck);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.client.read();
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      const now = new V1MicroTime(this.now());
      await this.client.replace({
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
      });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn('could not release the lease; the next leader waits for it to expire', { error: describeError(err) });
    }
  }

  private async attempt(what: 'acquire' | 'renew'): Promise<boolean> {
    try {
      return await this.tryAcquireOrRenew();
    } catch (err) {
      const hint = isApiError(err, 404)
        ? `namespace ${this.options.namespace} not found: install it first (kubectl apply -f manifests/namespace.yaml)`
        : undefined;
      this.log.warn(`could not ${what} the lease`, { error: describeError(err), ...(hint ? { hint } : {}) });
      return false;
    }
  }

  private leaseRecord(current: V1Lease | undefined, nowMs: number): V1Lease {
    const now = new V1MicroTime(nowMs);
    const mine = current?.spec?.holderIdentity === this.options.identity;
    const transitions = current?.spec?.leaseTransitions ?? 0;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: current?.metadata ?? { name: this.options.name, namespace: this.options.namespace },
      spec: {
        ...current?.spec,
        holderIdentity: this.options.identity,
        leaseDurationSeconds: this.durationMs / 1000,
        acquireTime: mine ? current?.spec?.acquireTime : now,
        renewTime: now,
        leaseTransitions: current && !mine ? transitions + 1 : transitions,
      },
    };
  }

  private observe(lease: V1Lease, now: number): void {
    const version = lease.metadata?.resourceVersion;
    if (version !== this.observedVersion) {
      this.observedVersion = version;
      this.observedAt = now;
    }
    this.observedHolder = lease.spec?.holderIdentity ?? '';
  }

  /** A renew call can hang; this steps down on time regardless. */
  private watchDeadline(callbacks: LeadershipCallbacks): void {
    this.deadlineCheck = setInterval(() => {
      if (this.leading && this.now() - this.lastRenewAt > this.renewDeadlineMs) {
        this.lose(callbacks, `no renewal for ${this.renewDeadlineMs / 1000}s`);
      }
    }, 1000);
    this.deadlineCheck.unref();
  }

  private lose(callbacks: LeadershipCallbacks, why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.deadlineCheck);
    this.log.error('lost leadership', { why });
    callbacks.onStoppedLeading();
  }

  private schedule(fn: () => Promise<void>, ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void fn(), ms);
  }
}

function jittered(ms: number): number {
  return Math.round(ms * (1 + 0.2 * Math.random()));
}

