// Every CONNECTIONS_POLL, the leader reads each ready helper's counters (pf-relay's /metrics on
// its port named "metrics") and writes status.connections of the PortForwards whose numbers
// changed. No Event per connection error: a failing client would write one per poll; the last
// error is in the status (kubectl describe) and the counts in the metrics.
import type { Logger } from 'winston';
import type { PortForward } from '../api/index.js';
import type { ClusterCache } from '../kube/caches.js';
import type { KubeApi } from '../kube/api.js';
import { describeError, isApiError } from '../kube/errors.js';
import { isPodReady } from '../kube/pods.js';
import { rfc3339 } from '../kube/time.js';
import { METRICS_PORT_NAME } from '../resources/helper-pod.js';
import { changedConnections, connectionsOf } from './connections.js';

export interface ConnectionsPollDeps {
  cache: Pick<ClusterCache, 'portForwards' | 'pods'>;
  api: Pick<KubeApi, 'replacePortForwardStatus'>;
  helperNamespace: string;
  /** GET http://ip:port/metrics, the body. */
  readMetrics: (ip: string, port: number) => Promise<string>;
  intervalMs: number;
  log: Logger;
  now?: () => number;
}

/** Helpers asked at once: a round over thousands of helpers must not open thousands of sockets. */
const PARALLEL = 8;

export class ConnectionsPoll {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;

  constructor(private readonly deps: ConnectionsPollDeps) {}

  start(): void {
    this.timer = setInterval(() => {
      this.round ??= this.pollOnce().finally(() => (this.round = undefined)); // a slow round is not overlapped
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.round;
  }

  /** One round over every PortForward with a ready helper. */
  async pollOnce(): Promise<void> {
    const queue = this.deps.cache.portForwards.list().filter((pf) => this.helperOf(pf) !== undefined);
    const worker = async () => {
      for (let pf = queue.shift(); pf; pf = queue.shift()) await this.pollOne(pf);
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
  }

  /** Where the PortForward's helper serves its counters, while it is ready. */
  private helperOf(pf: PortForward): { pod: string; ip: string; port: number } | undefined {
    const name = pf.status?.helper?.pod;
    if (!name || pf.metadata.deletionTimestamp) return undefined;
    const pod = this.deps.cache.pods.get(this.deps.helperNamespace, name);
    const ip = pod?.status?.podIP;
    const port = pod?.spec?.containers?.[0]?.ports?.find((p) => p.name === METRICS_PORT_NAME)?.containerPort;
    return isPodReady(pod) && ip && port ? { pod: name, ip, port } : undefined;
  }

  private async pollOne(seen: PortForward): Promise<void> {
    const { api, cache, log } = this.deps;
    const helper = this.helperOf(seen)!;
    const where = { namespace: seen.metadata.namespace, name: seen.metadata.name, helper: helper.pod };
    let observed;
    try {
      observed = connectionsOf(await this.deps.readMetrics(helper.ip, helper.port));
    } catch (err) {
      log.debug('could not read the helper\'s counters', { ...where, error: describeError(err) });
      return;
    }
    // the PortForward as it is now, still with this helper: the write must not undo a newer pass
    const pf = cache.portForwards.get(seen.metadata.namespace ?? '', seen.metadata.name ?? '');
    if (!pf || pf.status?.helper?.pod !== helper.pod) return;
    const connections = changedConnections(pf.status.connections, observed, rfc3339((this.deps.now ?? Date.now)()));
    if (!connections) return;
    try {
      await api.replacePortForwardStatus({ ...pf, status: { ...pf.status, connections } });
    } catch (err) {
      // a conflict or a deleted PortForward: the next round reads it again
      if (isApiError(err, 409) || isApiError(err, 404)) log.debug('status.connections not written', { ...where, error: describeError(err) });
      else log.warn('could not write status.connections', { ...where, error: describeError(err) });
    }
  }
}
