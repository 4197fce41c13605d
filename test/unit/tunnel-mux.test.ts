// StreamMux, both ends in one process: the client's mux opens streams for local connections, the
// gateway's mux attaches each to a real TCP connection, and the two talk through an in-memory
// channel that delivers every message asynchronously, as a WebSocket would.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { after, describe, it } from 'node:test';
import { StreamMux } from '../../src/tunnel/mux.js';
import { countWrites } from './support/write-count.js';
import { decodeFrame, encodeCredit, encodeFrame, FRAME, MAX_DATA_BYTES, MAX_MESSAGE_BYTES, INITIAL_STREAM_WINDOW, MAX_STREAM_WINDOW } from '../../src/tunnel/protocol.js';

interface Pair {
  client: StreamMux;
  gateway: StreamMux;
  /** DATA bytes the gateway has sent, per stream id. */
  sentByGateway: Map<number, number>;
  /** The largest window the client ever granted the gateway: credit received, less DATA sent. */
  maxWindow: () => number;
}

function pair(targetPort: number): Pair {
  const sentByGateway = new Map<number, number>();
  let window = INITIAL_STREAM_WINDOW;
  let maxWindow = window;
  const client: StreamMux = new StreamMux((m) => {
    const f = decodeFrame(m);
    if (f?.type === FRAME.credit) {
      window += f.payload.readUInt32BE(0);
      maxWindow = Math.max(maxWindow, window);
    }
    setImmediate(() => gateway.receive(m));
  });
  const gateway: StreamMux = new StreamMux(
    (m) => {
      const f = decodeFrame(m);
      if (f?.type === FRAME.data) {
        sentByGateway.set(f.id, (sentByGateway.get(f.id) ?? 0) + f.payload.length);
        window -= f.payload.length;
      }
      setImmediate(() => client.receive(m));
    },
    {
      open: (id) => {
        gateway.attach(id, connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true })).catch(() => undefined);
      },
      datagram: (id, payload) => gateway.datagram(id, Buffer.concat([Buffer.from(`${id}:`), payload])),
    },
  );
  muxes.push(client, gateway);
  return { client, gateway, sentByGateway, maxWindow: () => maxWindow };
}

const servers: Server[] = [];
const accepted = new Set<Socket>();
const muxes: StreamMux[] = [];
// Connections left open on purpose (the stalled reader) would keep the test process alive.
after(() => {
  muxes.forEach((m) => m.closeAll('test over'));
  accepted.forEach((s) => s.destroy());
  servers.forEach((s) => s.close());
});

async function listen(onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    accepted.add(s);
    onConnection(s);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An echo server that half-closes after its client does, as a well-behaved peer. */
function echo(s: Socket): void {
  s.on('data', (d) => s.write(d));
  s.on('end', () => s.end());
  s.on('error', () => undefined);
}

/** A local connection whose accepted end is handed to the client's mux, as connect's listener does. */
async function localConnection(mux: StreamMux): Promise<{ app: Socket; carried: Promise<void> }> {
  let carried!: Promise<void>;
  const port = await listen((accepted) => {
    carried = mux.open(accepted);
  });
  const app = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(app, 'connect');
  while (!carried) await new Promise((r) => setImmediate(r));
  return { app, carried };
}

function readAll(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return new Promise((resolve, reject) => {
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

/** A local end that accepts writes and never finishes one: a reader that has stalled. */
class StalledReader extends Duplex {
  override _read(): void {}
  override _write(_chunk: Buffer, _enc: BufferEncoding, _done: () => void): void {}
}

describe('StreamMux', () => {
  it('carries a connection both ways and passes the half-close on', async () => {
    const { client } = pair(await listen(echo));
    const { app, carried } = await localConnection(client);
    const body = Buffer.alloc(300_000, 7);
    const answer = readAll(app);
    app.end(body);
    assert.deepEqual(await answer, body); // the echo only ends after it saw our end
    await carried;
  });

  it('carries many connections over one channel at once', async () => {
    const { client } = pair(await listen(echo));
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const { app } = await localConnection(client);
        const answer = readAll(app);
        app.end(`connection ${i}`);
        return (await answer).toString();
      }),
    );
    assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => `connection ${i}`));
  });

  it('widens the window of a connection that flows, up to its bound', async () => {
    const download = Buffer.alloc(64 << 20, 3);
    const { client, maxWindow } = pair(await listen((s) => s.end(download)));
    const { app } = await localConnection(client);
    app.end();
    assert.equal((await readAll(app)).length, download.length);
    assert.ok(maxWindow() > 2 * INITIAL_STREAM_WINDOW, `the window never grew past ${maxWindow()} bytes`);
    assert.ok(maxWindow() <= MAX_STREAM_WINDOW, `a window of ${maxWindow()} bytes`);
  });

  it('sends a stalled reader no more than its window, while another connection keeps flowing', async () => {
    const flood = Buffer.alloc(8 * INITIAL_STREAM_WINDOW, 1);
    let first = true;
    const { client, sentByGateway } = pair(
      await listen((s) => {
        s.on('error', () => undefined);
        if (first) {
          first = false;
          s.end(flood); // the first connection's server sends far more than the window
        } else echo(s);
      }),
    );
    client.open(new StalledReader() as unknown as Socket).catch(() => undefined); // ends with the test
    await new Promise((r) => setTimeout(r, 200)); // let the flood hit the window
    const { app } = await localConnection(client);
    const answer = readAll(app);
    app.end('still here');
    assert.equal((await answer).toString(), 'still here');
    const stalledStream = 1;
    assert.ok((sentByGateway.get(stalledStream) ?? 0) <= INITIAL_STREAM_WINDOW, `sent ${sentByGateway.get(stalledStream)} bytes to a reader that took none`);
    assert.ok((sentByGateway.get(stalledStream) ?? 0) > 0);
  });

  it('rejects the local side with the reason when the far end cannot connect', async () => {
    const closedPort = await listen(() => undefined);
    servers.pop()?.close();
    await new Promise((r) => setTimeout(r, 50));
    const { client } = pair(closedPort);
    const { app, carried } = await localConnection(client);
    app.on('error', () => undefined);
    app.resume();
    await assert.rejects(carried, /ECONNREFUSED/);
    await once(app, 'end'); // the local client sees its connection closed
  });

  it('closes the far connection when the local one is reset', async () => {
    let farClosed!: Promise<unknown>; // the gateway's connection to the far end is over
    const { client } = pair(
      await listen((s) => {
        s.on('error', () => undefined);
        s.resume();
        farClosed = once(s, 'end');
      }),
    );
    const { app, carried } = await localConnection(client);
    app.write('x');
    while (!farClosed) await new Promise((r) => setTimeout(r, 5));
    app.resetAndDestroy(); // RST: a FIN would only be a half-close, passed on as such
    await assert.rejects(carried, /ECONNRESET/);
    await farClosed;
  });

  it('passes datagrams with their sender id, boundaries kept', async () => {
    const received: Array<[number, string]> = [];
    const { gateway } = pair(1);
    const client = new StreamMux((m) => void setImmediate(() => gateway.receive(m)), { datagram: (id, p) => received.push([id, p.toString()]) });
    // route the gateway's answers to this client
    (gateway as unknown as { send: (m: Buffer) => void }).send = (m) => setImmediate(() => client.receive(m));
    client.datagram(7, Buffer.from('a'));
    client.datagram(9, Buffer.from('bb'));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(received, [
      [7, '7:a'],
      [9, '9:bb'],
    ]);
  });
});

