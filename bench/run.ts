// npm run bench: the data-path benchmarks, on the local cluster, in one run, for the same target.
// Paths: (1) direct pod-to-pod, (2) through the PortForward's Service, (3) kubectl port-forward to
// the target, (4) kubectl port-forward to the helper, (5) the classic exec-per-connection relay,
// (6) the kubectl plugin's connect (the tunnel API). Each: iperf3, a plain bulk download, short
// connections; UDP where the path carries it; for the machine paths also short connections while
// another connection's reader is stalled (head-of-line blocking). For the paths through a pod, the
// CPU time the relay's pod and the sending server's pod spent per GB moved (iperf3 -R), read from
// their cgroups on the node. On a cluster of two nodes or more the client runs on the first node and
// the target (so its helper) on the last: every in-cluster path, direct pod-to-pod included, crosses
// nodes. Prints a table with ratios and writes bench/results/latest.json.
import { connect as tcpConnect, type Socket } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { apply, eventually, exec, getJson, kubectl, KUBECONFIG, sleep, waitRunning } from '../test/e2e/lib/kube.js';
import { classicHelper } from '../test/e2e/lib/portforward.js';
import { podCgroup } from './cgroup.js';

const run = promisify(execFile);
const NS = 'pf-bench';
const HELPER_NS = 'portforward-helpers';
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4); // per iperf3 run: the load is bounded in time
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 300); // short connections per latency run
const DNS_LIKE_RATE = '800K'; // 1000 datagrams/s of 100 bytes: a busy DNS or syslog client
const BULK_BYTES = Number(process.env.BENCH_BULK_BYTES ?? 1 << 30); // per download
/** Downloads per path, the median reported: a machine path gets a new forward (so maybe another gateway replica) each time. */
const BULK_RUNS = Number(process.env.BENCH_BULK_RUNS ?? 3);
const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
/** BENCH_PATHS=1,3,6 measures only those paths (while working on one); all by default. */
const ONLY = process.env.BENCH_PATHS?.split(',').map((n) => n.trim());
const wanted = (path: string) => !ONLY || ONLY.some((n) => path.startsWith(`(${n})`));

interface Endpoint {
  where: 'pod' | 'machine';
  host: string;
  iperf: number;
  echo: number;
  bulk: number;
  udp: boolean;
  /** The pods whose CPU time a transfer from the target is charged to, by UID. */
  cpu?: { relay?: string; server: string };
}
interface PathResult {
  path: string;
  tcp1Gbps?: number;
  tcp4Gbps?: number;
  p50Ms?: number;
  p99Ms?: number;
  connectErrors?: number;
  /** The median of BULK_RUNS downloads, and all of them. */
  bulkGbps?: number;
  bulkRunsGbps?: number[];
  /** CPU-seconds per GB the target's iperf3 server sent (-R): the relay's pod (none for direct), the sender's. */
  relayCpuSecondsPerGB?: number;
  serverCpuSecondsPerGB?: number;
  /** Short connections while another connection's reader has stalled with data waiting. */
  stalledP50Ms?: number;
  udpMbps?: number;
  udpLossPct?: number;
  udpDnsLossPct?: number;
  /** Runs that did not complete, with why: a result in itself (kubectl port-forward drops sessions). */
  failures?: string[];
}

/** A server that sends BULK_BYTES to each client, then closes. */
const bulkServer = (host: string, port: number) => `python3 /bench/bulk_server.py ${host} ${port} ${BULK_BYTES}`;

const script = (name: string) => readFileSync(new URL(`./scripts/${name}`, import.meta.url), 'utf8');

