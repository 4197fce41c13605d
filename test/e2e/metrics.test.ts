// Per-tunnel metrics, as a Prometheus user gets them: after N requests through a PortForward's
// Service, its helper's /metrics says N more connections and at least the bytes each way, and
// status.connections follows within CONNECTIONS_POLL. The counters are read the way Prometheus
// would: from a pod of a "monitoring" namespace that the optional NetworkPolicy
// (manifests/optional/helper-metrics-network-policy.yaml) lets reach the helpers' metrics port, and
// no other of their ports.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { parseDuration } from '../../src/api/index.js';
import { parseSamples, type Sample } from '../../src/controller/connections.js';
import { apply, eventually, exec, getJson, kubectl, testNamespace, toolboxPod, waitRunning } from './lib/kube.js';
import { HELPER_NS, OPERATOR_NS, clientPod, getPf, helpersOf, namespaceWithTarget, portForward, waitReady, waitReason } from './lib/portforward.js';

type Ns = Awaited<ReturnType<typeof testNamespace>>;

const N = 5;
const BLOB = 100_000; // bytes of each response's body

/** One attempt that must not get through: refused or timed out, not answered. */
async function blocked(ns: string, pod: string, url: string): Promise<void> {
  await assert.rejects(exec(ns, pod, ['curl', '-sf', '--max-time', '3', url]), `${url} from ${ns}/${pod} must not answer`);
}

/** The operator's CONNECTIONS_POLL in ms (its default when the Deployment does not set it). */
async function connectionsPollMs(): Promise<number> {
  const deployment = await getJson(['deployment', '-n', OPERATOR_NS, 'portforward-operator']);
  const env = deployment.spec.template.spec.containers[0].env ?? [];
  const value: string = env.find((e: any) => e.name === 'CONNECTIONS_POLL')?.value ?? '30s';
  return value === '0' ? 0 : (parseDuration(value) ?? 30) * 1000;
}

