// The controller: informer events become keys in the work queue, the queue runs the reconciler,
// and a periodic resync re-queues every PortForward and sweeps orphaned helpers, in case an event
// was missed.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import type { KubeApi } from '../kube/api.js';
import { describeError } from '../kube/errors.js';
import type { WatchedStore } from '../kube/resilient-informer.js';
import type { Informers } from '../kube/caches.js';
import type { Metrics, PhaseCounts } from '../observability/metrics.js';
import { reconcileLogger } from '../observability/logger.js';
import { KIND, WORKLOAD_KINDS } from '../api/index.js';
import { MANAGED_SELECTOR } from '../resources/names.js';
import { deleteHelpers, orphanHelpers } from './helper-pods.js';
import { orphanPolicies } from './policy-sync.js';
import { WorkQueue } from './queue.js';
import type { Reconciler } from './reconciler.js';
import { keyOfPortForward } from './keys.js';
import { ConnectionsOnlyUpdates, PortForwardIndex, keysForNamespace, keysForNode, keysForOwned, keysForOwnerAnnotation, keysForPod, keysForPortForward, keysForTargetObject } from './triggers.js';

export interface ControllerDeps {
  informers: Informers;
  reconciler: Pick<Reconciler, 'reconcile'>;
  api: KubeApi;
  metrics: Metrics;
  log: Logger;
  helperNamespace: string;
  concurrency: number;
  resyncSeconds: number;
}

export class Controller {
  readonly queue: WorkQueue;
  private readonly index = new PortForwardIndex();
  private readonly connectionsOnly = new ConnectionsOnlyUpdates();
  private running = false;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ControllerDeps) {
    const { informers, log, metrics } = deps;
    this.queue = new WorkQueue((key) => this.reconcileKey(key), {
      concurrency: deps.concurrency,
      onResult: (key, result, seconds, retryInMs) => {
        metrics.observeReconcile(result.kind === 'requeueAfter' ? 'requeue' : result.kind, seconds);
        if (retryInMs !== undefined) log.debug('requeued', { key, retryInMs });
      },
    });
    metrics.setSources({ phases: () => this.countPhases(), queueDepth: () => this.queue.depth() });

    const pfs = informers.portForwards;
    // The index follows every PortForward event, also before this replica leads.
    pfs.onChange((pf) => this.index.update(keyOfPortForward(pf), pfs.get(pf.metadata.namespace ?? '', pf.metadata.name ?? '')));
    this.watch(pfs, (pf) => {
      const key = keyOfPortForward(pf);
      const now = pfs.get(pf.metadata.namespace ?? '', pf.metadata.name ?? '');
      return this.connectionsOnly.note(key, now) ? [] : keysForPortForward(pf, pfs);
    });
    this.watch(informers.pods, (pod) => keysForPod(pod, pfs, this.index, deps.helperNamespace));
    this.watch(informers.services, (svc) => keysForOwned(svc, pfs));
    this.watch(informers.endpointSlices, (slice) => keysForOwned(slice, pfs));
    this.watch(informers.namespaces, (ns) => keysForNamespace(ns, this.index));
    this.watch(informers.networkPolicies, (policy) => keysForOwnerAnnotation(policy));
    this.watch(informers.targetServices, (svc) => keysForTargetObject('Service', svc, pfs, this.index));
    for (const kind of WORKLOAD_KINDS) this.watch(informers.workloads[kind], (w) => keysForTargetObject(kind, w, pfs, this.index));
    this.watch(informers.nodes, (node) => keysForNode(node, this.index));
  }

  /** Starts reconciling once the caches are filled (the leader calls this). */
  async start(): Promise<void> {
    await this.deps.informers.synced;
    this.running = true;
    this.deps.log.info('controller started', { concurrency: this.deps.concurrency, resyncSeconds: this.deps.resyncSeconds });
    await this.removeLegacyEndpoints();
    await this.resync();
    this.resyncTimer = setInterval(() => void this.resync(), this.deps.resyncSeconds * 1000);
    this.resyncTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.resyncTimer);
    await this.queue.stop();
  }

  private watch<T extends KubernetesObject>(informer: WatchedStore<T>, keys: (obj: T) => string[]): void {
    informer.onChange((obj) => {
      if (!this.running) return;
      for (const key of keys(obj)) this.queue.add(key);
    });
  }

  private async reconcileKey(key: string) {
    const log = reconcileLogger(this.deps.log, key);
    const result = await this.deps.reconciler.reconcile(key, log);
    if (result.kind === 'error') {
      log.error('reconcile failed; retrying with backoff', { failures: this.queue.failuresOf(key) + 1, error: describeError(result.error) });
    } else {
      log.debug('reconciled', { result: result.kind, ...(result.kind === 'requeueAfter' ? { requeueAfterMs: result.ms } : {}) });
    }
    return result;
  }

  /**
   * v1 Endpoints that versions before EndpointSlices wrote for their Services. Left in place, the
   * EndpointSlice mirroring controller would turn each into a second slice pointing at an old helper.
   * Endpoints that the endpoints controller makes for selector Services carry our labels too (it
   * copies the Service's); only ours name a PortForward as their owner.
   */
  private async removeLegacyEndpoints(): Promise<void> {
    const { api, log } = this.deps;
    try {
      for (const e of await api.listLegacyEndpoints(MANAGED_SELECTOR)) {
        if (!e.metadata?.ownerReferences?.some((r) => r.kind === KIND)) continue;
        await api.deleteEndpoints(e.metadata.namespace!, e.metadata.name!);
        log.info('deleted v1 Endpoints written by an earlier version', { namespace: e.metadata.namespace, name: e.metadata.name });
      }
    } catch (err) {
      log.warn('could not remove v1 Endpoints written by an earlier version', { error: describeError(err) });
    }
  }

  /** Every PortForward again, and helpers and policies whose PortForward's deletion went unseen. */
  private async resync(): Promise<void> {
    if (!this.running) return;
    const { informers, api, log, helperNamespace } = this.deps;
    for (const pf of informers.portForwards.list()) this.queue.add(keyOfPortForward(pf));
    try {
      const orphans = orphanHelpers(informers.pods, informers.portForwards, helperNamespace);
      await deleteHelpers(api, orphans, log, 'its PortForward no longer exists');
      for (const policy of orphanPolicies(informers.networkPolicies, informers.portForwards, helperNamespace)) {
        await api.deleteNetworkPolicy(helperNamespace, policy.metadata!.name!);
        log.info('deleted orphaned helper NetworkPolicy', { policy: policy.metadata!.name });
      }
    } catch (err) {
      log.warn('could not delete orphaned helpers or their NetworkPolicies', { error: describeError(err) });
    }
  }

  private countPhases(): Record<string, PhaseCounts> {
    const counts: Record<string, PhaseCounts> = {};
    for (const pf of this.deps.informers.portForwards.list()) {
      const namespace = (counts[pf.metadata.namespace ?? ''] ??= {});
      const phase = pf.status?.phase ?? 'Unknown';
      namespace[phase] = (namespace[phase] ?? 0) + 1;
    }
    return counts;
  }
}