async function setup() {
  const nodes: string[] = (await getJson(['nodes'])).items.map((n: any) => n.metadata.name).sort();
  const placement = { client: nodes[0]!, target: nodes[nodes.length - 1]! };
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  // A pod's node cannot change: pods of an earlier run go first.
  await kubectl(['delete', 'pod', '-n', NS, 'target', 'client', '--ignore-not-found', '--wait=true'], { timeoutMs: 120_000 });
  await apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'bench-scripts', namespace: NS },
    data: Object.fromEntries(['echo_server.py', 'latency_client.py', 'bulk_client.py', 'bulk_server.py'].map((name) => [name, script(name)])),
  });
  const pod = (name: string, command: string, nodeName: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: {
      nodeName,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: 'localhost/toolbox:dev',
          imagePullPolicy: 'Never',
          command: ['/bin/sh', '-c', command],
          env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
          volumeMounts: [{ name: 'scripts', mountPath: '/bench' }],
        },
      ],
      volumes: [{ name: 'scripts', configMap: { name: 'bench-scripts' } }],
    },
  });
  // The same servers twice: on the pod IP for the direct path, on 127.0.0.1 only for the tunnels.
  await apply(
    pod(
      'target',
      'iperf3 -s -D -B $POD_IP -p 5201; iperf3 -s -D -B 127.0.0.1 -p 5202; ' +
        'python3 /bench/echo_server.py $POD_IP 7001 & python3 /bench/echo_server.py 127.0.0.1 7002 & ' +
        `${bulkServer('$POD_IP', 7003)} & ${bulkServer('127.0.0.1', 7004)} & wait`,
      placement.target,
    ),
    pod('client', 'exec sleep infinity', placement.client),
  );
  const target = await waitRunning(NS, 'target');
  await waitRunning(NS, 'client');
  const spec = {
    target: { pod: 'target' },
    ports: [
      { port: 5202, protocol: 'TCP', name: 'iperf' },
      { port: 5202, protocol: 'UDP', name: 'iperf-udp' },
      { port: 7002, protocol: 'TCP', name: 'echo' },
      { port: 7004, protocol: 'TCP', name: 'bulk' },
    ],
  };
  await apply({ apiVersion: 'portforward.io/v1alpha1', kind: 'PortForward', metadata: { name: 'bench', namespace: NS }, spec });
  await kubectl(['wait', '-n', NS, '--for=condition=Ready', 'portforward/bench', '--timeout=120s'], { timeoutMs: 130_000 });
  const pf = await getJson(['portforward', '-n', NS, 'bench']);

  // The classic relay, for comparison: the same helper pod with the exec-per-connection data path.
  const [classic, classicPolicy] = classicHelper(NS, 'bench-classic', spec, target);
  await kubectl(['delete', 'pod', '-n', HELPER_NS, classic.metadata!.name!, '--ignore-not-found', '--wait=true']);
  await apply(classic, classicPolicy);
  const classicPod = await waitRunning(HELPER_NS, classic.metadata!.name!);
  const helper = await getJson(['pod', '-n', HELPER_NS, pf.status.helper.pod]);
  return {
    placement,
    targetUID: target.metadata.uid as string,
    helperUID: helper.metadata.uid as string,
    classicUID: classicPod.metadata.uid as string,
    targetIP: target.status.podIP as string,
    serviceIP: pf.status.service.clusterIP as string,
    helperPod: pf.status.helper.pod as string,
    classicPod: classic.metadata!.name!,
    classicIP: classicPod.status.podIP as string,
  };
}

/** Runs a command in the client pod or on the machine. */
async function runAt(where: 'pod' | 'machine', cmd: string[]): Promise<string> {
  if (where === 'pod') return exec(NS, 'client', cmd, 120_000);
  return (await run(cmd[0]!, cmd.slice(1), { timeout: 120_000, maxBuffer: 16 << 20 })).stdout;
}

async function iperf(e: Endpoint, args: string[]) {
  const out = await runAt(e.where, ['iperf3', '-c', e.host, '-p', String(e.iperf), '-t', String(SECONDS), '-J', ...args]);
  const report = JSON.parse(out.slice(out.indexOf('{'))); // iperf3 may print a WARNING line first
  if (report.error) throw new Error(`iperf3 ${args.join(' ')} to ${e.host}:${e.iperf}: ${report.error}`);
  return report.end;
}

function pythonScript(where: 'pod' | 'machine', name: string): string[] {
  return ['python3', where === 'pod' ? `/bench/${name}` : new URL(`./scripts/${name}`, import.meta.url).pathname];
}

/**
 * Runs `fn` while one connection to the bulk server reads nothing: its sender fills whatever buffers
 * the path has. A path that multiplexes connections without per-connection flow control stalls
 * the others behind it.
 */
async function besideStalledReader<T>(e: Endpoint, fn: () => Promise<T>): Promise<T> {
  const stalled: Socket = tcpConnect({ host: e.host, port: e.bulk });
  stalled.on('error', () => undefined);
  await new Promise((resolve) => stalled.once('data', resolve)); // data is flowing...
  stalled.pause(); // ...and then nobody reads it
  await sleep(1000);
  try {
    return await fn();
  } finally {
    stalled.destroy();
  }
}

/** Wraps each measurement; the machine paths start a fresh local forward for each. */
type Around = <T>(fn: () => Promise<T>) => Promise<T>;
const direct: Around = (fn) => fn();

