// One tunnel to one port of a PortForward: a WebSocket through the API server to the gateway
// (connect.portforward.io, sub-protocol v1.tunnel.portforward.io). TCP: every local connection
// is a stream of the one StreamMux. UDP: datagrams whose id names the local sender. The gateway
// picked the helper pod when the WebSocket opened, so a session serves one helper: callers retire
// it when the helper changes, and it closes once its last connection is over.
import type { Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { WebSocket } from 'ws';
import { StreamMux } from '../tunnel/mux.js';
import { WebSocketChannel } from '../tunnel/ws-channel.js';
import { tunnelPath, type TunnelProtocol } from '../tunnel/protocol.js';
import type { PodRef } from './pod-port.js';
import { openTunnelWebSocket } from './tunnel-websocket.js';

/** Keeps the WebSocket alive through idle timeouts, and finds a dead one: no answer by the next ping. */
export const PING_EVERY_MS = 30_000;
/** UDP may be dropped under congestion: datagrams are not queued beyond this many unsent bytes. */
const DATAGRAM_BUFFER_BYTES = 4 * 1024 * 1024;

export interface TunnelAddress {
  namespace: string;
  name: string;
  port: number;
  protocol: TunnelProtocol;
}

function closeReason(code: number, reason: Buffer): string {
  if (code === 1006) return 'the connection to the API server was lost';
  const text = reason.toString('utf8');
  return `the tunnel was closed (${code}${text ? ` ${text}` : ''})`;
}

export class TunnelSession {
  private readonly mux: StreamMux;
  private readonly pinger: NodeJS.Timeout;
  private answered = true;
  private retiring = false;
  private closedWhy: string | undefined;
  private datagramHandler: ((id: number, payload: Buffer) => void) | undefined;

  /** Opens the WebSocket; rejects with TunnelRefused (the server's status and message). */
  static async open(kc: KubeConfig, at: TunnelAddress, helper: PodRef): Promise<TunnelSession> {
    const ws = await openTunnelWebSocket(kc, tunnelPath(at.namespace, at.name, at.port, at.protocol));
    return new TunnelSession(ws, helper);
  }

  /** `helper`: the pod the PortForward named when this session was asked for. */
  constructor(
    private readonly ws: WebSocket,
    readonly helper: PodRef,
  ) {
    const channel = new WebSocketChannel(ws, () => this.mux.drained());
    this.mux = new StreamMux(channel.send, {
      open: (id) => this.mux.reset(id, 'the gateway cannot open streams'),
      datagram: (id, payload) => this.datagramHandler?.(id, payload),
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.answered = true;
      if (isBinary) this.mux.receive(data);
    });
    ws.on('pong', () => {
      this.answered = true;
    });
    ws.on('close', (code: number, reason: Buffer) => this.finish(closeReason(code, reason)));
    ws.on('error', (err: Error) => this.finish(err.message));
    this.pinger = setInterval(() => {
      if (!this.answered) return void ws.terminate();
      this.answered = false;
      ws.ping();
    }, PING_EVERY_MS).unref();
  }

  /** False once it broke, was closed or retired: new connections need a new session. */
  get usable(): boolean {
    return this.closedWhy === undefined && !this.retiring && this.ws.readyState === WebSocket.OPEN;
  }

  get openStreams(): number {
    return this.mux.openStreams;
  }

  /**
   * Carries one local TCP connection (created paused) until it is over. Rejects with one line when
   * the gateway reset it (its reason, e.g. the helper refused the connection) or the session broke;
   * a local client that went away abruptly is not an error of the forward.
   */
  async forward(local: Socket): Promise<void> {
    if (!this.usable) throw new Error(this.closedWhy ?? 'the tunnel session is closed');
    if (local.destroyed) return;
    let localError: Error | undefined;
    local.on('error', (err) => {
      localError = err;
    });
    try {
      await this.mux.open(local);
    } catch (err) {
      if (err !== localError) throw err;
    } finally {
      if (this.retiring && this.mux.openStreams === 0) this.close();
    }
  }

  /** Sends one datagram from local sender `id` (UDP sessions); false when it was dropped. */
  datagram(id: number, payload: Buffer): boolean {
    if (this.ws.bufferedAmount > DATAGRAM_BUFFER_BYTES) return false;
    this.mux.datagram(id, payload);
    return true;
  }

  /** Where replies go: `id` is the local sender the gateway answers. */
  onDatagram(handler: (id: number, payload: Buffer) => void): void {
    this.datagramHandler = handler;
  }

  /** Takes no new connections; closes when the ones it carries are over. */
  retire(): void {
    this.retiring = true;
    if (this.mux.openStreams === 0) this.close();
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000, 'done');
  }

  private finish(why: string): void {
    if (this.closedWhy !== undefined) return;
    this.closedWhy = why;
    clearInterval(this.pinger);
    this.mux.closeAll(why);
  }
}
