// Operator settings, read once from the environment at start.
import { z } from 'zod';
import { parseDuration } from './api/duration.js';
import { HELPER_DATA_PATHS, type HelperDataPath } from './resources/helper-pod.js';

const envSchema = z.object({
  /** The operator's own namespace: its leader Lease. */
  OPERATOR_NAMESPACE: z.string().default('portforward-system'),
  /** Where helper pods and their NetworkPolicies live: the one namespace labelled for privileged pods. */
  HELPER_NAMESPACE: z.string().default('portforward-helpers'),
  HELPER_IMAGE: z.string().default('localhost/portforward-helper:dev'),
  HELPER_IMAGE_PULL_POLICY: z.enum(['Always', 'IfNotPresent', 'Never']).default('IfNotPresent'),
  /**
   * The relay the helper runs (docs/helper.md): splice (pf-relay: one process, no fork per connection,
   * splice(2), no privilege once set up) or exec (the classic nsenter per connection, a baseline that
   * keeps its privileges).
   */
  HELPER_DATA_PATH: z.enum(HELPER_DATA_PATHS).default('splice'),
  /** The helpers' PriorityClass (manifests/priority-class.yaml): low, so they never evict a tenant's pods. */
  HELPER_PRIORITY_CLASS: z.string().default('portforward-helper'),
  /** Longest ttl a PortForward may ask for, and the ttl of those that ask for none; empty means no limit. */
  MAX_TTL: z.string().default(''),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /**
   * The most helpers starting at once on one node; more wait their turn (status reason HelperQueued).
   * Below it the operator adapts the number to how fast helpers start on that node.
   */
  HELPER_MAX_STARTING_PER_NODE: z.coerce.number().int().min(1).max(1000).default(64),
  /**
   * The most PortForwards of one namespace that get a helper (0: no limit). The oldest ones do; the
   * others wait with reason NamespaceLimitReached, so one tenant cannot fill a node's pods.
   */
  MAX_HELPERS_PER_NAMESPACE: z.coerce.number().int().min(0).default(100),
  /**
   * What Ready waits for: traffic (the helper reports every target port open, and a connection
   * through the Service's cluster IP reaches it; needs the operator inside the cluster) or helper
   * (the helper pod's readiness alone).
   */
  READY_CHECK: z.enum(['traffic', 'helper']).default('traffic'),
  /**
   * How long, in ms, a new helper's endpoint must have been published before Ready: the traffic
   * check runs on the operator's node, and the other nodes' kube-proxy and NetworkPolicy agent
   * program the same change on their own time.
   */
  READY_SETTLE_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  RESYNC_SECONDS: z.coerce.number().int().min(5).default(300),
  /** How often each ready helper's counters are read into status.connections (a duration; 0: never). */
  CONNECTIONS_POLL: z.string().default('30s'),
  LEADER_ELECTION: z.enum(['true', 'false']).default('true'),
  LEASE_NAME: z.string().default('portforward-operator'),
  POD_NAME: z.string().default(''),
  HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(8080),
});

export interface Config {
  namespace: string;
  helperNamespace: string;
  helperImage: string;
  helperImagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  helperDataPath: HelperDataPath;
  helperPriorityClass: string;
  maxTtlSeconds: number | undefined;
  logLevel: string;
  concurrency: number;
  helperMaxStartingPerNode: number;
  maxHelpersPerNamespace: number;
  readyCheck: 'traffic' | 'helper';
  readySettleMs: number;
  resyncSeconds: number;
  /** 0: status.connections is not written. */
  connectionsPollMs: number;
  leaderElection: boolean;
  leaseName: string;
  identity: string;
  httpPort: number;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const e = envSchema.parse(env);
  const maxTtl = e.MAX_TTL === '' ? undefined : parseDuration(e.MAX_TTL);
  if (maxTtl === null) throw new Error(`MAX_TTL: "${e.MAX_TTL}" is not a duration like 30m, 2h or 7d`);
  const poll = e.CONNECTIONS_POLL === '0' ? 0 : parseDuration(e.CONNECTIONS_POLL);
  if (poll === null) throw new Error(`CONNECTIONS_POLL: "${e.CONNECTIONS_POLL}" is not a duration like 10s, 30s or 2m (0: off)`);
  return {
    namespace: e.OPERATOR_NAMESPACE,
    helperNamespace: e.HELPER_NAMESPACE,
    helperImage: e.HELPER_IMAGE,
    helperImagePullPolicy: e.HELPER_IMAGE_PULL_POLICY,
    helperDataPath: e.HELPER_DATA_PATH,
    helperPriorityClass: e.HELPER_PRIORITY_CLASS,
    maxTtlSeconds: maxTtl,
    logLevel: e.LOG_LEVEL,
    concurrency: e.CONCURRENCY,
    helperMaxStartingPerNode: e.HELPER_MAX_STARTING_PER_NODE,
    maxHelpersPerNamespace: e.MAX_HELPERS_PER_NAMESPACE,
    readyCheck: e.READY_CHECK,
    readySettleMs: e.READY_SETTLE_MS,
    resyncSeconds: e.RESYNC_SECONDS,
    connectionsPollMs: poll * 1000,
    leaderElection: e.LEADER_ELECTION === 'true',
    leaseName: e.LEASE_NAME,
    identity: e.POD_NAME || `${process.env.HOSTNAME ?? 'local'}-${process.pid}`,
    httpPort: e.HTTP_PORT,
  };
}
