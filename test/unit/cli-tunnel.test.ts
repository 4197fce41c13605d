// `kubectl pf connect` through the tunnel API, against a stand-in API server whose portforward
// WebSocket is served by the gateway's own tunnel code (StreamMux, UDP relay) towards helper
// "pods" on this machine (see support/stand-in-tunnel-api.ts).
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runConnect } from '../../src/cli/connect.js';
import { parseAddresses, parseForwardPort } from '../../src/cli/ports.js';
import { HelperPod, NAMESPACE, readyPortForward, StandInTunnelApi } from './support/stand-in-tunnel-api.js';
import { exchange } from './support/wire.js';

/** A test that hangs (a stream that never ends) fails instead. */
const T = { timeout: 15_000 };
const PORTS = [{ port: 10080, targetPort: 80 }, { port: 5353, protocol: 'UDP' }];

interface Session {
  out: string[];
  err: string[];
  exit: Promise<number>;
  stop: () => void;
}

function startConnect(api: StandInTunnelApi, ports: string[]): Session {
  const out: string[] = [];
  const err: string[] = [];
  let stop = (): void => undefined;
  const stopSignal = new Promise<void>((r) => {
    stop = r;
  });
  const exit = runConnect({
    kc: api.kubeConfig(),
    namespace: NAMESPACE,
    name: 'web',
    ports: ports.map(parseForwardPort),
    addresses: parseAddresses(['127.0.0.1']),
    readyTimeoutMs: 10_000,
    io: { out: (l) => out.push(l), err: (l) => err.push(l) },
    stopSignal,
  });
  return { out, err, exit, stop };
}

async function eventually<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function localPort(s: Session, remote: string): Promise<number> {
  const re = new RegExp(`^Forwarding from 127\\.0\\.0\\.1:(\\d+) -> ${remote}$`);
  const m = await eventually(`Forwarding from ... -> ${remote}`, () => s.out.map((l) => re.exec(l)).find((x) => x !== null));
  return Number(m[1]);
}

/** A local UDP client: what it sent comes back to it, to no one else. */
class UdpClient {
  readonly socket: UdpSocket = createSocket('udp4');
  readonly got: Buffer[] = [];

  static async bound(): Promise<UdpClient> {
    const c = new UdpClient();
    c.socket.on('message', (m) => c.got.push(m));
    await new Promise<void>((r) => c.socket.bind(0, '127.0.0.1', r));
    return c;
  }

  send(port: number, payload: Buffer): void {
    this.socket.send(payload, port, '127.0.0.1');
  }
}