async function measure(path: string, e: Endpoint, around: Around = direct): Promise<PathResult> {
  const r: PathResult = { path, failures: [] };
  // A run that fails is recorded, not fatal: that a path drops connections is part of its result.
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await around(fn);
    } catch (err) {
      r.failures!.push(`${what}: ${(err as Error).message.split('\n')[0]}`);
      log(`${path}: ${what} failed`);
      return undefined;
    }
  };
  log(`${path}: TCP`);
  r.tcp1Gbps = (await attempt('TCP 1 stream', () => iperf(e, [])))?.sum_received.bits_per_second / 1e9 || undefined;
  r.tcp4Gbps = (await attempt('TCP 4 streams', () => iperf(e, ['-P', '4'])))?.sum_received.bits_per_second / 1e9 || undefined;
  log(`${path}: ${CONNECTIONS} short connections`);
  const latencyCmd = [...pythonScript(e.where, 'latency_client.py'), e.host, String(e.echo), String(CONNECTIONS)];
  const lat = await attempt('short connections', async () => JSON.parse(await runAt(e.where, latencyCmd)));
  if (lat) Object.assign(r, { p50Ms: lat.p50, p99Ms: lat.p99, connectErrors: lat.errors });
  log(`${path}: bulk download`);
  const bulkCmd = [...pythonScript(e.where, 'bulk_client.py'), e.host, String(e.bulk)];
  const bulkRuns: number[] = [];
  for (let i = 0; i < BULK_RUNS; i++) {
    const gbps = (await attempt('bulk download', async () => JSON.parse(await runAt(e.where, bulkCmd))))?.gbps;
    if (gbps !== undefined) bulkRuns.push(+gbps.toFixed(3));
  }
  r.bulkRunsGbps = bulkRuns;
  r.bulkGbps = median(bulkRuns);
  if (e.cpu) {
    // The server in the target sends (iperf3 -R, 128 KiB writes): CPU time per GB it and the relay spend.
    log(`${path}: CPU per GB (iperf3 -R)`);
    const relayCpu = e.cpu.relay ? podCgroup(e.cpu.relay) : undefined;
    const serverCpu = podCgroup(e.cpu.server);
    const [relay0, server0] = [relayCpu?.cpuSeconds(), serverCpu.cpuSeconds()];
    const moved = (await attempt('CPU per GB', () => iperf(e, ['-R'])))?.sum_received.bytes as number | undefined;
    const perGB = (before: number | undefined, now: number | undefined) =>
      moved && before !== undefined && now !== undefined && !Number.isNaN(now - before) ? +((now - before) / (moved / 1e9)).toFixed(3) : undefined;
    r.relayCpuSecondsPerGB = perGB(relay0, relayCpu?.cpuSeconds());
    r.serverCpuSecondsPerGB = perGB(server0, serverCpu.cpuSeconds());
  }
  if (e.where === 'machine') {
    log(`${path}: short connections beside a stalled reader`);
    const stalled = await attempt('short connections beside a stalled reader', () => besideStalledReader(e, () => runAt(e.where, latencyCmd)));
    r.stalledP50Ms = stalled && JSON.parse(stalled).p50;
  }
  if (e.udp) {
    log(`${path}: UDP`);
    const bulk = await attempt('UDP bulk', () => iperf(e, ['-u', '-b', '200M']));
    r.udpMbps = bulk && bulk.sum.bits_per_second / 1e6;
    r.udpLossPct = bulk?.sum.lost_percent;
    r.udpDnsLossPct = (await attempt('UDP at DNS rate', () => iperf(e, ['-u', '-b', DNS_LIKE_RATE, '-l', '100'])))?.sum.lost_percent;
  }
  return r;
}

/** A local listener (kubectl port-forward or the plugin) for the paths that start on the machine. */
async function localForward(command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await eventually(`${command} listening`, async () => out.includes('Forwarding from'), 60_000);
  return child;
}

/**
 * A path that starts on the machine. kubectl port-forward ends its whole session when one stream
 * fails (kubectl#1169), as iperf3's streams do when a test ends, so every run gets a fresh forward.
 */
async function viaLocal(path: string, command: string, args: string[], ports: [number, number, number], udp = false): Promise<PathResult> {
  const around: Around = async (fn) => {
    const child = await localForward(command, args);
    try {
      return await fn();
    } finally {
      child.kill('SIGTERM');
      await sleep(300);
    }
  };
  return measure(path, { where: 'machine', host: '127.0.0.1', iperf: ports[0], echo: ports[1], bulk: ports[2], udp }, around);
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : undefined);
const fmt = (v: number | undefined, digits = 2) => (v === undefined || v === null ? 'failed' : v.toFixed(digits));
const ratio = (v: number | undefined, base: number | undefined) => (v && base ? `${(v / base).toFixed(2)}x` : '-');

