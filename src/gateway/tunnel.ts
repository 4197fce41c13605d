// One open tunnel: a WebSocket from a client, carried to the helper pod directly (no kubelet, no
// SPDY). TCP: each stream the client opens becomes a connection to the helper. UDP: each client
// sender gets a socket of its own towards the helper, so replies come back to the right sender.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv6 } from 'node:net';
import type { WebSocket } from 'ws';
import { StreamMux } from '../tunnel/mux.js';
import { WebSocketChannel } from '../tunnel/ws-channel.js';
import type { TunnelProtocol } from '../tunnel/protocol.js';
import type { Endpoint } from './resolve.js';

/** A UDP sender quiet this long is forgotten (its socket closed). */
export const UDP_IDLE_MS = 120_000;
const PING_EVERY_MS = 30_000;

export interface TunnelOptions {
  endpoint: Endpoint;
  protocol: TunnelProtocol;
  maxStreams: number;
  /** Called once when the tunnel is over. */
  onClose: (why: string) => void;
}

export function serveTunnel(ws: WebSocket, o: TunnelOptions): void {
  const channel = new WebSocketChannel(ws, () => mux.drained());
  const udp = o.protocol === 'udp' ? new UdpSessions(o.endpoint, o.maxStreams, (id, m) => mux.datagram(id, m)) : undefined;
  const mux: StreamMux = new StreamMux(channel.send, {
    open: (id) => {
      if (udp) return mux.reset(id, 'this tunnel carries UDP datagrams, not connections');
      if (mux.openStreams >= o.maxStreams) {
        return mux.reset(id, `this tunnel already carries ${o.maxStreams} connections (the gateway's MAX_STREAMS_PER_TUNNEL); close some first`);
      }
      const socket = connect({ host: o.endpoint.host, port: o.endpoint.port, allowHalfOpen: true, noDelay: true });
      mux.attach(id, socket).catch(() => undefined);
    },
    datagram: (id, payload) => udp?.send(id, payload),
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) mux.receive(data);
  });
  const ping = setInterval(() => ws.ping(), PING_EVERY_MS);
  let closed = false;
  const finish = (why: string): void => {
    if (closed) return;
    closed = true;
    clearInterval(ping);
    mux.closeAll(why);
    udp?.closeAll();
    o.onClose(why);
  };
  ws.on('close', (code: number, reason: Buffer) => finish(`closed by the client (${code}${reason.length ? ` ${reason.toString()}` : ''})`));
  ws.on('error', (err) => finish(err.message));
}

interface UdpSession {
  socket: UdpSocket;
  lastUsed: number;
}

/** A socket per client sender, least recently used evicted when full, idle ones swept. */
class UdpSessions {
  private readonly sessions = new Map<number, UdpSession>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly max: number,
    private readonly reply: (id: number, message: Buffer) => void,
  ) {
    this.sweep = setInterval(() => this.forgetIdle(), UDP_IDLE_MS / 4);
    this.sweep.unref();
  }

  send(id: number, payload: Buffer): void {
    const s = this.session(id);
    s.lastUsed = Date.now();
    s.socket.send(payload, this.endpoint.port, this.endpoint.host);
  }

  closeAll(): void {
    clearInterval(this.sweep);
    for (const s of this.sessions.values()) s.socket.close();
    this.sessions.clear();
  }

  private session(id: number): UdpSession {
    const existing = this.sessions.get(id);
    if (existing) {
      // Map order is use order: move it to the end.
      this.sessions.delete(id);
      this.sessions.set(id, existing);
      return existing;
    }
    if (this.sessions.size >= this.max) {
      const [oldest, s] = this.sessions.entries().next().value as [number, UdpSession];
      s.socket.close();
      this.sessions.delete(oldest);
    }
    const socket = createSocket(isIPv6(this.endpoint.host) ? 'udp6' : 'udp4');
    socket.on('message', (m, from) => {
      if (from.address !== this.endpoint.host || from.port !== this.endpoint.port) return; // only the helper answers
      const s = this.sessions.get(id);
      if (s) s.lastUsed = Date.now();
      this.reply(id, m);
    });
    socket.on('error', () => undefined); // e.g. ICMP port unreachable: UDP has no one to tell
    const s = { socket, lastUsed: Date.now() };
    this.sessions.set(id, s);
    return s;
  }

  private forgetIdle(): void {
    const cutoff = Date.now() - UDP_IDLE_MS;
    for (const [id, s] of this.sessions) {
      if (s.lastUsed >= cutoff) continue;
      s.socket.close();
      this.sessions.delete(id);
    }
  }
}
