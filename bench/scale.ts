// Scale benchmarks on the local cluster: 200 PortForwards at once against 200 bare pods (the same
// cluster, the same run), and 1000 PortForwards whose targets do not exist (status-only work).
// Reports times, ratios, operator CPU, peak memory and API requests; merged into bench/results/latest.json.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { podCgroup } from './cgroup.js';
import { apply, getJson, kubectl, sleep } from '../test/e2e/lib/kube.js';
import { OPERATOR_NS, loopbackTarget, portForward, restartOperatorWith } from '../test/e2e/lib/portforward.js';

const PODS = Number(process.env.SCALE_PODS ?? 200);
const MISSING = Number(process.env.SCALE_MISSING ?? 1000);
const LIMIT_MS = 30 * 60_000; // every wait is bounded
const log = (msg: string) => process.stderr.write(`[scale] ${msg}\n`);

/** Applies many objects with one kubectl call (a List). */
async function applyAll(items: object[]) {
  for (let i = 0; i < items.length; i += 250) {
    await kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: items.slice(i, i + 250) }), timeoutMs: 300_000 });
  }
}

/** Polls until count() reaches n; returns the seconds it took since start. */
async function until(what: string, n: number, count: () => Promise<number>, start: number): Promise<number> {
  let last = -1;
  while (Date.now() - start < LIMIT_MS) {
    const c = await count();
    if (c !== last) log(`${what}: ${c}/${n}`);
    last = c;
    if (c >= n) return (Date.now() - start) / 1000;
    await sleep(1000);
  }
  throw new Error(`${what}: only ${last}/${n} after ${LIMIT_MS / 1000}s`);
}

const readyPods = async (ns: string, selector?: string) =>
  (await getJson(['pods', '-n', ns, ...(selector ? ['-l', selector] : [])])).items.filter((p: any) =>
    p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'),
  ).length;
const pfsIn = async (ns: string, phase: string) =>
  (await getJson(['portforwards', '-n', ns])).items.filter((p: any) => p.status?.phase === phase).length;

async function deleteNamespace(ns: string) {
  await kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=true', '--timeout=600s'], { timeoutMs: 620_000 });
}

async function operatorMetrics(pod: string): Promise<{ reconciles: number; apiRequests: number }> {
  const text = await kubectl(['get', '--raw', `/api/v1/namespaces/${OPERATOR_NS}/pods/${pod}:8080/proxy/metrics`]);
  const sum = (prefix: string) =>
    text.split('\n').filter((l) => l.startsWith(prefix)).reduce((acc, l) => acc + Number(l.split(' ').pop()), 0);
  return { reconciles: sum('portforward_reconcile_total'), apiRequests: sum('portforward_api_requests_total') };
}

async function main() {
  // One namespace holds every PortForward here: lift the per-namespace helper limit for the run.
  await restartOperatorWith('MAX_HELPERS_PER_NAMESPACE=0');
  try {
    await measure();
  } finally {
    await restartOperatorWith('MAX_HELPERS_PER_NAMESPACE-');
  }
}

async function measure() {
  const operator = (await getJson(['pods', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/component=operator'])).items.find(
    (p: any) => !p.metadata.deletionTimestamp && p.status.phase === 'Running',
  );
  const cg = podCgroup(operator.metadata.uid);
  const results: Record<string, unknown> = {};

  log(`${PODS} bare pods`);
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'scale-pods' } });
  const bare = Array.from({ length: PODS }, (_, i) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `bare-${i}`, namespace: 'scale-pods' },
    spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'main', image: 'localhost/toolbox:dev', imagePullPolicy: 'Never', command: ['sleep', 'infinity'] }] },
  }));
  let start = Date.now();
  await applyAll(bare);
  const barePodsSeconds = await until('bare pods Ready', PODS, () => readyPods('scale-pods'), start);
  log(`${PODS} bare pods Ready in ${barePodsSeconds.toFixed(0)}s`);
  await deleteNamespace('scale-pods');

  log(`${PODS} PortForwards at once`);
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'scale-pf' } });
  await apply(loopbackTarget('scale-pf', 'web'));
  await kubectl(['wait', '-n', 'scale-pf', '--for=condition=Ready', 'pod/web', '--timeout=120s'], { timeoutMs: 130_000 });
  const before = await operatorMetrics(operator.metadata.name);
  const cpuBefore = cg.cpuSeconds();
  cg.resetPeak();
  start = Date.now();
  await applyAll(Array.from({ length: PODS }, (_, i) => portForward('scale-pf', `pf-${i}`, { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] })));
  const pfSeconds = await until('PortForwards Ready', PODS, () => pfsIn('scale-pf', 'Ready'), start);
  const after = await operatorMetrics(operator.metadata.name);
  results.readyAtOnce = {
    count: PODS,
    barePodsSeconds,
    portForwardsSeconds: pfSeconds,
    ratio: +(pfSeconds / barePodsSeconds).toFixed(2),
    operatorCpuSeconds: +(cg.cpuSeconds() - cpuBefore).toFixed(2),
    operatorPeakMiB: +cg.peakMiB().toFixed(1),
    reconciles: after.reconciles - before.reconciles,
    apiRequests: after.apiRequests - before.apiRequests,
  };
  log(JSON.stringify(results.readyAtOnce));
  await deleteNamespace('scale-pf');

  log(`${MISSING} PortForwards whose targets do not exist`);
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'scale-missing' } });
  const m0 = await operatorMetrics(operator.metadata.name);
  const c0 = cg.cpuSeconds();
  cg.resetPeak();
  start = Date.now();
  await applyAll(Array.from({ length: MISSING }, (_, i) => portForward('scale-missing', `pf-${i}`, { target: { pod: `missing-${i}` }, ports: [{ port: 10080 }] })));
  const missingSeconds = await until('PortForwards Pending', MISSING, () => pfsIn('scale-missing', 'Pending'), start);
  const m1 = await operatorMetrics(operator.metadata.name);
  results.statusOnly = {
    count: MISSING,
    seconds: missingSeconds,
    reconcilesPerSecond: +((m1.reconciles - m0.reconciles) / missingSeconds).toFixed(1),
    operatorCpuSeconds: +(cg.cpuSeconds() - c0).toFixed(2),
    operatorPeakMiB: +cg.peakMiB().toFixed(1),
    operatorMiBAfter: +cg.memoryMiB().toFixed(1),
    apiRequests: m1.apiRequests - m0.apiRequests,
  };
  log(JSON.stringify(results.statusOnly));
  await deleteNamespace('scale-missing');

  const file = new URL('./results/latest.json', import.meta.url);
  const latest = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  writeFileSync(file, JSON.stringify({ ...latest, scale: results }, null, 2));
  console.log('\nScale');
  console.log(JSON.stringify(results, null, 2));
}

main().catch((err) => {
  console.error(`scale bench failed: ${err.message}`);
  process.exit(1);
});
