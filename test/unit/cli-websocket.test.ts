// The plugin's WebSocket to the API server, against a stand-in API server whose WebSocket side is
// the ws library's server: refused upgrades, sub-protocols, credentials and TLS, backpressure,
// pausing, and closes from either end.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import forge from 'node-forge';
import { WebSocketServer, type WebSocket } from 'ws';
import { connectWebSocket, HandshakeError, type WebSocketConnection } from '../../src/cli/websocket.js';

const SPDY = 'SPDY/3.1+portforward.k8s.io';
const V4 = 'v4.channel.k8s.io';

/**
 * Upgrades /ws?choose=<protocol> (none without it), refuses /forbidden with a Status and /broken
 * with plain text. ws's server takes only RFC 7230 tokens as sub-protocols, and "/" is not one: the
 * request's header is swapped for a token, and the answer's back for the chosen name.
 */
class StandInApiServer {
  readonly server: http.Server | https.Server;
  private readonly wss = new WebSocketServer({ noServer: true, handleProtocols: () => 'chosen' });
  readonly upgrades: http.IncomingHttpHeaders[] = [];
  /** Server ends of the upgraded connections, in order. */
  readonly connections: WebSocket[] = [];
  private waiting: ((ws: WebSocket) => void)[] = [];
  port = 0;

