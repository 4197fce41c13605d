// A tunnel WebSocket as the StreamMux's channel: sends one binary message per frame and says when
// too much is waiting to be written out, so the mux stops reading its sockets until it has drained.
// Without it a tunnel whose far side is slower queues up to every stream's window in this process,
// where the buffers live long enough to reach the old generation and keep the GC marking.
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { corkForThisTurn } from '../util/cork.js';

/** Above this many bytes not yet written to the socket the channel is full... */
export const CHANNEL_HIGH_WATER = 1 << 20;
/** ...and it takes frames again once they are down to this. */
export const CHANNEL_LOW_WATER = 256 * 1024;

export class WebSocketChannel {
  private unwritten = 0;
  private full = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly drained: () => void,
  ) {}

  /** False: full, read nothing more until `drained` is called. Frames for a closed socket are dropped. */
  readonly send = (message: Buffer): boolean => {
    if (this.ws.readyState !== WebSocket.OPEN) return true;
    // The frames of one turn leave in one TLS write, and the API server wakes once for them.
    const socket = socketOf(this.ws);
    if (socket) corkForThisTurn(socket);
    this.unwritten += message.length;
    this.ws.send(message, () => this.written(message.length));
    if (this.unwritten >= CHANNEL_HIGH_WATER) this.full = true;
    return !this.full;
  };

  private written(bytes: number): void {
    this.unwritten -= bytes;
    if (this.full && this.unwritten <= CHANNEL_LOW_WATER) {
      this.full = false;
      this.drained();
    }
  }
}

/** The socket a WebSocket runs on: ws keeps it in `_socket`, which its typings leave out. */
function socketOf(ws: WebSocket): Duplex | undefined {
  return (ws as unknown as { _socket?: Duplex })._socket;
}
