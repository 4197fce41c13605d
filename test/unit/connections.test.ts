// status.connections: a helper's /metrics text summed into the status shape, and written only
// when the numbers change.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { PortForward } from '../../src/api/index.js';
import { ConnectionsPoll } from '../../src/controller/connections-poll.js';
import { changedConnections, connectionsOf, parseSamples } from '../../src/controller/connections.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FakeCluster } from './support/fake-cluster.js';
import { HELPER_NAMESPACE, pod, portForward } from './support/fixtures.js';

/** pf-relay's own exposition from known counts (its Go test keeps the file in step with the code). */
const RELAY_METRICS_TEXT = readFileSync(new URL('../../images/helper/relay/testdata/metrics.txt', import.meta.url), 'utf8');

describe("a helper's /metrics", () => {
  it('sums over its ports: active and opened, failed with refused, and the last error with its message unescaped', () => {
    assert.deepEqual(connectionsOf(RELAY_METRICS_TEXT), {
      active: 3,
      total: 11,
      failed: 5,
      lastError: {
        message: 'port 10080/TCP: cannot connect to target port 80 (127.0.0.1: connect: connection refused; a "quoted" \\ word)',
        time: '2030-01-01T00:00:00Z',
      },
    });
  });

  it('has no lastError before the first error', () => {
    const text = RELAY_METRICS_TEXT.split('\n').filter((l) => !l.startsWith('pf_relay_last_error')).join('\n');
    assert.equal(connectionsOf(text).lastError, undefined);
  });

  it('reads labels with escapes, samples without labels, and timestamps', () => {
    assert.deepEqual(parseSamples('a{x="1\\n2",y="} 3"} 4 1700000000000\nb 5\n# c 6\n'), [
      { name: 'a', labels: { x: '1\n2', y: '} 3' }, value: 4 },
      { name: 'b', labels: {}, value: 5 },
    ]);
  });

  it('refuses what is not a relay: a malformed line, or no relay counters at all', () => {
    assert.throws(() => connectionsOf('pf_relay_connections_opened_total{port="1" 2'), /not a metrics sample|bad labels/);
    assert.throws(() => connectionsOf('<html>not found</html>'), /not a metrics sample/);
    assert.throws(() => connectionsOf('# HELP x\nup 1\n'), /no pf_relay_connections_opened_total/);
  });
});

describe('when status.connections is written', () => {
  const T1 = '2030-01-01T00:00:00Z';
  const T2 = '2030-01-01T00:00:30Z';
  const counts = { active: 1, total: 5, failed: 0 };

  it('only when a count or the last error changed; observedAt alone changes nothing', () => {
    const first = changedConnections(undefined, counts, T1);
    assert.deepEqual(first, { ...counts, observedAt: T1 });
    assert.equal(changedConnections(first, { ...counts }, T2), undefined);
    assert.deepEqual(changedConnections(first, { ...counts, total: 6 }, T2), { ...counts, total: 6, observedAt: T2 });
    const error = { message: 'port 1/TCP: refused', time: T1 };
    assert.deepEqual(changedConnections(first, { ...counts, lastError: error }, T2), { ...counts, lastError: error, observedAt: T2 });
  });
});

describe('the connections poll', () => {
  const helperName = 'pf-team-a-web-1234';

  function setup(helper: { ready?: boolean; metricsPort?: boolean } = {}) {
    const cluster = new FakeCluster();
    const helperPod = pod(HELPER_NAMESPACE, helperName, { ready: helper.ready ?? true });
    helperPod.spec!.containers[0]!.ports = [{ containerPort: 10080 }, ...((helper.metricsPort ?? true) ? [{ name: 'metrics', containerPort: 9901 }] : [])];
    cluster.addPod(helperPod);
    const pf: PortForward = {
      ...portForward('team-a', 'web', { target: { pod: 'web' }, ports: [{ port: 10080 }] }),
      status: { phase: 'Ready', helper: { namespace: HELPER_NAMESPACE, pod: helperName, podIP: '10.1.0.9' } },
    };
    cluster.addPortForward(pf);
    let text = RELAY_METRICS_TEXT;
    const asked: string[] = [];
    let now = Date.parse('2030-01-01T00:01:00Z');
    const poll = new ConnectionsPoll({
      cache: cluster,
      api: cluster.api,
      helperNamespace: HELPER_NAMESPACE,
      readMetrics: async (ip, port) => (asked.push(`${ip}:${port}`), text),
      intervalMs: 30_000,
      log: silentLogger(),
      now: () => now,
    });
    const status = () => cluster.portForwards.get('team-a', 'web')!.status!;
    return {
      cluster, poll, asked, status,
      setText: (t: string) => (text = t),
      later: () => (now += 30_000),
    };
  }

  it("writes the helper's counts, then nothing while they hold, then again when they change", async () => {
    const { cluster, poll, asked, status, setText, later } = setup();
    await poll.pollOnce();
    assert.deepEqual(asked, ['10.1.0.9:9901'], 'the pod IP, on the port named metrics');
    assert.deepEqual(status().connections, { ...connectionsOf(RELAY_METRICS_TEXT), observedAt: '2030-01-01T00:01:00Z' });
    assert.equal(status().phase, 'Ready', 'the rest of the status is left as it was');

    const writes = cluster.writes;
    later();
    await poll.pollOnce();
    assert.equal(cluster.writes, writes, 'no write when nothing changed');
    assert.equal(status().connections!.observedAt, '2030-01-01T00:01:00Z');

    later();
    setText(RELAY_METRICS_TEXT.replace('pf_relay_connections_opened_total{proto="tcp",port="10080",target_port="80"} 7', 'pf_relay_connections_opened_total{proto="tcp",port="10080",target_port="80"} 8'));
    await poll.pollOnce();
    assert.equal(cluster.writes, writes + 1);
    assert.equal(status().connections!.total, 12);
    assert.equal(status().connections!.observedAt, '2030-01-01T00:02:00Z');
  });

  it('asks no helper that is not ready, or that has no metrics port (the classic data path)', async () => {
    for (const helper of [{ ready: false }, { metricsPort: false }]) {
      const { poll, asked, status } = setup(helper);
      await poll.pollOnce();
      assert.deepEqual(asked, [], JSON.stringify(helper));
      assert.equal(status().connections, undefined);
    }
  });

  it('writes nothing when the helper answers with something else', async () => {
    const { cluster, poll, setText } = setup();
    setText('404 page not found\n');
    const writes = cluster.writes;
    await poll.pollOnce();
    assert.equal(cluster.writes, writes);
  });
});
