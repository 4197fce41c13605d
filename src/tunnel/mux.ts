// Many TCP connections over one message channel (the tunnel's WebSocket), with a credit window per
// stream and direction (see protocol.ts). The same class runs on both ends: the plugin opens a stream
// for each local connection, the gateway attaches each opened stream to a connection to the helper.
import type { Socket } from 'node:net';
import {
  decodeFrame,
  encodeCredit,
  encodeFrame,
  FRAME,
  INITIAL_STREAM_WINDOW,
  MAX_DATA_BYTES,
  MAX_STREAM_WINDOW,
  TUNNEL_WINDOW_GROWTH,
  type FrameType,
} from './protocol.js';
import { corkForThisTurn } from '../util/cork.js';

/**
 * Where frames go: one binary message each (the WebSocket's send). It returns false when the
 * channel holds too much unsent: the streams stop reading their sockets until drained() is called,
 * so a busy tunnel's backlog stays in the kernel's socket buffers, not in this process's memory.
 */
export type SendMessage = (message: Buffer) => boolean | void;

export interface MuxEvents {
  /** The peer opened stream `id`: attach a socket to it, or reset it. (Gateway side.) */
  open?(id: number): void;
  /** A UDP datagram for local sender `id`. */
  datagram?(id: number, payload: Buffer): void;
}

interface Stream {
  socket: Socket;
  /** Bytes this side may still send before the peer returns credit. */
  credit: number;
  /** Read from the socket while out of credit; the socket is paused meanwhile. */
  held: Buffer[];
  /** Bytes written out to the socket and not yet credited back to the peer. */
  owed: number;
  /** The peer's window on this stream: how much it may have in flight towards us. */
  window: number;
  creditQueued: boolean;
  socketEnded: boolean;
  sentEnd: boolean;
  gotEnd: boolean;
  /** The peer's reason, when it reset the stream. */
  resetBy?: string;
  settle: (err?: Error) => void;
}

export class StreamMux {
  private readonly streams = new Map<number, Stream>();
  private nextId = 1;
  /** Window granted beyond the initial one, over all streams: bounded by TUNNEL_WINDOW_GROWTH. */
  private grown = 0;
  /** The channel said it is full: no stream reads until drained(). */
  private channelFull = false;

  constructor(
    private readonly send: SendMessage,
    private readonly events: MuxEvents = {},
  ) {}

  get openStreams(): number {
    return this.streams.size;
  }

  /** Feeds one message received from the peer. Unknown frames and streams are ignored. */
  receive(message: Buffer): void {
    const frame = decodeFrame(message);
    if (!frame) return;
    if (frame.type === FRAME.datagram) {
      this.events.datagram?.(frame.id, frame.payload);
      return;
    }
    if (frame.type === FRAME.open) {
      if (!this.streams.has(frame.id)) this.events.open?.(frame.id);
      return;
    }
    const s = this.streams.get(frame.id);
    if (!s) return;
    switch (frame.type) {
      case FRAME.data:
        this.deliver(frame.id, s, frame.payload);
        break;
      case FRAME.credit:
        if (frame.payload.length >= 4) this.credited(frame.id, s, frame.payload.readUInt32BE(0));
        break;
      case FRAME.end:
        s.gotEnd = true;
        s.socket.end();
        break;
      case FRAME.reset:
        s.resetBy = frame.payload.toString('utf8') || 'reset by the other side';
        s.socket.destroy();
        break;
    }
  }

  /**
   * Opens a new stream for a local connection (which should be paused or not yet read) and carries
   * it. Resolves when the connection is over; rejects with the peer's reason when it was reset.
   */
  open(socket: Socket): Promise<void> {
    const id = this.nextId++;
    this.frame(FRAME.open, id);
    return this.attach(id, socket);
  }

