// One port-forward session carrying many local connections, against a stand-in kubelet behind a
// WebSocket (the ws library) that speaks SPDY/3.1 as the kubelet does: a SYN_STREAM pair per
// connection tied by requestid, a SYN_REPLY for each, DATA both ways, errors on the error stream.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { constants, inflateSync } from 'node:zlib';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocketServer, type WebSocket } from 'ws';
import { PortForwardSession } from '../../src/cli/spdy-session.js';
import { readHeaderBlock } from './support/wire.js';

const SESSION_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
const PROTOCOL_TOKEN = 'spdy-3.1-portforward';

/** A SPDY/3 control frame: version 3, type, flags, then the payload. */
function control(type: number, flags: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8003, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  return Buffer.concat([head, payload]);
}
const synReply = (id: number) => control(2, 0, Buffer.from([0, 0, 0, 0].map((_, i) => (id >>> (24 - 8 * i)) & 0xff)));
function data(id: number, payload: Buffer, fin = false): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(id, 0);
  head.writeUInt32BE(((fin ? 1 : 0) << 24) | payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** The kubelet's side of one session: echoes each connection as "<port>:<bytes>", refuses port 9999. */
class StandInKubelet {
  readonly server = http.createServer((_req, res) => res.writeHead(404).end());
  // ws accepts only RFC 7230 tokens as sub-protocols, and "/" is not one (Go's server, the API
  // server's, takes it): the request names it by a token here, the response by its real name.
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has(PROTOCOL_TOKEN) ? PROTOCOL_TOKEN : false) });
  sessions = 0;
  /** SYN_STREAM headers seen, in order. */
  readonly streams: Record<string, string>[] = [];
  port = 0;

  async start(): Promise<void> {
    this.server.on('upgrade', (req, socket, head) => {
      if (!/^\/api\/v1\/namespaces\/ns\/pods\/helper\/portforward$/.test(new URL(req.url ?? '', 'http://x').pathname)) return socket.destroy();
      if (req.headers['sec-websocket-protocol'] === SESSION_PROTOCOL) req.headers['sec-websocket-protocol'] = PROTOCOL_TOKEN;
      this.wss.handleUpgrade(req, socket, head, (ws) => this.session(ws));
    });
    this.wss.on('headers', (headers) => {
      const i = headers.indexOf(`Sec-WebSocket-Protocol: ${PROTOCOL_TOKEN}`);
      if (i >= 0) headers[i] = `Sec-WebSocket-Protocol: ${SESSION_PROTOCOL}`;
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  stop(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    this.server.close();
  }

  private session(ws: WebSocket): void {
    this.sessions++;
    let pending = Buffer.alloc(0);
    const blocks: Buffer[] = []; // header blocks so far: one zlib stream per direction
    let inflated = 0;
    const pairs = new Map<string, { error?: number; data?: number; port?: string }>();
    const dataStreams = new Map<number, { port: string; got: Buffer[] }>();
    ws.on('message', (message: Buffer) => {
      pending = Buffer.concat([pending, message]);
      while (pending.length >= 8 && pending.length >= 8 + (pending.readUInt32BE(4) & 0xffffff)) {
        const length = pending.readUInt32BE(4) & 0xffffff;
        const frame = pending.subarray(0, 8 + length);
        pending = pending.subarray(8 + length);
        if (frame[0]! & 0x80) {
          if (frame.readUInt16BE(2) !== 1) continue; // only SYN_STREAM matters here
          const id = frame.readUInt32BE(8) & 0x7fffffff;
          blocks.push(frame.subarray(18));
          const all = inflateSync(Buffer.concat(blocks), { finishFlush: constants.Z_SYNC_FLUSH });
          const headers = readHeaderBlock(all.subarray(inflated));
          inflated = all.length;
          this.streams.push(headers);
          const pair = pairs.get(headers.requestid!) ?? {};
          pair.port = headers.port;
          pair[headers.streamtype === 'error' ? 'error' : 'data'] = id;
          pairs.set(headers.requestid!, pair);
          if (pair.error !== undefined && pair.data !== undefined) {
            ws.send(Buffer.concat([synReply(pair.error), synReply(pair.data)]));
            if (pair.port === '9999') {
              // as the kubelet does when the pod refuses: the error on its stream, then both streams closed
              ws.send(data(pair.error, Buffer.from('error forwarding port 9999 to pod helper, uid : connection refused'), true));
              ws.send(data(pair.data, Buffer.alloc(0), true));
            } else {
              dataStreams.set(pair.data, { port: pair.port!, got: [] });
            }
          }
        } else {
          const id = frame.readUInt32BE(0) & 0x7fffffff;
          const stream = dataStreams.get(id);
          if (!stream) continue;
          stream.got.push(frame.subarray(8));
          if (frame[4]! & 1) ws.send(data(id, Buffer.from(`${stream.port}:${Buffer.concat(stream.got)}`), true)); // echo once the client half-closes
        }
      }
    });
  }
}

/** A local TCP connection as the plugin's listener hands it over (paused), and its client end. */
async function localConnection(): Promise<{ local: net.Socket; client: net.Socket; reply: Promise<string> }> {
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const local = await accepted;
  server.close();
  let got = '';
  client.on('data', (d) => (got += d));
  const reply = new Promise<string>((resolve) => client.on('close', () => resolve(got)));
  client.on('error', () => undefined);
  return { local, client, reply };
}

describe('one port-forward session for many connections', () => {
  const kubelet = new StandInKubelet();
  const kc = new KubeConfig();
  before(async () => {
    await kubelet.start();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${kubelet.port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });
  after(() => kubelet.stop());

  it('carries two connections over one WebSocket, each on its own stream pair to its port', { timeout: 10_000 }, async () => {
    const session = await PortForwardSession.open(kc, { namespace: 'ns', pod: 'helper' });
    try {
      const a = await localConnection();
      const b = await localConnection();
      const forwards = [session.forward(10080, a.local), session.forward(10081, b.local)];
      a.client.end('hello from a');
      b.client.end('hello from b');
      assert.equal(await a.reply, '10080:hello from a');
      assert.equal(await b.reply, '10081:hello from b');
      await Promise.all(forwards);
      assert.equal(kubelet.sessions, 1, 'one WebSocket for both connections');
      assert.deepEqual(
        kubelet.streams.map((h) => `${h.streamtype} ${h.port} ${h.requestid}`),
        ['error 10080 0', 'data 10080 0', 'error 10081 1', 'data 10081 1'],
        'the error stream first, then the data stream, tied by requestid',
      );
      assert.ok(session.usable);
    } finally {
      session.close();
    }
  });

  it("ends a connection the kubelet fails with the kubelet's line, and then takes no new ones", { timeout: 10_000 }, async () => {
    const session = await PortForwardSession.open(kc, { namespace: 'ns', pod: 'helper' });
    try {
      const c = await localConnection();
      await assert.rejects(session.forward(9999, c.local), /^Error: error forwarding port 9999 to pod helper, uid : connection refused$/);
      assert.equal(session.usable, false, 'a connection the kubelet failed retires the session: new ones get a fresh one');
    } finally {
      session.close();
    }
  });
});