  constructor(tls?: { key: string; cert: string }) {
    this.server = tls ? https.createServer(tls) : http.createServer();
    this.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://x');
      this.upgrades.push({ ...req.headers });
      if (url.pathname === '/forbidden') {
        const body = JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403, message: 'pods "web" is forbidden: User "u" cannot create resource "pods/portforward"' });
        socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
        return;
      }
      if (url.pathname === '/broken') {
        const body = 'upstream\n  gone';
        socket.end(`HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        return;
      }
      if (url.searchParams.has('choose')) req.headers['sec-websocket-protocol'] = 'chosen';
      else delete req.headers['sec-websocket-protocol'];
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.connections.push(ws);
        this.waiting.shift()?.(ws);
      });
    });
    this.wss.on('headers', (headers, req) => {
      const i = headers.indexOf('Sec-WebSocket-Protocol: chosen');
      if (i >= 0) headers[i] = `Sec-WebSocket-Protocol: ${new URL(req.url ?? '/', 'http://x').searchParams.get('choose')}`;
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** The server end of the next connection to be upgraded. */
  nextConnection(): Promise<WebSocket> {
    return new Promise((r) => this.waiting.push(r));
  }

  stop(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.server.closeAllConnections();
    this.server.close();
  }
}

function kubeconfig(server: string, cluster: { caData?: string; tlsServerName?: string } = {}): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // client-node takes plain HTTP only with skipTLSVerify
    clusters: [{ name: 'c', server, skipTLSVerify: server.startsWith('http:'), ...cluster }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

/** A self-signed certificate for `name` only (not 127.0.0.1, where the test server listens). */
function certificateFor(name: string): { key: string; cert: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' } });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  cert.setSubject([{ name: 'commonName', value: name }]);
  cert.setIssuer([{ name: 'commonName', value: name }]);
  cert.setExtensions([{ name: 'basicConstraints', cA: true }, { name: 'subjectAltName', altNames: [{ type: 2, value: name }] }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { key: privateKey, cert: forge.pki.certificateToPem(cert) };
}

/** Starts `conn` and records what reaches its handlers. */
function record(conn: WebSocketConnection): { messages: string[]; drains: number; closed: Promise<Error | undefined> } {
  const seen = { messages: [] as string[], drains: 0, closed: undefined as unknown as Promise<Error | undefined> };
  seen.closed = new Promise((resolve) => conn.start({ message: (m) => seen.messages.push(m.toString()), drain: () => seen.drains++, close: resolve }));
  return seen;
}

async function eventually(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('WebSocket to the API server', () => {
  const api = new StandInApiServer();
  let kc: KubeConfig;
  before(async () => {
    await api.start();
    kc = kubeconfig(`http://127.0.0.1:${api.port}`);
  });
  after(() => api.stop());

  it("turns a refused upgrade into a HandshakeError with the status and the API server's own message", async () => {
    await assert.rejects(connectWebSocket(kc, '/forbidden', { protocols: [V4] }), (err: unknown) => {
      assert.ok(err instanceof HandshakeError);
      assert.equal(err.status, 403);
      assert.equal(err.message, 'pods "web" is forbidden: User "u" cannot create resource "pods/portforward"');
      return true;
    });
    await assert.rejects(connectWebSocket(kc, '/broken', { protocols: [V4] }), { name: 'HandshakeError', status: 502, message: 'HTTP 502: upstream gone' });
  });

  it('gives up on a server that never answers the upgrade', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const started = Date.now();
      const port = (silent.address() as net.AddressInfo).port;
      await assert.rejects(connectWebSocket(kubeconfig(`http://127.0.0.1:${port}`), '/ws', { protocols: [V4], timeoutMs: 200 }), {
        name: 'HandshakeError',
        status: undefined,
        message: 'no answer from the API server within 0.2s',
      });
      assert.ok(Date.now() - started < 2000);
    } finally {
      silent.close();
    }
  });

  it('offers the sub-protocols, SPDY/3.1+portforward.k8s.io too, and takes the one the server chose', async () => {
    const spdy = await connectWebSocket(kc, `/ws?choose=${encodeURIComponent(SPDY)}`, { protocols: [SPDY, V4] });
    assert.equal(spdy.protocol, SPDY);
    assert.equal(api.upgrades.at(-1)?.['sec-websocket-protocol'], `${SPDY}, ${V4}`);
    assert.equal(api.upgrades.at(-1)?.['sec-websocket-extensions'], undefined, 'no permessage-deflate');
    spdy.destroy();
    const v4 = await connectWebSocket(kc, `/ws?choose=${V4}`, { protocols: [SPDY, V4] });
    assert.equal(v4.protocol, V4);
    v4.destroy();
    const none = await connectWebSocket(kc, '/ws', { protocols: [SPDY] });
    assert.equal(none.protocol, '');
    none.destroy();
    await assert.rejects(connectWebSocket(kc, '/ws?choose=v5.channel.k8s.io', { protocols: [V4] }), { name: 'HandshakeError', message: 'the API server chose sub-protocol "v5.channel.k8s.io", which was not offered' });
  });

  it('sends each send() as one binary message of its parts, and holds messages until start()', async () => {
    const serverSide = api.nextConnection();
    const conn = await connectWebSocket(kc, '/ws', { protocols: [V4] });
    const server = await serverSide;
    const got: Buffer[] = [];
    server.on('message', (data: Buffer, isBinary) => got.push(isBinary ? data : Buffer.from('text!')));
    server.send(Buffer.from('early'));
    await sleep(100); // arrived, and must wait for start()
    const seen = record(conn);
    assert.equal(conn.send(Buffer.from([0]), Buffer.from('hi')), true);
    conn.send(Buffer.from('one part'));
    await eventually('both messages at the server', () => got.length === 2);
    assert.deepEqual(got, [Buffer.from('\x00hi'), Buffer.from('one part')]);
    await eventually('the early message', () => seen.messages.length === 1);
    assert.deepEqual(seen.messages, ['early']);
    conn.destroy();
  });

  it('says the send buffer is full past the high-water mark, and drains once the server reads again', { timeout: 20_000 }, async () => {
    const serverSide = api.nextConnection();
    const conn = await connectWebSocket(kc, '/ws', { protocols: [V4] });
    const server = await serverSide;
    let received = 0;
    server.on('message', () => received++);
    server.pause(); // the kernel's buffers fill, then ours
    const seen = record(conn);
    const chunk = Buffer.alloc(16 * 1024, 1);
    let sent = 0;
    while (conn.send(chunk)) {
      sent++;
      assert.ok(sent < 8192, 'send() never said the buffer was full (128 MiB sent)');
    }
    sent++;
    await sleep(200);
    assert.equal(seen.drains, 0, 'no drain while the server reads nothing');
    server.resume();
    await eventually('drain', () => seen.drains === 1);
    assert.equal(conn.send(chunk), true, 'room again after drain');
    sent++;
    await eventually('every message at the server', () => received === sent, 10_000);
    conn.destroy();
  });

  it('pause() stops delivering messages and resume() goes on with them', async () => {
    const serverSide = api.nextConnection();
    const conn = await connectWebSocket(kc, '/ws', { protocols: [V4] });
    const server = await serverSide;
    const seen = record(conn);
    server.send(Buffer.from('first'));
    await eventually('the first message', () => seen.messages.length === 1);
    conn.pause();
    server.send(Buffer.from('second'));
    await sleep(200);
    assert.deepEqual(seen.messages, ['first'], 'nothing delivered while paused');
    conn.resume();
    await eventually('the second message', () => seen.messages.length === 2);
    assert.deepEqual(seen.messages, ['first', 'second']);
    conn.destroy();
  });

  it('reports a close by the server as clean, and a dropped connection as broken', async () => {
    let serverSide = api.nextConnection();
    let conn = await connectWebSocket(kc, '/ws', { protocols: [V4] });
    let seen = record(conn);
    (await serverSide).close(1000);
    assert.equal(await seen.closed, undefined);

    serverSide = api.nextConnection();
    conn = await connectWebSocket(kc, '/ws', { protocols: [V4] });
    seen = record(conn);
    (await serverSide).terminate();
    assert.equal((await seen.closed)?.message, 'connection to the API server closed unexpectedly');
  });

  it('closes with a closing handshake the server sees, and reports it as clean', async () => {
    const serverSide = api.nextConnection();
    const conn = await connectWebSocket(kc, '/ws', { protocols: [V4] });
    const server = await serverSide;
    const serverClosed = new Promise<number>((r) => server.on('close', r));
    const seen = record(conn);
    conn.close();
    assert.equal(await serverClosed, 1000);
    assert.equal(await seen.closed, undefined);
    assert.equal(conn.send(Buffer.from('late')), true, 'sending after close is a no-op, never "full"');
  });
});

describe('WebSocket to an API server over TLS', () => {
  const tls = certificateFor('api.test');
  const api = new StandInApiServer(tls);
  before(() => api.start());
  after(() => api.stop());

  it("trusts the kubeconfig's CA, checks the certificate against tls-server-name, and sends the bearer token", async () => {
    const server = `https://127.0.0.1:${api.port}`;
    const caData = Buffer.from(tls.cert).toString('base64');
    const conn = await connectWebSocket(kubeconfig(server, { caData, tlsServerName: 'api.test' }), '/ws', { protocols: [V4] });
    assert.equal(api.upgrades.at(-1)?.authorization, 'Bearer secret-token');
    conn.destroy();
    await assert.rejects(connectWebSocket(kubeconfig(server, { caData }), '/ws', { protocols: [V4] }), { name: 'HandshakeError', message: /IP: 127\.0\.0\.1 is not in the cert's list/ });
    await assert.rejects(connectWebSocket(kubeconfig(server, { tlsServerName: 'api.test' }), '/ws', { protocols: [V4] }), { name: 'HandshakeError', message: /self.signed certificate/ });
  });
});
