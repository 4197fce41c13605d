// `kubectl pf connect` against a stand-in API server that speaks the same wire protocols as a real
// one (GET and watch of the PortForward, pods/portforward over v4.channel.k8s.io WebSockets; it
// refuses the SPDY tunnel as API servers before 1.31 do) and relays each stream to a small TCP
// server per "pod" that answers "<pod>:<what it got>".
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { PortForward } from '../../src/api/index.js';
import { main } from '../../src/cli/main.js';
import { snapshotOf, transitionLine } from '../../src/cli/tunnel-state.js';
import { WebSocketServer } from 'ws';
import { exchange } from './support/wire.js';
import { kubeconfigFor } from './support/read-only-api.js';

const PF_PATH = '/apis/portforward.io/v1alpha1/namespaces/team-a/portforwards';
// This stand-in serves no connect.portforward.io (discovery answers 404): connect falls back to pods/portforward.
const FALLBACK_NOTE =
  'note: the tunnel API (connect.portforward.io) is not installed; using pods/portforward to the helper pods (needs rights in their namespace)';

function readyPortForward(helperPod: string): PortForward {
  return {
    apiVersion: 'portforward.io/v1alpha1',
    kind: 'PortForward',
    metadata: { name: 'web', namespace: 'team-a', resourceVersion: '1' },
    spec: { target: { pod: 'nginx' }, ports: [{ port: 10080, targetPort: 80 }, { port: 5353, protocol: 'UDP' }] },
    status: {
      phase: 'Ready',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'tunnel is up', lastTransitionTime: '2025-01-01T00:00:00Z' }],
      helper: { namespace: 'portforward-helpers', pod: helperPod, podIP: '10.0.0.9' },
    },
  };
}

/** A TCP server standing for a helper pod's port: answers every chunk with "<name>:<chunk>". */
async function podBackend(name: string): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('data', (d) => s.write(`${name}:${d.toString()}`));
    s.on('end', () => s.end());
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

class FakeApiServer {
  readonly server = http.createServer((req, res) => this.request(req, res));
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false) });
  pf: PortForward | undefined;
  /** pod name -> local port of the TCP server standing for it (a closed port: connection refused). */
  readonly pods = new Map<string, number>();
  private watchers = new Set<http.ServerResponse>();
  private rv = 1;
  /** Upgrades asking for the SPDY tunnel, refused. */
  spdyRefused = 0;
  port = 0;

  async start(): Promise<void> {
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  stop(): void {
    for (const w of this.watchers) w.end();
    this.server.closeAllConnections();
    this.server.close();
  }

  /** Changes the PortForward and tells the watchers, as the operator's status writes would. */
  change(edit: (pf: PortForward) => void): void {
    const pf = this.pf as PortForward;
    edit(pf);
    pf.metadata.resourceVersion = String(++this.rv);
    this.send('MODIFIED', pf);
  }

  delete(): void {
    const pf = this.pf as PortForward;
    this.pf = undefined;
    this.send('DELETED', pf);
  }

  private send(type: string, object: unknown): void {
    for (const w of this.watchers) w.write(`${JSON.stringify({ type, object })}\n`);
  }

  private request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === PF_PATH && url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      this.watchers.add(res);
      res.on('close', () => this.watchers.delete(res));
      return;
    }
    if (url.pathname === `${PF_PATH}/web`) {
      if (this.pf) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(this.pf));
      } else {
        const status = { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404, message: 'portforwards.portforward.io "web" not found', details: { name: 'web', group: 'portforward.io', kind: 'portforwards' } };
        res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify(status));
      }
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"kind":"Status","message":"the server could not find the requested resource","code":404}');
  }

  /** pods/portforward, as the kubelet serves it over WebSockets. */
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/.exec(url.pathname);
    const pod = m?.[2] ?? '';
    const backendPort = this.pods.get(pod);
    if (!m || backendPort === undefined) {
      const body = JSON.stringify({ kind: 'Status', code: 404, message: `pods "${pod}" not found` });
      socket.end(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    if (req.headers['sec-websocket-protocol'] === 'SPDY/3.1+portforward.k8s.io') {
      // As an API server before Kubernetes 1.31 does: no SPDY tunnel, so connect falls back to
      // one v4.channel.k8s.io WebSocket per connection (the SPDY path is covered end to end).
      this.spdyRefused++;
      const body = JSON.stringify({ kind: 'Status', code: 400, message: 'websocket protocol SPDY/3.1+portforward.k8s.io is not supported' });
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      return;
    }
    // The WebSocket side is the ws library's server.
    const port = Number(url.searchParams.get('ports'));
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      assert.equal(ws.protocol, 'v4.channel.k8s.io');
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port);
      const send = (channel: number, data: Buffer) => ws.send(Buffer.concat([Buffer.from([channel]), data]));
      send(0, portBytes); // the kubelet names the port on both channels first
      send(1, portBytes);
      const backend = net.connect(backendPort, '127.0.0.1');
      backend.on('data', (d) => send(0, d));
      backend.on('end', () => ws.close(1000));
      backend.on('error', (e) => {
        send(1, Buffer.from(`error forwarding port ${port} to pod ${pod}, uid : ${e.message}`));
        ws.close(1000);
      });
      ws.on('message', (data: Buffer) => {
        if (data[0] === 0) backend.write(data.subarray(1));
      });
      ws.on('close', () => backend.end());
      ws.on('error', () => backend.destroy());
    });
  }
}

