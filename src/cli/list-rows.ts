// The rows of `kubectl pf list`, from PortForwards as read from the API server. Pure, so that what
// the table says is tested without a cluster.
import { parseSpec, type PortForward, type PortForwardSpec, type TargetSpec, type WorkloadKind } from '../api/index.js';
import { expiresAtMs } from '../controller/expiry.js';
import { formatSelector } from '../controller/selector.js';

export interface ListRow {
  namespace: string;
  name: string;
  phase: string;
  target: string;
  waysIn: string;
  expires: string;
  connections: string;
}

const WORKLOAD_WORDS: Record<WorkloadKind, string> = { Deployment: 'deploy', StatefulSet: 'sts', DaemonSet: 'ds', ReplicaSet: 'rs' };

/** The target as kubectl names it: pod/web, svc/web, deploy/api, selector app=db; "-n NS" when it is elsewhere. */
export function targetText(target: TargetSpec, ownNamespace: string | undefined): string {
  const { pod, service, workload, selector, namespace } = target;
  const what =
    pod !== undefined ? `pod/${pod}`
    : service !== undefined ? `svc/${service}`
    : workload !== undefined ? `${WORKLOAD_WORDS[workload.kind]}/${workload.name}`
    : selector !== undefined ? `selector ${formatSelector(selector)}`
    : '-';
  return namespace !== undefined && namespace !== ownNamespace ? `${what} -n ${namespace}` : what;
}

/** The Service inside the cluster and, when the status lists tunnel paths, the tunnel API. */
export function waysIn(status: PortForward['status']): string {
  const ways: string[] = [];
  if (status?.service?.name) ways.push(`svc/${status.service.name}`);
  if (status?.access?.tunnel?.length) ways.push('tunnel API');
  return ways.join(', ') || '-';
}

const UNITS = [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const;

/** 45s, 5m30s, 1h59m, 3d2h: the largest unit and, when not zero, the next. */
export function shortDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const i = UNITS.findIndex(([, seconds]) => total >= seconds);
  if (i === -1) return '0s';
  const [unit, seconds] = UNITS[i] as (typeof UNITS)[number];
  const next = UNITS[i + 1];
  const rest = next ? Math.floor((total % seconds) / next[1]) : 0;
  return `${Math.floor(total / seconds)}${unit}${next && rest ? `${rest}${next[0]}` : ''}`;
}

/** status.expiresAt, else (not reconciled yet) creation + spec.ttl as the operator reckons it; else -. */
export function expires(pf: PortForward, spec: PortForwardSpec | undefined, nowMs: number): string {
  const created = Date.parse(pf.metadata.creationTimestamp ? String(pf.metadata.creationTimestamp) : '');
  const at = pf.status?.expiresAt ? Date.parse(pf.status.expiresAt) : Number.isNaN(created) ? undefined : expiresAtMs(created, spec?.ttl, undefined);
  if (at === undefined || Number.isNaN(at)) return '-';
  return at <= nowMs ? 'now' : `in ${shortDuration(at - nowMs)}`;
}

/**
 * status.connections.active, read from the raw object: the field is newer than this plugin's
 * types, and an operator that does not report it leaves it out.
 */
export function connections(pf: PortForward): string {
  const active = (pf.status as { connections?: { active?: unknown } } | undefined)?.connections?.active;
  return typeof active === 'number' && Number.isFinite(active) ? String(active) : '-';
}

export function listRow(pf: PortForward, nowMs: number): ListRow {
  const parsed = parseSpec(pf.spec);
  const spec = parsed.ok ? parsed.spec : undefined;
  return {
    namespace: pf.metadata.namespace ?? '',
    name: pf.metadata.name ?? '',
    phase: pf.status?.phase ?? '-',
    target: spec ? targetText(spec.target, pf.metadata.namespace) : '-',
    waysIn: waysIn(pf.status),
    expires: expires(pf, spec, nowMs),
    connections: connections(pf),
  };
}

/** The table's lines, kubectl style: left-aligned columns three spaces apart; NAMESPACE only with -A. */
export function listTable(rows: readonly ListRow[], allNamespaces: boolean): string[] {
  const header = ['NAME', 'PHASE', 'TARGET', 'WAYS IN', 'EXPIRES', 'CONNECTIONS'];
  const cells = rows.map((r) => [r.name, r.phase, r.target, r.waysIn, r.expires, r.connections]);
  if (allNamespaces) {
    header.unshift('NAMESPACE');
    cells.forEach((c, i) => c.unshift((rows[i] as ListRow).namespace));
  }
  const table = [header, ...cells];
  const widths = header.map((_, col) => Math.max(...table.map((line) => (line[col] as string).length)));
  return table.map((line) => line.map((cell, col) => (col === line.length - 1 ? cell : cell.padEnd((widths[col] as number) + 3))).join(''));
}
