// One UDP port of `connect`: a local UDP socket on each listen address, carried over the
// PortForward's UDP tunnel (one TunnelSession per current helper pod). Each local sender (its
// address and port, on one local socket) gets a datagram id of its own, so the helper's replies
// go back to it; datagram boundaries are kept end to end. While no session is open, datagrams are
// dropped, as a network would, and counted in a warning.
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import type { Output } from './connect.js';
import type { PodRef } from './pod-port.js';
import { hostPort, type ListenAddress } from './ports.js';
import { openWhenReady, sameHelper, type TunnelState } from './tunnel-state.js';
import type { TunnelSession } from './tunnel-session.js';

/** A sender quiet this long is forgotten (as the gateway forgets its socket towards the helper). */
export const UDP_IDLE_MS = 120_000;
/** At most one warning about dropped datagrams this often. */
export const DROP_WARNING_EVERY_MS = 5000;
/** After a failed open, traffic tries again no sooner than this (not once per datagram). */
const RETRY_GAP_MS = 2000;
/** A replaced session stays open this long for replies already on their way. */
const REPLACED_LINGER_MS = 2000;

interface Sender {
  id: number;
  socket: UdpSocket;
  address: string;
  port: number;
  lastUsed: number;
}

/** Datagram ids for local senders, both ways. */
class UdpSenders {
  private readonly byKey = new Map<string, Sender>();
  private readonly byId = new Map<number, Sender>();
  private readonly socketIndex = new Map<UdpSocket, number>();
  private nextId = 1;

  take(socket: UdpSocket, from: RemoteInfo): Sender {
    let index = this.socketIndex.get(socket);
    if (index === undefined) this.socketIndex.set(socket, (index = this.socketIndex.size));
    const key = `${index}|${from.address}|${from.port}`;
    let sender = this.byKey.get(key);
    if (!sender) {
      sender = { id: this.nextId++, socket, address: from.address, port: from.port, lastUsed: 0 };
      this.byKey.set(key, sender);
      this.byId.set(sender.id, sender);
    }
    sender.lastUsed = Date.now();
    return sender;
  }

  get(id: number): Sender | undefined {
    return this.byId.get(id);
  }

  forgetIdle(): void {
    const cutoff = Date.now() - UDP_IDLE_MS;
    for (const [key, s] of this.byKey) {
      if (s.lastUsed >= cutoff) continue;
      this.byKey.delete(key);
      this.byId.delete(s.id);
    }
  }
}

export interface UdpForwardOptions {
  /** The PortForward's UDP port. */
  remote: number;
  state: TunnelState;
  readyTimeoutMs: number;
  /** Opens the UDP tunnel through this helper. */
  open: (helper: PodRef) => Promise<TunnelSession>;
  retryAfterUpdate: (err: unknown) => boolean;
  io: Output;
}

export class UdpForward {
  private readonly sockets: UdpSocket[] = [];
  private readonly senders = new UdpSenders();
  private readonly sweep: NodeJS.Timeout;
  private session: TunnelSession | undefined;
  private opening = false;
  private lastFailure = 0;
  private dropped = 0;
  private lastWarning = 0;
  private warning: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The local port, for messages (the same on every address). */
  private localPort = 0;

  constructor(private readonly o: UdpForwardOptions) {
    this.sweep = setInterval(() => this.senders.forgetIdle(), UDP_IDLE_MS / 4).unref();
  }

  private get label(): string {
    return `${this.localPort} -> ${this.o.remote}/udp`;
  }

  /** Binds a local UDP socket; resolves with its port. */
  bind(address: ListenAddress, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6 });
      socket.once('error', (err) => {
        socket.close();
        reject(err);
      });
      socket.bind({ address: address.host, port, exclusive: true }, () => {
        socket.removeAllListeners('error');
        const bound = socket.address().port;
        this.localPort ||= bound;
        socket.on('error', (e) => this.o.io.err(`listener ${hostPort(address.host, bound)}/udp: ${e.message}`));
        socket.on('message', (m, from) => this.receive(socket, m, from));
        this.sockets.push(socket);
        resolve(bound);
      });
    });
  }

  /** The PortForward changed: a new ready helper gets a session at once, so the next datagram need not wait. */
  follow(): void {
    const now = this.o.state.current;
    if (this.stopped || !now.ready || !now.helper) return;
    const s = this.session;
    if (s?.usable && sameHelper(s.helper, now.helper)) return;
    this.ensureSession();
  }

  close(): void {
    this.stopped = true;
    clearInterval(this.sweep);
    clearTimeout(this.warning);
    for (const s of this.sockets) s.close();
    this.session?.close();
  }

  private receive(socket: UdpSocket, message: Buffer, from: RemoteInfo): void {
    if (this.stopped) return;
    const sender = this.senders.take(socket, from);
    const s = this.session;
    if (s?.usable && sameHelper(s.helper, this.o.state.current.helper)) {
      if (!s.datagram(sender.id, message)) this.drop();
      return;
    }
    this.drop();
    this.ensureSession();
  }

  private reply(id: number, payload: Buffer): void {
    const sender = this.senders.get(id);
    if (!sender || this.stopped) return;
    sender.lastUsed = Date.now();
    sender.socket.send(payload, sender.port, sender.address, () => undefined); // a send error: UDP has no one to tell
  }

  private ensureSession(): void {
    if (this.opening || this.stopped || Date.now() - this.lastFailure < RETRY_GAP_MS) return;
    this.opening = true;
    const { state, remote } = this.o;
    openWhenReady(state, this.o.readyTimeoutMs, {
      open: this.o.open,
      refuse: (now) => (now.udpPorts?.includes(remote) ? undefined : `PortForward ${now.ref} no longer has UDP port ${remote}`),
      retryAfterUpdate: this.o.retryAfterUpdate,
      describe: (err) => (err instanceof Error ? err.message : String(err)),
      abandoned: () => this.stopped,
    })
      .then(
        (session) => {
          if (!session) return;
          if (this.stopped) return session.close();
          this.adopt(session);
        },
        (err: unknown) => {
          this.lastFailure = Date.now();
          this.o.io.err(`an error occurred forwarding ${this.label}: ${err instanceof Error ? err.message : String(err)}`);
        },
      )
      .finally(() => {
        this.opening = false;
        this.follow(); // the helper may have changed while this one opened
      });
  }

  private adopt(session: TunnelSession): void {
    const old = this.session;
    this.session = session;
    session.onDatagram((id, payload) => this.reply(id, payload));
    if (old) setTimeout(() => old.close(), REPLACED_LINGER_MS).unref();
  }

  private drop(): void {
    this.dropped++;
    if (this.warning) return;
    const wait = Math.max(0, this.lastWarning + DROP_WARNING_EVERY_MS - Date.now());
    this.warning = setTimeout(() => {
      this.warning = undefined;
      this.lastWarning = Date.now();
      const n = this.dropped;
      this.dropped = 0;
      this.o.io.err(`warning: dropped ${n} UDP datagram${n === 1 ? '' : 's'} for ${this.label}: no tunnel open yet (or its send buffer was full)`);
    }, wait).unref();
  }
}