describe('StreamMux over a channel that fills up', () => {
  it('reads no socket while the channel is full, and carries on once it has drained', async () => {
    // The far end of the channel: counts DATA and credits it back at once (so only the channel
    // can stop the stream), and says whether the channel is full.
    let full = false;
    let sent = 0;
    const mux: StreamMux = new StreamMux((m) => {
      const f = decodeFrame(m);
      if (f?.type === FRAME.data) {
        sent += m.length;
        setImmediate(() => mux.receive(encodeCredit(f.id, f.payload.length)));
      }
      return !full;
    });
    muxes.push(mux);
    const chunk = Buffer.alloc(32 * 1024, 1);
    const port = await listen((s) => {
      s.on('error', () => undefined);
      const pump = (): void => {
        while (s.write(chunk));
        s.once('drain', pump);
      };
      pump(); // sends for as long as anyone reads
    });
    const socket = connect({ port, host: '127.0.0.1' });
    void mux.open(socket).catch(() => undefined);
    await waitFor(() => sent > 0);
    full = true;
    const sentWhenFull = sent;
    await waitFor(() => socket.isPaused());
    // The frame that found the channel full was already read: nothing after it is.
    const afterPause = sent;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(sent, afterPause, 'no frame while the channel is full');
    assert.ok(afterPause - sentWhenFull <= 2 * (MAX_DATA_BYTES + 5), 'at most the read in progress when it filled up');
    full = false;
    mux.drained();
    await waitFor(() => sent > afterPause);
    assert.equal(socket.isPaused(), false);
  });
});

describe('StreamMux writing to a connection', () => {
  it('writes the DATA of one turn of the event loop in one system call', async () => {
    const received: Buffer[] = [];
    const port = await listen((s) => s.on('data', (d: Buffer) => received.push(d)));
    const socket = connect({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const writes = countWrites(socket);
    const mux = new StreamMux(() => true);
    muxes.push(mux);
    void mux.attach(7, socket).catch(() => undefined);
    const frames = [1, 2, 3].map((byte) => Buffer.alloc(1000, byte));
    for (const payload of frames) mux.receive(encodeFrame(FRAME.data, 7, payload));
    await waitFor(() => Buffer.concat(received).length === 3000);
    assert.deepEqual(writes, [3], 'one write of three chunks');
    assert.deepEqual(Buffer.concat(received), Buffer.concat(frames));
  });
});

describe('tunnel frames', () => {
  it('fit the message size both ends accept, for the largest DATA and the largest datagram', () => {
    assert.ok(encodeFrame(FRAME.data, 1, Buffer.alloc(MAX_DATA_BYTES)).length <= MAX_MESSAGE_BYTES);
    assert.ok(encodeFrame(FRAME.datagram, 1, Buffer.alloc(65535)).length <= MAX_MESSAGE_BYTES);
  });

  it('ignore messages that are too short or of an unknown type', () => {
    assert.equal(decodeFrame(Buffer.from([FRAME.data, 0, 0])), undefined);
    assert.equal(decodeFrame(Buffer.from([99, 0, 0, 0, 1])), undefined);
    assert.deepEqual(decodeFrame(encodeFrame(FRAME.reset, 258, 'why')), { type: FRAME.reset, id: 258, payload: Buffer.from('why') });
  });
});
