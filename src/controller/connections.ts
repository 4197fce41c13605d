// status.connections from a helper's counters: pf-relay's GET /metrics (Prometheus text format,
// images/helper/relay/metrics.go) summed over its ports, and the rule that it is written only when
// the numbers change, so that a quiet tunnel costs the API server nothing.
import type { Connections } from '../api/index.js';
import { rfc3339 } from '../kube/time.js';
import { canonical } from '../util/canonical.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|\})/y;

/** The samples of a text exposition; comments and blank lines skipped. Throws on a malformed line. */
export function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    const value = m ? Number(m[3]) : NaN;
    if (!m || (Number.isNaN(value) && m[3] !== 'NaN')) throw new Error(`not a metrics sample: ${line.slice(0, 200)}`);
    samples.push({ name: m[1]!, labels: m[2] ? parseLabels(m[2], line) : {}, value });
  }
  return samples;
}

function parseLabels(braces: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (braces === '{}') return labels;
  LABEL.lastIndex = 1;
  for (;;) {
    const m = LABEL.exec(braces);
    if (!m) throw new Error(`bad labels in: ${line.slice(0, 200)}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    if (m[3] === '}') {
      if (LABEL.lastIndex !== braces.length) throw new Error(`bad labels in: ${line.slice(0, 200)}`);
      return labels;
    }
  }
}

/** The relay's metric names that status.connections reads. */
export const RELAY_METRICS = {
  opened: 'pf_relay_connections_opened_total',
  active: 'pf_relay_connections_active',
  refused: 'pf_relay_connections_refused_total',
  failed: 'pf_relay_connections_failed_total',
  lastError: 'pf_relay_last_error_timestamp_seconds',
} as const;

/** What a helper's counters say, over all its ports (observedAt is the poll's to add). */
export function connectionsOf(metricsText: string): Omit<Connections, 'observedAt'> {
  const samples = parseSamples(metricsText);
  const sum = (name: string) => samples.filter((s) => s.name === name).reduce((total, s) => total + s.value, 0);
  if (!samples.some((s) => s.name === RELAY_METRICS.opened)) throw new Error(`no ${RELAY_METRICS.opened} in the helper's metrics`);
  const last = samples.find((s) => s.name === RELAY_METRICS.lastError);
  return {
    active: sum(RELAY_METRICS.active),
    total: sum(RELAY_METRICS.opened),
    failed: sum(RELAY_METRICS.failed) + sum(RELAY_METRICS.refused),
    ...(last ? { lastError: { message: last.labels.message ?? '', time: rfc3339(last.value * 1000) } } : {}),
  };
}

/**
 * The status.connections to write, or undefined when the counters say what the status already
 * says. observedAt is when a change was seen: it alone never makes a write.
 */
export function changedConnections(current: Connections | undefined, observed: Omit<Connections, 'observedAt'>, now: string): Connections | undefined {
  const { observedAt: _ignored, ...previous } = current ?? {};
  if (current && canonical(previous) === canonical(observed)) return undefined;
  return { ...observed, observedAt: now };
}
