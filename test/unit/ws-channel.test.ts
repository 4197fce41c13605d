// WebSocketChannel over a real WebSocket on loopback: the frames of one turn of the event loop leave
// in one write.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import { WebSocketChannel } from '../../src/tunnel/ws-channel.js';
import { countWrites } from './support/write-count.js';

describe('WebSocketChannel', () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  after(() => {
    server.clients.forEach((c) => c.terminate());
    server.close();
  });

  it('sends the frames of one turn of the event loop in one write', async () => {
    await once(server, 'listening');
    const received: Buffer[] = [];
    server.on('connection', (ws) => ws.on('message', (m: Buffer) => received.push(m)));
    const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await once(ws, 'open');
    const writes = countWrites((ws as unknown as { _socket: Duplex })._socket);
    const channel = new WebSocketChannel(ws, () => undefined);
    const frames = [1, 2, 3].map((byte) => Buffer.alloc(1000, byte));
    for (const frame of frames) channel.send(frame);
    while (received.length < frames.length) await new Promise((r) => setTimeout(r, 5));
    assert.equal(writes.length, 1, `one write, not ${writes.length}`);
    assert.deepEqual(received, frames);
  });
});
