// Helpers for end-to-end tests: the real kubectl against the local cluster, and polling.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const KUBECONFIG = resolve(process.env.KUBECONFIG ?? '.cluster/kubeconfig'); // absolute: tests run tools from other folders
export const TOOLBOX_IMAGE = 'localhost/toolbox:dev';

/** Runs kubectl and returns its stdout; throws with stderr on failure. */
export async function kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const child = execFileP('kubectl', ['--kubeconfig', KUBECONFIG, ...args], {
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  try {
    return (await child).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** kubectl apply -f - of one or more objects. */
export async function apply(...objects: object[]): Promise<string> {
  return kubectl(['apply', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n') });
}

export async function getJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as T;
}

export async function exec(ns: string, pod: string, command: string[], timeoutMs = 60_000): Promise<string> {
  return kubectl(['exec', '-n', ns, pod, '--', ...command], { timeoutMs });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until check returns a value other than undefined/false; fails with the last error seen. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** A fresh namespace for a test file; remove() deletes it without waiting. */
export async function testNamespace(prefix: string, annotations: Record<string, string> = {}) {
  const name = randomName(prefix);
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, annotations } });
  await eventually(`service account in ${name}`, async () => (await kubectl(['get', 'sa', 'default', '-n', name])).length > 0);
  return { name, remove: () => kubectl(['delete', 'namespace', name, '--wait=false']).catch(() => '') };
}

export interface PodOptions {
  labels?: Record<string, string>;
  hostPID?: boolean;
  capabilities?: string[];
  ownerReferences?: object[];
  /** Meets Pod Security's restricted level (as portforward-system requires): no root, no capability. */
  restricted?: boolean;
  /** Binds the pod to this node (no scheduling). */
  nodeName?: string;
  /** The container's ports (names for targetPort by name). */
  ports?: { name: string; containerPort: number; protocol?: string }[];
}

const RESTRICTED = {
  runAsNonRoot: true,
  runAsUser: 65532,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** A toolbox pod running a shell command. */
export function toolboxPod(ns: string, name: string, command: string, opts: PodOptions = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: opts.labels ?? { app: name }, ownerReferences: opts.ownerReferences },
    spec: {
      terminationGracePeriodSeconds: 1,
      hostPID: opts.hostPID ?? false,
      ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
      containers: [
        {
          name: 'main',
          image: TOOLBOX_IMAGE,
          imagePullPolicy: 'Never',
          command: ['/bin/sh', '-c', command],
          ...(opts.ports ? { ports: opts.ports } : {}),
          securityContext: opts.restricted ? RESTRICTED : opts.capabilities ? { capabilities: { add: opts.capabilities } } : undefined,
        },
      ],
    },
  };
}

export async function waitRunning(ns: string, pod: string, timeoutMs = 120_000): Promise<any> {
  await kubectl(['wait', '-n', ns, '--for=condition=Ready', `pod/${pod}`, `--timeout=${Math.round(timeoutMs / 1000)}s`], {
    timeoutMs: timeoutMs + 5000,
  });
  return getJson(['pod', '-n', ns, pod]);
}

/** Starts a long-running kubectl (port-forward, ...); stop() ends it. */
export function kubectlBackground(args: string[]): { child: ChildProcess; output: () => string; stop: () => void } {
  const child = spawn('kubectl', ['--kubeconfig', KUBECONFIG, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { child, output: () => out, stop: () => child.kill('SIGTERM') };
}

/** A one-line HTTP GET from the machine, returning the body. */
export async function httpGet(url: string, timeoutMs = 5000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.text();
}
