// A stand-in API server for the plugin's read-only requests (list, version, completion): each path
// answers a fixed status and JSON body, any other path 404 as the API server does; every request is
// recorded. Plain HTTP, with a kubeconfig file pointing at it for main's --kubeconfig.
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';

export interface Route {
  status?: number;
  body: unknown;
}

const NOT_FOUND: Route = { status: 404, body: { kind: 'Status', status: 'Failure', code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' } };

/** A kubeconfig for `server` (its context's namespace: `namespace`), in a folder of its own. */
export function kubeconfigFor(server: string, namespace?: string): { file: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kubectl-pf-'));
  const file = join(dir, 'config');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]
users: [{name: me, user: {token: secret}}]
contexts: [{name: fake, context: {cluster: fake, user: me${namespace ? `, namespace: ${namespace}` : ''}}}]
current-context: fake
`,
  );
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function readOnlyApi(routes: Record<string, Route>, namespace?: string) {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const route = routes[(req.url ?? '').split('?')[0] as string] ?? NOT_FOUND;
    res.writeHead(route.status ?? 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(route.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kubeconfig = kubeconfigFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, namespace);
  return {
    kubeconfig: kubeconfig.file,
    requests,
    close: () => {
      server.close();
      kubeconfig.remove();
    },
  };
}

/** An address nobody listens on: a port that was just free. */
export async function closedServer(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}

/** `kubectl pf ARGV`, its exit code and the lines it printed. */
export async function runMain(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { io: { out: (l) => out.push(l), err: (l) => err.push(l) } });
  return { code, out, err };
}