describe('per-tunnel metrics', () => {
  let ns: Ns;
  let mon: Ns;
  let client: Awaited<ReturnType<typeof clientPod>>;
  let pollMs = 0;
  const policyName = () => `helper-metrics-from-${mon.name}`;
  /** Where a PortForward's helper serves its counters: its pod IP and the container port named metrics. */
  const metricsUrl = async (name: string) => {
    const pf = await getPf(ns.name, name);
    const helper = (await helpersOf(pf.metadata.uid)).find((h) => h.metadata.name === pf.status.helper.pod);
    const port = helper.spec.containers[0].ports.find((p: any) => p.name === 'metrics').containerPort;
    return { url: `http://${helper.status.podIP}:${port}/metrics`, helperIP: helper.status.podIP as string };
  };
  const scrape = async (url: string): Promise<Sample[]> => parseSamples(await exec(mon.name, 'prometheus', ['curl', '-sf', '--max-time', '3', url]));
  const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);

  before(async () => {
    [ns, mon] = await Promise.all([namespaceWithTarget('e2e-metrics'), testNamespace('e2e-metrics-mon')]);
    await exec(ns.name, 'web', ['sh', '-c', `head -c ${BLOB} /dev/zero > /srv/blob`]);
    await apply(
      portForward(ns.name, 'web', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }),
      // nothing listens on 9999: Pending, but its helper is ready and relays, so connections fail
      portForward(ns.name, 'closed', { target: { pod: 'web' }, ports: [{ port: 10081, targetPort: 9999 }] }),
      toolboxPod(mon.name, 'prometheus', 'exec sleep infinity'),
    );
    [client, pollMs] = await Promise.all([clientPod(ns.name), connectionsPollMs(), waitRunning(mon.name, 'prometheus')]);
    await waitReady(ns.name, 'web');
    await waitReason(ns.name, 'closed', 'TargetPortClosed');
  });
  after(async () => {
    await kubectl(['delete', 'networkpolicy', '-n', HELPER_NS, policyName(), '--ignore-not-found', '--wait=false']).catch(() => '');
    await Promise.all([ns?.remove(), mon?.remove()]);
  });

  it("the helpers' metrics port opens to the monitoring namespace with the optional NetworkPolicy, and no relay port does", async () => {
    const { url, helperIP } = await metricsUrl('web');
    await blocked(mon.name, 'prometheus', url); // helpers deny all ingress but the operator's, the gateway's and their clients'
    const policy = parse(readFileSync(new URL('../../manifests/optional/helper-metrics-network-policy.yaml', import.meta.url), 'utf8'));
    policy.metadata.name = policyName();
    policy.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'] = mon.name;
    await apply(policy);
    const samples = await eventually('the metrics port from the monitoring namespace', () => scrape(url), 30_000);
    assert.ok(samples.some((s) => s.name === 'pf_relay_connections_opened_total' && s.labels.port === '10080'), 'the relay counts its port');
    await blocked(mon.name, 'prometheus', `http://${helperIP}:10080/`);
  });

  it(`after ${N} requests through the Service, the helper's counters say ${N} more connections and at least the bytes each way`, async () => {
    const { url } = await metricsUrl('web');
    const service = `http://pf-web.${ns.name}.svc:10080`;
    await client.curl(`${service}/`); // kube-proxy and DNS have the Service: the requests below go through at once
    const port = { port: '10080' };
    const atStart = await scrape(url);
    // one curl per request: one connection each (HTTP/1.0, the server closes)
    const sizes = await exec(ns.name, 'client', [
      'sh', '-c', `for i in $(seq ${N}); do curl -sf -o /dev/null --max-time 5 -w '%{size_request} %{size_header} %{size_download}\\n' ${service}/blob || exit 1; done`,
    ]);
    const requests = sizes.trim().split('\n').map((l) => l.split(' ').map(Number));
    assert.equal(requests.length, N);
    assert.ok(requests.every(([, , body]) => body === BLOB), sizes);
    const sent = requests.reduce((sum, [up]) => sum + up!, 0);
    const received = requests.reduce((sum, [, header, body]) => sum + header! + body!, 0);

    // a connection's bytes are counted as it ends, a moment after curl has its response
    const delta = (now: Sample[], name: string, labels = {}) => value(now, name, { ...port, ...labels }) - value(atStart, name, { ...port, ...labels });
    const atEnd = await eventually('the counters of all requests', async () => {
      const now = await scrape(url);
      return delta(now, 'pf_relay_bytes_total', { direction: 'to_client' }) >= received ? now : undefined;
    }, 10_000);
    const opened = delta(atEnd, 'pf_relay_connections_opened_total');
    // the operator's own check through the Service (one per pass of a Ready PortForward) may add one
    assert.ok(opened >= N && opened <= N + 2, `${opened} connections opened for ${N} requests`);
    assert.ok(delta(atEnd, 'pf_relay_bytes_total', { direction: 'to_target' }) >= sent, `to_target: at least the ${sent} bytes curl sent`);
    assert.equal(delta(atEnd, 'pf_relay_connections_failed_total'), 0);
    assert.equal(delta(atEnd, 'pf_relay_connections_refused_total'), 0);
    assert.equal(value(atEnd, 'pf_relay_connections_active', port), 0);
  });

  it('a connection the target does not accept is counted as failed, with the last error', async () => {
    const { url, helperIP } = await metricsUrl('closed');
    await assert.rejects(client.curlOnce(`http://${helperIP}:10081/`)); // the relay accepts, cannot connect, and resets
    const samples = await eventually('a failed connection', async () => {
      const now = await scrape(url);
      return value(now, 'pf_relay_connections_failed_total', { port: '10081' }) >= 1 ? now : undefined;
    }, 10_000);
    const last = samples.find((s) => s.name === 'pf_relay_last_error_timestamp_seconds');
    assert.match(last?.labels.message ?? '', /^port 10081\/TCP: cannot connect to target port 9999 \(.*connection refused/);
    assert.ok(Math.abs(last!.value * 1000 - Date.now()) < 60_000, 'a recent time');
  });

  it('status.connections follows within CONNECTIONS_POLL, and kubectl describe shows the last error', async (t) => {
    if (pollMs === 0) return t.skip('CONNECTIONS_POLL is 0 on this operator');
    const within = 2 * pollMs + 15_000; // a poll round after the counts, and the write reaching the cache
    const total = value(await scrape((await metricsUrl('web')).url), 'pf_relay_connections_opened_total');
    const web = await eventually(`status.connections.total of web to reach ${total}`, async () => {
      const pf = await getPf(ns.name, 'web');
      const c = pf.status?.connections;
      if (c && c.total >= total) return pf;
      throw new Error(`last: ${JSON.stringify(c)}`);
    }, within);
    assert.ok(web.status.connections.active >= 0 && web.status.connections.active <= 1, 'none open but, at most, an operator check');
    assert.equal(web.status.connections.failed, 0);
    assert.ok(!Number.isNaN(Date.parse(web.status.connections.observedAt)));

    const closed = await eventually('the last error in status.connections of closed', async () => {
      const pf = await getPf(ns.name, 'closed');
      if (pf.status?.connections?.lastError) return pf;
      throw new Error(`last: ${JSON.stringify(pf.status?.connections)}`);
    }, within);
    assert.ok(closed.status.connections.failed >= 1);
    assert.match(closed.status.connections.lastError.message, /port 10081\/TCP: cannot connect to target port 9999/);
    const described = await kubectl(['describe', 'pf', '-n', ns.name, 'closed']);
    assert.match(described, /Connections:[\s\S]*Last Error:[\s\S]*cannot connect to target port 9999/);
    const wide = await kubectl(['get', 'pf', '-n', ns.name, 'web', '-o', 'wide']);
    assert.match(wide, /CONNECTIONS\n.*\s\d+\n?$/);
  });
});