function table(results: PathResult[]) {
  const direct = results.find((r) => r.path.startsWith('(1)'));
  const pfTarget = results.find((r) => r.path.startsWith('(3)'));
  const rows = results.map((r) => [
    r.path,
    `${fmt(r.tcp1Gbps)} (${ratio(r.tcp1Gbps, direct?.tcp1Gbps)} / ${ratio(r.tcp1Gbps, pfTarget?.tcp1Gbps)})`,
    `${fmt(r.tcp4Gbps)} (${ratio(r.tcp4Gbps, direct?.tcp4Gbps)})`,
    `${fmt(r.bulkGbps)} (${ratio(r.bulkGbps, direct?.bulkGbps)} / ${ratio(r.bulkGbps, pfTarget?.bulkGbps)}) [${(r.bulkRunsGbps ?? []).map((g) => g.toFixed(2)).join(', ')}]`,
    r.serverCpuSecondsPerGB === undefined ? 'n/a' : `${fmt(r.relayCpuSecondsPerGB, 3).replace('failed', '-')} / ${fmt(r.serverCpuSecondsPerGB, 3)}`,
    r.p50Ms === undefined ? 'failed' : `${fmt(r.p50Ms)} / ${fmt(r.p99Ms)} (+${fmt(r.p50Ms - (direct?.p50Ms ?? 0))})${r.connectErrors ? `, ${r.connectErrors} errors` : ''}`,
    r.stalledP50Ms === undefined ? (r.path.includes('port-forward') || r.path.includes('connect') ? 'failed' : 'n/a') : fmt(r.stalledP50Ms),
    r.udpMbps === undefined ? 'n/a' : `${fmt(r.udpMbps, 0)} Mbit/s, ${fmt(r.udpLossPct, 1)}% lost; DNS-rate ${fmt(r.udpDnsLossPct, 1)}% lost`,
  ]);
  const header = [
    'path',
    'TCP 1 stream Gbit/s (vs 1 / vs 3)',
    'TCP 4 streams Gbit/s (vs 1)',
    `bulk download Gbit/s, median of ${BULK_RUNS} (vs 1 / vs 3) [each]`,
    'CPU-s per GB: relay / sender',
    'connect+echo p50 / p99 ms (+p50 vs 1)',
    'p50 ms beside a stalled reader',
    'UDP',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main() {
  log('setting up the target, the client, a PortForward and a classic relay');
  const s = await setup();
  const results: PathResult[] = [];
  const kubectlArgs = (pod: string, ns: string) => ['--kubeconfig', KUBECONFIG, 'port-forward', '-n', ns, `pod/${pod}`];
  const connectArgs = ['bin/kubectl-pf.js', 'connect', '-n', NS, 'bench', '35202:5202', '35202:5202/udp', '37002:7002', '37004:7004'];
  const paths: [string, (path: string) => Promise<PathResult>][] = [
    ['(1) direct pod-to-pod', (p) => measure(p, { where: 'pod', host: s.targetIP, iperf: 5201, echo: 7001, bulk: 7003, udp: true, cpu: { server: s.targetUID } })],
    ['(2) PortForward Service', (p) => measure(p, { where: 'pod', host: s.serviceIP, iperf: 5202, echo: 7002, bulk: 7004, udp: true, cpu: { relay: s.helperUID, server: s.targetUID } })],
    ['(3) kubectl port-forward to target', (p) => viaLocal(p, 'kubectl', [...kubectlArgs('target', NS), '15202:5202', '17002:7002', '17004:7004'], [15202, 17002, 17004])],
    ['(4) kubectl port-forward to helper', (p) => viaLocal(p, 'kubectl', [...kubectlArgs(s.helperPod, HELPER_NS), '25202:5202', '27002:7002', '27004:7004'], [25202, 27002, 27004])],
    ['(5) classic exec relay', (p) => measure(p, { where: 'pod', host: s.classicIP, iperf: 5202, echo: 7002, bulk: 7004, udp: false, cpu: { relay: s.classicUID, server: s.targetUID } })],
    ['(6) kubectl pf connect (tunnel API)', (p) => viaLocal(p, 'node', connectArgs, [35202, 37002, 37004], true)],
  ];
  for (const [path, run] of paths) if (wanted(path)) results.push(await run(path));

  const out = { date: new Date().toISOString(), placement: s.placement, secondsPerRun: SECONDS, connectionsPerRun: CONNECTIONS, results };
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify(out, null, 2));
  console.log(`client pod on ${s.placement.client}; target pod and its helpers on ${s.placement.target}`);
  console.log(table(results));
  for (const r of results) for (const f of r.failures ?? []) console.log(`${r.path}: ${f}`);
  console.log('\nwritten: bench/results/latest.json');
  await kubectl(['delete', 'pod,networkpolicy', '-n', HELPER_NS, s.classicPod, '--wait=false']);
}

main().catch((err) => {
  console.error(`bench failed: ${err.message}`);
  process.exit(1);
});