describe('kubectl pf connect through the tunnel API', () => {
  const api = new StandInTunnelApi();

  before(async () => {
    await api.start();
    for (const name of ['helper-1', 'helper-2']) api.helpers.set(name, await HelperPod.start(name));
  });

  after(() => {
    api.stop();
    for (const h of api.helpers.values()) h.stop();
  });

  const fresh = (helper = 'helper-1'): void => {
    api.pf = readyPortForward('web', helper, PORTS);
    api.tunnels.length = 0;
    api.refusals.length = 0;
    api.tunnelApiMissing = false;
  };

  it('carries a connection both ways with half-close, with the kubeconfig credentials and kubectl output', T, async () => {
    fresh();
    const s = startConnect(api, [':10080']);
    const port = await localPort(s, '10080');
    assert.equal(await exchange(port, 'hello'), 'helper-1:hello', 'the answer comes after the FIN');
    assert.deepEqual(
      api.tunnels.map((t) => [t.port, t.protocol, t.helper]),
      [[10080, 'tcp', 'helper-1']],
    );
    assert.equal(api.authorizations[0], 'Bearer secret-token');
    assert.ok(s.out.includes(`Handling connection for ${port}`));
    assert.ok(s.out.includes('PortForward team-a/web is Ready (helper pod portforward-helpers/helper-1)'));
    assert.deepEqual(s.err, [], 'no note: the tunnel API is served');
    s.stop();
    assert.equal(await s.exit, 0);
    await assert.rejects(exchange(port, 'anyone?'), /ECONNREFUSED/);
  });

  it('carries many connections over one WebSocket', T, async () => {
    fresh();
    const s = startConnect(api, [':10080']);
    const port = await localPort(s, '10080');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => exchange(port, `n${i}`)));
    assert.deepEqual(answers, Array.from({ length: 20 }, (_, i) => `helper-1:n${i}`));
    assert.equal(api.tunnels.length, 1, 'one session for every connection');
    assert.equal(await exchange(port, 'later'), 'helper-1:later');
    assert.equal(api.tunnels.length, 1);
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('a connection the gateway resets is one error line; the next one works on the same session', T, async () => {
    fresh();
    const s = startConnect(api, [':10080']);
    const port = await localPort(s, '10080');
    assert.equal(await exchange(port, 'reset me'), '');
    await eventually('the error line', () => s.err.length > 0);
    assert.deepEqual(s.err, [`an error occurred forwarding ${port} -> 10080: read ECONNRESET`]);
    assert.equal(await exchange(port, 'next'), 'helper-1:next');
    assert.equal(api.tunnels.length, 1, 'the reset ended one stream, not the session');
    assert.equal(s.err.length, 1);
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it("a refused handshake shows the server's message as is, and the listener carries on", T, async () => {
    fresh();
    const forbidden =
      'portforwards.connect.portforward.io "web" is forbidden: User "me" cannot create resource "portforwards/portforward" in API group "connect.portforward.io" in the namespace "team-a"';
    api.refusals.push({ code: 403, reason: 'Forbidden', message: forbidden });
    const s = startConnect(api, [':10080']);
    const port = await localPort(s, '10080');
    assert.equal(await exchange(port, 'denied'), '');
    await eventually('the error line', () => s.err.length > 0);
    assert.deepEqual(s.err, [`an error occurred forwarding ${port} -> 10080: ${forbidden}`]);
    assert.equal(await exchange(port, 'granted now'), 'helper-1:granted now');
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('a 503 at the handshake (helper being replaced) waits for the next update and goes to the new helper', T, async () => {
    fresh();
    api.refusals.push({ code: 503, reason: 'ServiceUnavailable', message: 'PortForward team-a/web: its helper pod helper-1 is gone or being replaced; try again in a moment' });
    const s = startConnect(api, [':10080']);
    const port = await localPort(s, '10080');
    const answer = exchange(port, 'in between');
    await eventually('the refused upgrade', () => api.authorizations.length > 0 && api.refusals.length === 0);
    api.change((pf) => {
      pf.status!.helper!.pod = 'helper-2';
    });
    assert.equal(await answer, 'helper-2:in between');
    assert.deepEqual(s.err, []);
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('a new helper gets a new session; connections on the old one finish there, then it closes', T, async () => {
    fresh();
    const s = startConnect(api, [':10080']);
    const port = await localPort(s, '10080');
    // A connection that stays open across the change.
    const early = net.connect(port, '127.0.0.1');
    let earlyGot = '';
    early.on('data', (d) => (earlyGot += d.toString()));
    const earlyClosed = new Promise<void>((r) => early.on('close', () => r()));
    early.write('early');
    await eventually('the first session', () => api.tunnels.length === 1);
    api.change((pf) => {
      pf.status!.helper!.pod = 'helper-2';
    });
    await eventually('the helper change line', () => s.out.includes('PortForward team-a/web: the helper pod is now portforward-helpers/helper-2; new connections go there'));
    assert.equal(await exchange(port, 'after'), 'helper-2:after');
    assert.deepEqual(
      api.tunnels.map((t) => t.helper),
      ['helper-1', 'helper-2'],
    );
    assert.equal(api.tunnels[0]!.closed, false, 'the old session still carries the early connection');
    early.end();
    await earlyClosed;
    assert.equal(earlyGot, 'helper-1:early');
    await eventually('the old session to close', () => api.tunnels[0]!.closed);
    assert.equal(api.tunnels[1]!.closed, false);
    assert.deepEqual(s.err, []);
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('UDP: each local sender gets its own replies, datagram boundaries kept', T, async () => {
    fresh();
    const s = startConnect(api, [':5353/udp']);
    const port = await localPort(s, '5353/udp');
    // The UDP session opens as soon as the PortForward is Ready, before any datagram.
    await eventually('the UDP tunnel', () => api.tunnels.some((t) => t.protocol === 'udp' && t.port === 5353));
    const [a, b] = [await UdpClient.bound(), await UdpClient.bound()];
    const sizes = [1, 100, 1400, 9000, 60000];
    for (const size of sizes) {
      a.send(port, Buffer.alloc(size, 'a'));
      b.send(port, Buffer.alloc(size, 'b'));
    }
    await eventually('every reply', () => a.got.length === sizes.length && b.got.length === sizes.length);
    assert.deepEqual(a.got.map((m) => m.length).sort((x, y) => x - y), sizes);
    assert.deepEqual(b.got.map((m) => m.length).sort((x, y) => x - y), sizes);
    assert.ok(a.got.every((m) => m.every((byte) => byte === 0x61)), "a hears only a's datagrams");
    assert.ok(b.got.every((m) => m.every((byte) => byte === 0x62)), "b hears only b's datagrams");
    assert.equal(api.tunnels.length, 1);
    assert.deepEqual(s.err, []);
    a.socket.close();
    b.socket.close();
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('UDP: a new helper gets a new session, and datagrams flow through it', T, async () => {
    fresh();
    const s = startConnect(api, [':5353/udp']);
    const port = await localPort(s, '5353/udp');
    await eventually('the UDP tunnel', () => api.tunnels.length === 1);
    const c = await UdpClient.bound();
    api.change((pf) => {
      pf.status!.helper!.pod = 'helper-2';
    });
    await eventually('a session with the new helper', () => api.tunnels.length === 2);
    assert.deepEqual(
      api.tunnels.map((t) => t.helper),
      ['helper-1', 'helper-2'],
    );
    c.send(port, Buffer.from('after'));
    await eventually('the reply', () => c.got.length === 1);
    assert.equal(c.got[0]!.toString(), 'after');
    await eventually('the old session to close', () => api.tunnels[0]!.closed);
    c.socket.close();
    s.stop();
    assert.equal(await s.exit, 0);
  });

  it('with no ports, forwards every TCP and UDP port of the PortForward', T, async () => {
    const free = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    fresh();
    api.pf!.spec = { target: { pod: 'nginx' }, ports: [{ port: free }, { port: free, protocol: 'UDP' }] };
    const s = startConnect(api, []);
    await localPort(s, String(free));
    await localPort(s, `${free}/udp`);
    assert.equal(await exchange(free, 'tcp'), 'helper-1:tcp');
    s.stop();
    assert.equal(await s.exit, 0, s.err.join('\n'));
  });

  it('a 404 from discovery means the tunnel API is not installed: one note, and the pods/portforward path (TCP only)', T, async () => {
    fresh();
    api.tunnelApiMissing = true;
    const s = startConnect(api, []);
    await localPort(s, '10080');
    assert.deepEqual(s.err, [
      'note: the tunnel API (connect.portforward.io) is not installed; using pods/portforward to the helper pods (needs rights in their namespace)',
    ]);
    assert.ok(!s.out.some((l) => l.includes('/udp')), 'no UDP listener without the tunnel API');
    s.stop();
    assert.equal(await s.exit, 0);
    assert.equal(api.tunnels.length, 0);
  });
});