interface Session {
  out: string[];
  err: string[];
  exit: Promise<number>;
  stop: () => void;
}

function startConnect(args: string[], kubeconfig: string): Session {
  const out: string[] = [];
  const err: string[] = [];
  let stop = (): void => undefined;
  const stopSignal = new Promise<void>((r) => {
    stop = r;
  });
  const exit = main(['connect', 'web', ...args, '-n', 'team-a', '--kubeconfig', kubeconfig], {
    io: { out: (l) => out.push(l), err: (l) => err.push(l) },
    stopSignal,
  });
  return { out, err, exit, stop };
}

async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function lineMatching(lines: string[], re: RegExp): RegExpExecArray | undefined {
  for (const l of lines) {
    const m = re.exec(l);
    if (m) return m;
  }
  return undefined;
}

async function localPortOf(s: Session): Promise<number> {
  const m = await eventually('Forwarding from', () => lineMatching(s.out, /^Forwarding from 127\.0\.0\.1:(\d+) -> 10080$/));
  return Number(m[1]);
}

describe('kubectl pf connect', () => {
  const api = new FakeApiServer();
  let config: { file: string; remove: () => void } | undefined;
  let kubeconfig = '';
  const backends: net.Server[] = [];

  before(async () => {
    await api.start();
    for (const name of ['helper-1', 'helper-2']) {
      const b = await podBackend(name);
      backends.push(b);
      api.pods.set(name, (b.address() as net.AddressInfo).port);
    }
    // A pod whose port nobody listens on: the kubelet reports "connection refused".
    const closed = await podBackend('closed');
    api.pods.set('broken-helper', (closed.address() as net.AddressInfo).port);
    closed.close();
    config = kubeconfigFor(`http://127.0.0.1:${api.port}`);
    kubeconfig = config.file;
  });

  after(() => {
    api.stop();
    for (const b of backends) b.close();
    config?.remove();
  });

  it('forwards a local port to the helper pod, prints what kubectl prints, and stops cleanly on Ctrl-C', async () => {
    api.pf = readyPortForward('helper-1');
    const s = startConnect([':10080', '--address', '127.0.0.1'], kubeconfig);
    const port = await localPortOf(s);
    assert.ok(port > 0);
    const refusedBefore = api.spdyRefused;
    assert.equal(await exchange(port, 'hello'), 'helper-1:hello');
    assert.equal(await exchange(port, 'again'), 'helper-1:again');
    assert.equal(api.spdyRefused - refusedBefore, 1, 'the SPDY tunnel is asked for once, then not again');
    assert.deepEqual(s.err.filter((l) => l.startsWith('note:')), [
      FALLBACK_NOTE,
      'note: the API server does not tunnel SPDY over WebSocket (websocket protocol SPDY/3.1+portforward.k8s.io is not supported); using one WebSocket per connection',
    ], 'one line says why pods/portforward is used, one why connections are slower');
    assert.ok(s.out.includes(`Handling connection for ${port}`));
    assert.ok(s.out.includes('PortForward team-a/web is Ready (helper pod portforward-helpers/helper-1)'));
    s.stop();
    assert.equal(await s.exit, 0);
    await assert.rejects(exchange(port, 'anyone?'), /ECONNREFUSED/);
  });

  it('sends new connections to the new helper pod when the operator replaces it', async () => {
    api.pf = readyPortForward('helper-1');
    const s = startConnect([':10080', '--address', '127.0.0.1'], kubeconfig);
    const port = await localPortOf(s);
    assert.equal(await exchange(port, 'before'), 'helper-1:before');
    api.change((pf) => {
      (pf.status as { helper: { pod: string } }).helper.pod = 'helper-2';
    });
    await eventually('the helper change line', () => lineMatching(s.out, /the helper pod is now portforward-helpers\/helper-2/));
    assert.equal(await exchange(port, 'after'), 'helper-2:after');
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('a connection made just as the helper pod vanished goes to its replacement, without an error', async () => {
    api.pf = readyPortForward('deleted-helper'); // the API server answers 404 for this pod
    const s = startConnect([':10080', '--address', '127.0.0.1'], kubeconfig);
    const port = await localPortOf(s);
    const answer = exchange(port, 'in between');
    setTimeout(() => {
      api.change((pf) => {
        (pf.status as { helper: { pod: string } }).helper.pod = 'helper-2';
      });
    }, 300);
    assert.equal(await answer, 'helper-2:in between');
    assert.deepEqual(s.err.filter((l) => !l.startsWith('note:')), [], 'no error');
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('reports a failed connection in one line and keeps the session going', async () => {
    api.pf = readyPortForward('broken-helper');
    const s = startConnect([':10080', '--address', '127.0.0.1'], kubeconfig);
    const port = await localPortOf(s);
    assert.equal(await exchange(port, 'lost'), '');
    const line = await eventually('the error line', () => lineMatching(s.err, /^an error occurred forwarding \d+ -> 10080: .*/));
    assert.match(line[0], /error forwarding port 10080 to pod broken-helper, uid : connect ECONNREFUSED/);
    api.change((pf) => {
      (pf.status as { helper: { pod: string } }).helper.pod = 'helper-1';
    });
    await eventually('the helper change line', () => lineMatching(s.out, /helper pod is now portforward-helpers\/helper-1/));
    assert.equal(await exchange(port, 'still here'), 'helper-1:still here');
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('waits for a PortForward that is not Ready, says why, and carries held connections once it is', async () => {
    api.pf = readyPortForward('helper-1');
    api.pf.status = {
      phase: 'Pending',
      conditions: [{ type: 'Ready', status: 'False', reason: 'HelperStarting', message: 'helper pod is starting', lastTransitionTime: '2025-01-01T00:00:00Z' }],
    };
    const s = startConnect(['--address', '127.0.0.1', ':10080'], kubeconfig);
    const port = await localPortOf(s);
    assert.ok(
      s.out.includes('Waiting for PortForward team-a/web to become Ready (phase Pending, Ready=False HelperStarting: helper pod is starting)'),
      s.out.join('\n'),
    );
    const held = exchange(port, 'early');
    await new Promise((r) => setTimeout(r, 200));
    api.change((pf) => {
      pf.status = readyPortForward('helper-2').status;
    });
    assert.equal(await held, 'helper-2:early');
    assert.ok(s.out.includes('PortForward team-a/web is Ready (helper pod portforward-helpers/helper-2)'));
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('with no ports, forwards every TCP port of the PortForward on the same local port', async () => {
    // a port of the PortForward that is free on this machine, so the same local port can be taken
    const free = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    api.pf = readyPortForward('helper-1');
    api.pf.spec = { target: { pod: 'nginx' }, ports: [{ port: free, targetPort: 80 }, { port: 5353, protocol: 'UDP' }] };
    const s = startConnect(['--address', '127.0.0.1'], kubeconfig);
    await eventually('the listener', () => lineMatching(s.out, new RegExp(`^Forwarding from 127\\.0\\.0\\.1:${free} -> ${free}$`)));
    assert.equal(await exchange(free, 'ping'), 'helper-1:ping');
    assert.ok(![...s.out, ...s.err].some((l) => l.includes('5353')), 'UDP ports are not forwarded');
    s.stop();
    assert.equal(await s.exit, 0, s.err.join('\n'));
  });

  it('ends with exit 1 when the PortForward is deleted', async () => {
    api.pf = readyPortForward('helper-1');
    const s = startConnect([':10080', '--address', '127.0.0.1'], kubeconfig);
    await localPortOf(s);
    await eventually('the watch to start', () => (api as unknown as { watchers: Set<unknown> }).watchers.size > 0 || undefined);
    api.delete();
    assert.equal(await s.exit, 1);
    assert.ok(s.out.includes('PortForward team-a/web was deleted'));
  });

  it('exits 2 with one line for a PortForward that does not exist', async () => {
    api.pf = undefined;
    const s = startConnect(['8080:10080'], kubeconfig);
    assert.equal(await s.exit, 2, s.err.join('\n'));
    assert.deepEqual(s.err, ['error: PortForward "web" not found in namespace "team-a"']);
  });

  it('exits 2 for a REMOTE port the PortForward does not have, or one that is UDP', async () => {
    api.pf = readyPortForward('helper-1');
    const missing = startConnect(['8080:80'], kubeconfig);
    assert.equal(await missing.exit, 2);
    assert.deepEqual(missing.err, [
      FALLBACK_NOTE,
      "error: PortForward web has no port 80; its TCP ports are 10080 (REMOTE is a PortForward port, not the target's)",
    ]);
    const udp = startConnect(['5353'], kubeconfig);
    assert.equal(await udp.exit, 2);
    assert.deepEqual(udp.err, [
      FALLBACK_NOTE,
      'error: port 5353 of PortForward web is UDP; UDP needs the tunnel API (connect.portforward.io), which this cluster does not serve',
    ]);
  });

  it('without the tunnel API, a /udp port is refused: UDP needs the tunnel API', async () => {
    api.pf = readyPortForward('helper-1');
    const s = startConnect(['5353/udp'], kubeconfig);
    assert.equal(await s.exit, 2);
    assert.deepEqual(s.err, [FALLBACK_NOTE, 'error: cannot forward 5353/udp: UDP needs the tunnel API (connect.portforward.io), which this cluster does not serve']);
  });
});

describe('what connect says about the PortForward', () => {
  it('a PortForward the operator has not seen yet is waited for, and says so', () => {
    const pf = readyPortForward('helper-1');
    delete pf.status;
    const s = snapshotOf('team-a/web', pf);
    assert.equal(s.ready, false);
    assert.equal(transitionLine(undefined, s), 'Waiting for PortForward team-a/web to become Ready (phase unknown (the operator has not reported yet))');
  });

  it('Ready without a helper pod in status is not usable yet', () => {
    const pf = readyPortForward('helper-1');
    delete (pf.status as { helper?: unknown }).helper;
    const s = snapshotOf('team-a/web', pf);
    assert.equal(s.ready, false);
    assert.match(s.why, /no helper pod in status yet/);
  });

  it('repeats nothing while nothing changes, and names a new helper when it changes', () => {
    const one = snapshotOf('team-a/web', readyPortForward('helper-1'));
    const two = snapshotOf('team-a/web', readyPortForward('helper-2'));
    assert.equal(transitionLine(one, one), undefined);
    assert.equal(transitionLine(one, two), 'PortForward team-a/web: the helper pod is now portforward-helpers/helper-2; new connections go there');
  });
});
