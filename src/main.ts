// Wiring: configuration, clients, caches, the controller behind leader election, probes and
// metrics, and a clean shutdown on SIGTERM/SIGINT.
import type { Server } from 'node:http';
import { loadConfig } from './config.js';
import { ConnectionsPoll } from './controller/connections-poll.js';
import { Controller } from './controller/controller.js';
import { EventRecorder } from './controller/events.js';
import { LeaderElector, leaseClient } from './controller/leader.js';
import { Reconciler } from './controller/reconciler.js';
import { createKubeApi } from './kube/api.js';
import { createKubeClients } from './kube/client.js';
import { describeError } from './kube/errors.js';
import { createInformers } from './kube/caches.js';
import { startHealthServer } from './observability/health.js';
import { createLogger } from './observability/logger.js';
import { readRelayMetrics } from './network/relay-metrics.js';
import { createTunnelProbe } from './network/tunnel-probe.js';
import { Metrics } from './observability/metrics.js';

const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  log.info('starting', {
    identity: config.identity,
    namespace: config.namespace,
    helperImage: config.helperImage,
    leaderElection: config.leaderElection,
  });

  const clients = createKubeClients();
  const metrics = new Metrics();
  const api = metrics.countCalls(createKubeApi(clients));
  const informers = createInformers(clients, config.helperNamespace, log);
  const reconciler = new Reconciler({
    config,
    cache: informers,
    api,
    events: new EventRecorder(api, config.identity),
    probe: createTunnelProbe(),
  });
  const controller = new Controller({
    informers,
    reconciler,
    api,
    metrics,
    log,
    helperNamespace: config.helperNamespace,
    concurrency: config.concurrency,
    resyncSeconds: config.resyncSeconds,
  });

  const poll =
    config.connectionsPollMs > 0
      ? new ConnectionsPoll({ cache: informers, api, helperNamespace: config.helperNamespace, readMetrics: readRelayMetrics, intervalMs: config.connectionsPollMs, log })
      : undefined;

  const server: Server = await startHealthServer({ port: config.httpPort, ready: informers.hasSynced, metrics, log });
  informers.start(); // standbys fill their caches too, to take over quickly

  const startController = () => {
    // the leader alone writes status, status.connections included
    controller.start().then(() => poll?.start()).catch((err: unknown) => {
      log.error('controller failed to start', { error: describeError(err) });
      process.exit(1);
    });
  };
  let elector: LeaderElector | undefined;
  if (config.leaderElection) {
    elector = new LeaderElector(leaseClient(clients.coordination, config.namespace, config.leaseName), {
      namespace: config.namespace,
      name: config.leaseName,
      identity: config.identity,
      leaseDurationSeconds: 15,
      renewIntervalMs: 2000,
      retryIntervalMs: 2000,
    }, log);
    elector.run({
      onStartedLeading: startController,
      // Exit rather than try to wind down in place: the kubelet restarts a clean process that campaigns again.
      onStoppedLeading: () => process.exit(1),
    });
  } else {
    log.info('leader election disabled: reconciling right away');
    startController();
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    const force = setTimeout(() => {
      log.warn('shutdown took too long; exiting');
      process.exit(0);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    await Promise.all([controller.stop(), poll?.stop()]); // let running passes and polls finish their writes
    await elector?.release();
    await informers.stop();
    server.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', message: 'operator failed to start', error: describeError(err) })}\n`);
  process.exit(1);
});