  /** Carries stream `id` (opened by the peer, or by open()) over `socket`. */
  attach(id: number, socket: Socket): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const s: Stream = {
        socket,
        credit: INITIAL_STREAM_WINDOW,
        held: [],
        owed: 0,
        window: INITIAL_STREAM_WINDOW,
        creditQueued: false,
        socketEnded: false,
        sentEnd: false,
        gotEnd: false,
        settle: (err) => (err ? reject(err) : resolve()),
      };
      this.streams.set(id, s);
      let failure: Error | undefined;
      socket.on('data', (chunk: Buffer) => this.forward(id, s, chunk));
      socket.on('end', () => {
        s.socketEnded = true;
        this.endIfDrained(id, s);
      });
      socket.on('error', (err) => {
        failure = err;
      });
      socket.on('close', () => this.closed(id, s, failure));
      if (this.channelFull) socket.pause();
      else socket.resume();
    });
  }

  /** Ends stream `id` abruptly, telling the peer why. */
  reset(id: number, reason: string): void {
    const s = this.streams.get(id);
    this.frame(FRAME.reset, id, reason);
    if (!s) return;
    this.forget(id, s);
    s.socket.destroy();
    s.settle(new Error(reason));
  }

  datagram(id: number, payload: Buffer): void {
    this.frame(FRAME.datagram, id, payload);
  }

  /** The channel took what it held: streams that are not waiting for credit read again. */
  drained(): void {
    this.channelFull = false;
    for (const s of this.streams.values()) if (s.held.length === 0 && !s.socketEnded) s.socket.resume();
  }

  /** The channel is gone: every stream ends with `reason`. */
  closeAll(reason: string): void {
    for (const [id, s] of this.streams) {
      this.forget(id, s);
      s.socket.destroy();
      s.settle(new Error(reason));
    }
  }

  private frame(type: FrameType, id: number, payload?: Buffer | string): void {
    this.emit(encodeFrame(type, id, payload));
  }

  private emit(message: Buffer): void {
    if (this.send(message) === false) this.channelFull = true;
  }

  private forward(id: number, s: Stream, chunk: Buffer): void {
    for (let offset = 0; offset < chunk.length; offset += MAX_DATA_BYTES) {
      const piece = chunk.subarray(offset, offset + MAX_DATA_BYTES);
      if (s.held.length === 0 && s.credit >= piece.length) {
        s.credit -= piece.length;
        this.frame(FRAME.data, id, piece);
      } else {
        s.held.push(piece);
      }
    }
    if (s.held.length > 0 || this.channelFull) s.socket.pause();
  }

  private credited(id: number, s: Stream, bytes: number): void {
    s.credit += bytes;
    while (s.held.length > 0 && s.credit >= (s.held[0] as Buffer).length) {
      const piece = s.held.shift() as Buffer;
      s.credit -= piece.length;
      this.frame(FRAME.data, id, piece);
    }
    if (s.held.length === 0) {
      this.endIfDrained(id, s);
      if (!s.socketEnded && !this.channelFull) s.socket.resume();
    }
  }

  private endIfDrained(id: number, s: Stream): void {
    if (s.socketEnded && !s.sentEnd && s.held.length === 0 && this.streams.get(id) === s) {
      s.sentEnd = true;
      this.frame(FRAME.end, id);
    }
  }

  private deliver(id: number, s: Stream, payload: Buffer): void {
    if (s.gotEnd || s.socket.destroyed) return;
    const bytes = payload.length;
    // The DATA of one turn (the messages of one read from the channel) goes out in one write.
    corkForThisTurn(s.socket);
    s.socket.write(payload, (err) => {
      if (err || this.streams.get(id) !== s) return;
      s.owed += bytes;
      if (s.creditQueued) return;
      // One CREDIT for everything written out in this turn of the event loop.
      s.creditQueued = true;
      setImmediate(() => {
        s.creditQueued = false;
        if (this.streams.get(id) !== s || s.owed === 0) return;
        this.emit(encodeCredit(id, s.owed + this.growth(s)));
        s.owed = 0;
      });
    });
  }

  /**
   * How much to widen a stream's window as it returns credit: by what it consumed (so the window
   * doubles with each window's worth that flows), within the per-stream and per-tunnel bounds.
   */
  private growth(s: Stream): number {
    const grow = Math.min(s.owed, MAX_STREAM_WINDOW - s.window, TUNNEL_WINDOW_GROWTH - this.grown);
    if (grow <= 0) return 0;
    s.window += grow;
    this.grown += grow;
    return grow;
  }

  private forget(id: number, s: Stream): void {
    this.streams.delete(id);
    this.grown -= s.window - INITIAL_STREAM_WINDOW;
  }

  private closed(id: number, s: Stream, failure: Error | undefined): void {
    if (this.streams.get(id) !== s) return; // reset() or closeAll() settled it
    this.forget(id, s);
    if (s.resetBy !== undefined) {
      s.settle(new Error(s.resetBy));
      return;
    }
    if (failure || !(s.sentEnd && s.gotEnd)) {
      // The peer still holds its side open: tell it this one is gone.
      this.frame(FRAME.reset, id, failure?.message ?? 'connection closed');
    }
    // A local error is this side's problem to report; the peer hears only that the stream is over.
    s.settle(failure);
  }
}
