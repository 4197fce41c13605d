// The plugin's tunnel WebSocket (the ws library): inside TLS its frames go unmasked (an all-zero
// key, which ws skips on both ends), on a plain ws:// URL they keep random keys as RFC 6455 asks.
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { WebSocketServer } from 'ws';
import { createCa, createServingCertificate } from '../../src/gateway/certificates.js';
import { openTunnelWebSocket } from '../../src/cli/tunnel-websocket.js';
import { TUNNEL_PROTOCOL } from '../../src/tunnel/protocol.js';

/** The masking key of the first frame the client sends after the handshake, as the server read it off the wire. */
async function firstMaskingKey(tls: boolean): Promise<Buffer> {
  const ca = createCa('test-ca');
  const serving = createServingCertificate(ca, ['localhost']);
  const server = tls ? https.createServer({ cert: serving.cert, key: serving.key }) : http.createServer();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: () => TUNNEL_PROTOCOL });
  const key = new Promise<Buffer>((resolve) => {
    server.on('upgrade', (req, socket: Socket, head: Buffer) => {
      const wire: Buffer[] = [head];
      socket.on('data', (d: Buffer) => {
        wire.push(d);
        const frame = Buffer.concat(wire);
        // A short binary frame: FIN+opcode, MASK bit + 7-bit length, then the 4-byte key.
        if (frame.length >= 6) resolve(frame.subarray(2, 6));
      });
      wss.handleUpgrade(req, socket, head, () => undefined);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  const ws = await openTunnelWebSocket(kc, '/tunnel');
  try {
    ws.send(Buffer.from('hello'));
    return await key;
  } finally {
    ws.terminate();
    server.closeAllConnections();
    server.close();
  }
}

describe('the tunnel WebSocket', () => {
  it('sends unmasked frames (an all-zero key) inside TLS', async () => {
    assert.deepEqual([...(await firstMaskingKey(true))], [0, 0, 0, 0]);
  });

  it('masks with a random key on a plain ws:// URL', async () => {
    assert.notDeepEqual([...(await firstMaskingKey(false))], [0, 0, 0, 0]);
  });
});
