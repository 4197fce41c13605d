// SPDY/3.1 framing: the part of it that `kubectl port-forward` speaks with the kubelet, many
// connections multiplexed as streams over one API server connection. Since Kubernetes 1.31 the API
// server carries it inside a WebSocket (sub-protocol SPDY/3.1+portforward.k8s.io), which is how
// this plugin reaches it. The kubelet's side is github.com/moby/spdystream, which has no flow control:
// backpressure is TCP's, as for kubectl.
//
// Header blocks must be zlib streams (one per connection and direction). Ours are written as stored
// (uncompressed) deflate blocks without a preset dictionary, which every zlib reader accepts, so no
// compressor state is kept; the server's header blocks are never needed (replies carry nothing for
// port forwarding) and are skipped unread.
import { ByteQueue } from './byte-queue.js';

export const SPDY_VERSION = 3;
export const CONTROL = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9 } as const;
export const FLAG_FIN = 0x01;
/** RST_STREAM status codes (SPDY/3.1 section 2.6.3). */
export const RST_STATUS = { protocolError: 1, invalidStream: 2, refusedStream: 3, cancel: 5, internalError: 6 } as const;

const MAX_LENGTH = 0xffffff;
const CONTROL_HEADER = 8;
/** CMF 0x78 (deflate, 32K window), FLG 0x01: no preset dictionary, header checksum ok. */
const ZLIB_HEADER = Buffer.from([0x78, 0x01]);
/** An empty stored block. */
const SYNC_FLUSH = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);

export type SpdyFrame =
  | { kind: 'data'; streamId: number; fin: boolean; data: Buffer }
  | { kind: 'control'; type: number; flags: number; payload: Buffer };

function controlFrame(type: number, flags: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(CONTROL_HEADER + payload.length);
  frame.writeUInt16BE(0x8000 | SPDY_VERSION, 0);
  frame.writeUInt16BE(type, 2);
  frame.writeUInt32BE((((flags & 0xff) << 24) | payload.length) >>> 0, 4);
  payload.copy(frame, CONTROL_HEADER);
  return frame;
}

/** The 8 bytes before a DATA frame's data (sent as separate parts, so the data is not copied twice). */
export function dataFrameHeader(streamId: number, length: number, fin = false): Buffer {
  if (length > MAX_LENGTH) throw new RangeError('SPDY data frame too large');
  const header = Buffer.allocUnsafe(8);
  header.writeUInt32BE(streamId & 0x7fffffff, 0);
  header.writeUInt32BE(((fin ? FLAG_FIN : 0) << 24) | length, 4);
  return header;
}

export function rstStreamFrame(streamId: number, status: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(streamId & 0x7fffffff, 0);
  payload.writeUInt32BE(status, 4);
  return controlFrame(CONTROL.rstStream, 0, payload);
}

export function pingFrame(id: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(id >>> 0, 0);
  return controlFrame(CONTROL.ping, 0, payload);
}

/**
 * Writes SYN_STREAM frames. Their header blocks continue one zlib stream for the whole connection:
 * the zlib header (no dictionary) opens the first one, and each block is a non-final stored block.
 */
export class SynStreamWriter {
  private started = false;

  frame(streamId: number, headers: Readonly<Record<string, string>>, fin = false): Buffer {
    const pairs = Object.entries(headers);
    const parts: Buffer[] = [u32(pairs.length)];
    for (const [name, value] of pairs) {
      // SPDY requires lowercase names; the kubelet reads them case-insensitively.
      const n = Buffer.from(name.toLowerCase(), 'utf8');
      const v = Buffer.from(value, 'utf8');
      parts.push(u32(n.length), n, u32(v.length), v);
    }
    const block = storedBlock(Buffer.concat(parts), !this.started);
    this.started = true;
    const fixed = Buffer.alloc(10); // stream id, associated stream id 0, priority 0, slot 0
    fixed.writeUInt32BE(streamId & 0x7fffffff, 0);
    return controlFrame(CONTROL.synStream, fin ? FLAG_FIN : 0, Buffer.concat([fixed, block]));
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/**
 * The header block as deflate data (RFC 1951): one stored block, then an empty one. The empty
 * block is what a sync flush writes: Go's reader hands out a stored block's bytes only when it
 * reads the next block header, and that header must be in this frame, not the next one.
 */
function storedBlock(data: Buffer, first: boolean): Buffer {
  if (data.length > 0xffff) throw new RangeError('SPDY header block too large');
  const head = Buffer.allocUnsafe(5);
  head[0] = 0x00; // BFINAL 0, BTYPE 00 (stored), padded to the byte
  head.writeUInt16LE(data.length, 1);
  head.writeUInt16LE(~data.length & 0xffff, 3);
  return Buffer.concat([first ? ZLIB_HEADER : Buffer.alloc(0), head, data, SYNC_FLUSH]);
}

/** Splits a byte stream into SPDY frames. */
export class SpdyParser {
  private readonly bytes = new ByteQueue();

  push(chunk: Buffer): SpdyFrame[] {
    this.bytes.push(chunk);
    const frames: SpdyFrame[] = [];
    for (;;) {
      const head = this.bytes.peek(8);
      if (!head) break;
      const length = head.readUInt32BE(4) & MAX_LENGTH;
      if (this.bytes.length < 8 + length) break;
      const flags = head[4] as number;
      const first = head.readUInt32BE(0);
      this.bytes.take(8);
      const payload = this.bytes.take(length); // socket chunks are never reused: no copy needed
      if (first & 0x80000000) {
        const version = (first >>> 16) & 0x7fff;
        if (version !== SPDY_VERSION) throw new Error(`SPDY version ${version} is not supported`);
        frames.push({ kind: 'control', type: first & 0xffff, flags, payload });
      } else {
        frames.push({ kind: 'data', streamId: first & 0x7fffffff, fin: (flags & FLAG_FIN) !== 0, data: payload });
      }
    }
    return frames;
  }
}

/** The stream a SYN_REPLY, RST_STREAM or HEADERS frame is about. */
export function controlStreamId(payload: Buffer): number {
  return payload.length >= 4 ? payload.readUInt32BE(0) & 0x7fffffff : 0;
}

/** The 32-bit word at `index` of a control frame's payload: RST_STREAM's status is word 1, PING's id word 0. */
export function controlWord(payload: Buffer, index: number): number {
  return payload.length >= 4 * (index + 1) ? payload.readUInt32BE(4 * index) : 0;
}
