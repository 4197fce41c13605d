// Start-up latency: apply to Ready for PortForwards created one after another, each to a new
// target, against bare pods created the same way in the same run (the baseline: a PortForward's
// start includes one pod start). After each Ready, one request through the Service's cluster IP
// tells whether Ready meant traffic flows. Merged into bench/results/latest.json as "startup".
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { apply, exec, kubectl, toolboxPod, waitRunning } from '../test/e2e/lib/kube.js';
import { getPf, loopbackTarget, portForward, waitReady } from '../test/e2e/lib/portforward.js';

const COUNT = Number(process.env.STARTUP_COUNT ?? 20);
const NS = 'pf-bench-startup';
const log = (msg: string) => process.stderr.write(`[startup] ${msg}\n`);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const summary = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { count: s.length, p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), maxMs: s[s.length - 1]! };
};

async function main() {
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=300s'], { timeoutMs: 310_000 });
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  await apply(toolboxPod(NS, 'client', 'exec sleep infinity'));
  await waitRunning(NS, 'client');

  const bare: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    const t0 = Date.now();
    await apply(toolboxPod(NS, `bare-${i}`, 'exec sleep infinity'));
    await waitRunning(NS, `bare-${i}`);
    bare.push(Date.now() - t0);
  }
  log(`bare pods: ${JSON.stringify(summary(bare))}`);

  const targets = Array.from({ length: COUNT }, (_, i) => `web-${i}`);
  await apply(...targets.map((t) => loopbackTarget(NS, t)));
  for (const t of targets) await waitRunning(NS, t);
  const ready: number[] = [];
  let answered = 0;
  for (const t of targets) {
    const t0 = Date.now();
    await apply(portForward(NS, `pf-${t}`, { target: { pod: t }, ports: [{ port: 10080, targetPort: 8080 }] }));
    const pf = await waitReady(NS, `pf-${t}`);
    ready.push(Date.now() - t0);
    try {
      await exec(NS, 'client', ['curl', '-sf', '--max-time', '3', `http://${pf.status.service.clusterIP}:10080/`]);
      answered++;
    } catch (err) {
      log(`pf-${t}: the first request after Ready failed: ${(err as Error).message}`);
    }
  }
  const pfs = summary(ready);
  log(`PortForwards: ${JSON.stringify(pfs)}; first request answered ${answered}/${COUNT}`);
  const result = {
    portForwards: pfs,
    barePods: summary(bare),
    ratioP50: +(pfs.p50Ms / summary(bare).p50Ms).toFixed(2),
    firstRequestAnswered: `${answered}/${COUNT}`,
    samplesMs: ready,
    lastStatus: (await getPf(NS, `pf-${targets[COUNT - 1]}`)).status?.phase,
  };
  await kubectl(['delete', 'namespace', NS, '--wait=false']);

  const file = new URL('./results/latest.json', import.meta.url);
  const latest = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  writeFileSync(file, JSON.stringify({ ...latest, startup: result }, null, 2));
  console.log('\nStart-up: apply to Ready, one at a time, each to a new target');
  console.log(`| what | count | p50 | p99 | max |\n| --- | --- | --- | --- | --- |`);
  console.log(`| PortForward | ${pfs.count} | ${pfs.p50Ms} ms | ${pfs.p99Ms} ms | ${pfs.maxMs} ms |`);
  const b = summary(bare);
  console.log(`| bare pod (baseline) | ${b.count} | ${b.p50Ms} ms | ${b.p99Ms} ms | ${b.maxMs} ms |`);
  console.log(`first request after Ready answered: ${answered}/${COUNT}`);
}

main().catch((err) => {
  console.error(`startup bench failed: ${err.message}`);
  process.exit(1);
});
