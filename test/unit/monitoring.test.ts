// What a Prometheus user gets: the optional PodMonitors and NetworkPolicy select what the operator
// really builds, and the sample Grafana dashboard loads and asks only for metrics and labels that
// the relay and the operator export.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { NAMESPACE_NAME_LABEL } from '../../src/api/index.js';
import { helperSettingsOf } from '../../src/controller/reconciler.js';
import { Metrics } from '../../src/observability/metrics.js';
import { METRICS_PORT_NAME, helperPodFor } from '../../src/resources/helper-pod.js';
import { ANNOTATIONS } from '../../src/resources/names.js';
import { config, validSpec } from './support/fixtures.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const yamlOf = (path: string) => parse(read(path));

const helper = helperPodFor(
  { namespace: 'team-a', name: 'web', uid: 'pf-uid' },
  validSpec({ target: { pod: 'web' }, ports: [{ port: 9901 }] }),
  { namespace: 'team-a', pod: 'web', uid: 'pod-uid', node: 'node-1', ips: ['10.1.2.3'], tolerations: [], ports: [9901], chosenBy: 'test' },
  helperSettingsOf(config),
);

const selects = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

describe('manifests/optional', () => {
  it('the helpers\' PodMonitor scrapes their port named metrics, and labels each series with its PortForward', () => {
    const monitor = yamlOf('manifests/optional/helper-podmonitor.yaml');
    assert.equal(monitor.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(monitor.metadata.namespace, config.helperNamespace);
    assert.ok(selects(monitor.spec.selector.matchLabels, helper.metadata!.labels), 'selects helper pods');
    const [endpoint] = monitor.spec.podMetricsEndpoints;
    assert.equal(endpoint.port, METRICS_PORT_NAME);
    assert.ok(helper.spec!.containers[0]!.ports!.some((p) => p.name === endpoint.port), 'a port the helper has');
    const annotation = `__meta_kubernetes_pod_annotation_${ANNOTATIONS.owner.replace(/[^a-zA-Z0-9]/g, '_')}`;
    assert.deepEqual(endpoint.relabelings.map((r: any) => [r.sourceLabels[0], r.targetLabel]), [[annotation, 'portforward_namespace'], [annotation, 'portforward']]);
    assert.match(helper.metadata!.annotations![ANNOTATIONS.owner]!, new RegExp(`^${endpoint.relabelings[0].regex}$`));
  });

  it("the operator's PodMonitor scrapes its http port and keeps portforward_resources' own namespace label", () => {
    const monitor = yamlOf('manifests/optional/operator-podmonitor.yaml');
    const deployment = parseAllDocuments(read('manifests/deployment.yaml')).map((d) => d.toJS()).find((d) => d?.kind === 'Deployment');
    const template = deployment.spec.template;
    assert.ok(selects(monitor.spec.selector.matchLabels, template.metadata.labels));
    const [endpoint] = monitor.spec.podMetricsEndpoints;
    assert.ok(template.spec.containers[0].ports.some((p: any) => p.name === endpoint.port));
    assert.equal(endpoint.honorLabels, true);
  });

  it('the NetworkPolicy lets the monitoring namespace reach the helpers\' metrics port and no other', () => {
    const policy = yamlOf('manifests/optional/helper-metrics-network-policy.yaml');
    assert.equal(policy.metadata.namespace, config.helperNamespace);
    assert.ok(selects(policy.spec.podSelector.matchLabels, helper.metadata!.labels));
    assert.deepEqual(policy.spec.ingress, [
      { from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: 'monitoring' } } }], ports: [{ port: METRICS_PORT_NAME, protocol: 'TCP' }] },
    ]);
  });

  it('is not installed by kubectl apply -k manifests/ (it needs prometheus-operator)', () => {
    assert.ok(!/optional/.test(read('manifests/kustomization.yaml')));
  });
});

/** Metric names and labels, from pf-relay's own exposition (its Go test keeps the file in step) and the operator's registry. */
function exported(): { metrics: Set<string>; labels: Set<string> } {
  const metrics = new Set<string>();
  const labels = new Set<string>();
  for (const line of read('images/helper/relay/testdata/metrics.txt').split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) metrics.add(type[1]!);
    for (const [, label] of line.startsWith('#') ? [] : line.matchAll(/([a-z_]+)="/g)) labels.add(label!);
  }
  for (const m of new Metrics({ defaultMetrics: false }).registry.getMetricsAsArray()) {
    const { name, type, labelNames } = m as unknown as { name: string; type: string; labelNames: string[] };
    for (const suffix of type === 'histogram' ? ['_bucket', '_sum', '_count'] : ['']) metrics.add(name + suffix);
    for (const l of labelNames) labels.add(l);
  }
  // the PodMonitor's relabelings, and what Prometheus adds to every series
  for (const l of ['portforward_namespace', 'portforward', 'namespace', 'pod', 'job', 'instance']) labels.add(l);
  return { metrics, labels };
}

describe('docs/grafana/portforward.json', () => {
  const dashboard = JSON.parse(read('docs/grafana/portforward.json'));
  const exprs: string[] = [
    ...dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr)),
    ...dashboard.templating.list.filter((v: any) => v.type === 'query').map((v: any) => v.query.query),
  ];

  it('is a Grafana dashboard: title, schemaVersion, a Prometheus data source variable, panels with queries through it', () => {
    assert.equal(typeof dashboard.title, 'string');
    assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36);
    const source = dashboard.templating.list.find((v: any) => v.type === 'datasource');
    assert.equal(source?.query, 'prometheus');
    assert.ok(dashboard.panels.length >= 6);
    const ids = dashboard.panels.map((p: any) => p.id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
    for (const panel of dashboard.panels) {
      assert.ok(panel.title && panel.type && panel.gridPos, JSON.stringify(panel).slice(0, 80));
      assert.ok(panel.targets.length > 0, `${panel.title}: queries`);
      for (const t of [panel, ...panel.targets]) assert.equal(t.datasource.uid, `\${${source.name}}`, `${panel.title}: through the variable`);
    }
  });

  it('shows connections, bytes each way, refused and failed, UDP drops and PortForwards by phase', () => {
    const all = exprs.join('\n');
    for (const needed of ['pf_relay_connections_active', 'pf_relay_connections_opened_total', 'direction="to_target"', 'direction="to_client"',
      'pf_relay_connections_refused_total', 'pf_relay_connections_failed_total', 'pf_relay_datagrams_dropped_total', 'portforward_resources']) {
      assert.ok(all.includes(needed), needed);
    }
  });

  it('asks only for metrics and labels that the relay and the operator export', () => {
    const { metrics, labels } = exported();
    assert.ok(metrics.has('pf_relay_bytes_total') && metrics.has('portforward_resources'), 'both sources were read');
    for (const expr of exprs) {
      for (const [name] of expr.matchAll(/\b(?:pf_relay|portforward)_[a-z0-9_]+\b/g)) {
        if (labels.has(name)) continue; // portforward_namespace
        assert.ok(metrics.has(name), `${name} in ${expr}`);
      }
      const used = [
        ...[...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
        ...[...expr.matchAll(/[{,]\s*([a-z_]+)\s*(?:=~|!=|=)/g)].map((m) => m[1]!),
        ...[...expr.matchAll(/label_values\([^,]+,\s*([a-z_]+)\)/g)].map((m) => m[1]!),
      ];
      for (const label of used) assert.ok(labels.has(label), `label ${label} in ${expr}`);
    }
  });
});
