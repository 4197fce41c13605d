// The SPDY/3.1 frames `kubectl pf connect` multiplexes its connections with, as the kubelet reads them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constants, inflateSync } from 'node:zlib';
import { CONTROL, FLAG_FIN, RST_STATUS, SpdyParser, SynStreamWriter, controlStreamId, controlWord, dataFrameHeader, pingFrame, rstStreamFrame } from '../../src/cli/spdy.js';
import { portForwardPath } from '../../src/cli/pod-port.js';
import { readHeaderBlock } from './support/wire.js';

/** What a zlib reader gets from the header blocks so far: one stream across frames, flushed, never finished. */
const inflateBlocks = (...blocks: Buffer[]) => inflateSync(Buffer.concat(blocks), { finishFlush: constants.Z_SYNC_FLUSH });

describe('SPDY frames', () => {
  it('SYN_STREAM: control bit, version 3, type 1, flags, length, stream id and priority as the kubelet parses them', () => {
    const frame = new SynStreamWriter().frame(3, { streamType: 'data', port: '10080', requestID: '1' }, true);
    assert.equal(frame.readUInt16BE(0), 0x8003);
    assert.equal(frame.readUInt16BE(2), CONTROL.synStream);
    assert.equal(frame[4], FLAG_FIN);
    assert.equal(frame.readUInt32BE(4) & 0xffffff, frame.length - 8);
    assert.equal(frame.readUInt32BE(8), 3);
    assert.equal(frame.readUInt32BE(12), 0, 'no associated stream');
    assert.equal(frame.readUInt16BE(16), 0, 'priority 0, slot 0');
  });

  it('header blocks continue one zlib stream over the connection, with lowercase names', () => {
    const writer = new SynStreamWriter();
    const first = writer.frame(1, { streamtype: 'error', port: '80', requestid: '0' }).subarray(18);
    const second = writer.frame(3, { streamType: 'data', port: '80', requestID: '0' }).subarray(18);
    assert.deepEqual(first.subarray(0, 2), Buffer.from([0x78, 0x01]), 'zlib header without a preset dictionary');
    assert.equal(first.readUInt16BE(0) % 31, 0, 'zlib header check bits');
    // Go's flate reader returns a block's bytes only once it has read the next block's header;
    // without this sync-flush marker in the same frame, the kubelet fails the next SYN_STREAM.
    for (const block of [first, second]) assert.deepEqual(block.subarray(-5), Buffer.from([0, 0, 0, 0xff, 0xff]));
    const one = inflateBlocks(first);
    assert.deepEqual(readHeaderBlock(one), { streamtype: 'error', port: '80', requestid: '0' });
    const both = inflateBlocks(first, second);
    assert.deepEqual(readHeaderBlock(both.subarray(one.length)), { streamtype: 'data', port: '80', requestid: '0' });
  });

  it('DATA, RST_STREAM and PING read back through the parser, split anywhere across chunks', () => {
    const payload = Buffer.alloc(70_000, 9);
    const stream = Buffer.concat([
      dataFrameHeader(5, payload.length),
      payload,
      dataFrameHeader(5, 0, true),
      rstStreamFrame(7, RST_STATUS.cancel),
      pingFrame(2),
    ]);
    for (const step of [1, 7, 4096, stream.length]) {
      const parser = new SpdyParser();
      const frames = [];
      for (let i = 0; i < stream.length; i += step) frames.push(...parser.push(stream.subarray(i, i + step)));
      assert.equal(frames.length, 4, `chunks of ${step}`);
      const [data, fin, rst, ping] = frames;
      assert.deepEqual(data, { kind: 'data', streamId: 5, fin: false, data: payload });
      assert.deepEqual(fin, { kind: 'data', streamId: 5, fin: true, data: Buffer.alloc(0) });
      assert.ok(rst?.kind === 'control' && rst.type === CONTROL.rstStream);
      assert.equal(controlStreamId(rst.payload), 7);
      assert.equal(controlWord(rst.payload, 1), RST_STATUS.cancel);
      assert.ok(ping?.kind === 'control' && ping.type === CONTROL.ping);
      assert.equal(controlWord(ping.payload, 0), 2);
    }
  });

  it('refuses a frame of another SPDY version', () => {
    const v2 = pingFrame(1);
    v2.writeUInt16BE(0x8002, 0);
    assert.throws(() => new SpdyParser().push(v2), /SPDY version 2 is not supported/);
  });

  it('a session asks for the pod alone (no ports in its URL): each stream names its own port', () => {
    const path = portForwardPath({ namespace: 'portforward-helpers', pod: 'pf-a-b' });
    assert.equal(path, '/api/v1/namespaces/portforward-helpers/pods/pf-a-b/portforward');
    const frame = new SynStreamWriter().frame(1, { streamType: 'data', port: '10080', requestID: '0' }, false);
    assert.equal(readHeaderBlock(inflateBlocks(frame.subarray(18))).port, '10080', 'the port travels in the stream');
  });
});
