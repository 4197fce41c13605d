// The WebSocket framing and port-forward channels `kubectl pf connect` speaks to the API server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortForwardChannels, portForwardPath } from '../../src/cli/pod-port.js';
import { applyMask, encodeFrame, FrameParser, OPCODE } from '../../src/cli/websocket.js';
import * as ws from 'ws';
import type { Writable } from 'node:stream';

// ws's own frame reader and writer (exported, though not in its type definitions): an RFC 6455
// implementation independent of the plugin's.
const { Receiver, Sender } = ws as unknown as {
  Receiver: new (options: { isServer: boolean }) => Writable;
  Sender: { frame(data: Buffer, options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean }): Buffer[] };
};

describe('WebSocket frames', () => {
  it('a masked client frame reads back as the bytes sent, at every length encoding', () => {
    for (const size of [0, 1, 125, 126, 65535, 65536, 200_000]) {
      const payload = Buffer.alloc(size, 7);
      const frame = encodeFrame(OPCODE.binary, [Buffer.from([0]), payload], Buffer.from([1, 2, 3, 4]));
      const [decoded, ...rest] = new FrameParser().push(frame);
      assert.equal(rest.length, 0);
      assert.equal(decoded?.opcode, OPCODE.binary);
      assert.equal(decoded?.fin, true);
      assert.deepEqual(decoded?.payload, Buffer.concat([Buffer.from([0]), payload]), `size ${size}`);
    }
  });

  it('speaks RFC 6455 as an independent implementation (ws) reads and writes it, at every length encoding', async () => {
    const sizes = [0, 1, 125, 126, 65535, 65536, 200_000];
    // ours -> ws: masked client frames, as a server receives them
    const received: Buffer[] = [];
    const receiver = new Receiver({ isServer: true });
    receiver.on('message', (data: Buffer) => received.push(Buffer.from(data)));
    const payloads = sizes.map((size) => Buffer.alloc(size, size % 251));
    await new Promise<void>((resolve) => receiver.write(Buffer.concat(payloads.map((p) => encodeFrame(OPCODE.binary, [p], Buffer.from([9, 8, 7, 6])))), () => resolve()));
    assert.deepEqual(received.map((b) => b.length), sizes);
    assert.ok(received.every((b, i) => b.equals(payloads[i]!)));
    // ws -> ours: unmasked server frames, as the API server sends them
    const frames = payloads.map((p) => Buffer.concat(Sender.frame(p, { fin: true, opcode: OPCODE.binary, mask: false, readOnly: true, rsv1: false })));
    const decoded = new FrameParser().push(Buffer.concat(frames));
    assert.deepEqual(decoded.map((f) => f.payload.length), sizes);
    assert.ok(decoded.every((f, i) => f.opcode === OPCODE.binary && f.fin && f.payload.equals(payloads[i]!)));
  });

  it('frames split anywhere across TCP chunks, or packed together, come out whole', () => {
    const frames = [Buffer.from('first'), Buffer.alloc(70_000, 1), Buffer.from('third')].map((p) => encodeFrame(OPCODE.binary, [p], null));
    const stream = Buffer.concat(frames);
    for (const step of [1, 3, 1000, stream.length]) {
      const parser = new FrameParser();
      const out = [];
      for (let i = 0; i < stream.length; i += step) out.push(...parser.push(stream.subarray(i, i + step)));
      assert.deepEqual(
        out.map((f) => f.payload.length),
        [5, 70_000, 5],
        `chunks of ${step}`,
      );
    }
  });
});

describe('port-forward channels (v4.channel.k8s.io)', () => {
  it('drops the 2-byte port prefix of each channel and splits data from errors', () => {
    const data: string[] = [];
    const errors: string[] = [];
    const channels = new PortForwardChannels(
      (d) => data.push(d.toString()),
      (e) => errors.push(e),
    );
    const prefix = Buffer.from([0x50, 0x27]); // 10064, little endian
    channels.receive(Buffer.concat([Buffer.from([0]), prefix]));
    channels.receive(Buffer.concat([Buffer.from([1]), prefix]));
    channels.receive(Buffer.from('\x00hello'));
    channels.receive(Buffer.from('\x01connection refused'));
    channels.receive(Buffer.from('\x07ignored'));
    assert.deepEqual(data, ['hello']);
    assert.deepEqual(errors, ['connection refused']);
  });

  it('also copes with the prefix arriving together with data', () => {
    const data: string[] = [];
    const channels = new PortForwardChannels(
      (d) => data.push(d.toString()),
      () => undefined,
    );
    channels.receive(Buffer.from('\x00\x50\x27hi'));
    assert.deepEqual(data, ['hi']);
  });

  it('asks the API server for the pod port the kubectl way', () => {
    assert.equal(
      portForwardPath({ namespace: 'portforward-system', pod: 'pf-team-a-web-1a2b3c4d' }, 10080),
      '/api/v1/namespaces/portforward-system/pods/pf-team-a-web-1a2b3c4d/portforward?ports=10080',
    );
  });
});

describe('masking', () => {
  it('word-at-a-time masking gives the same bytes as the byte rule, at every alignment and length', () => {
    const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
    for (const offset of [0, 1, 2, 3, 5]) {
      for (const length of [0, 1, 3, 4, 7, 64, 1001]) {
        const backing = Buffer.alloc(offset + length + 8);
        for (let i = 0; i < backing.length; i++) backing[i] = (i * 7) & 0xff;
        const expected = Buffer.from(backing);
        for (let i = 0; i < length; i++) expected[offset + i] = (expected[offset + i] as number) ^ (mask[i & 3] as number);
        applyMask(backing, offset, length, mask);
        assert.deepEqual(backing, expected, `offset ${offset}, length ${length}`);
      }
    }
  });
});
