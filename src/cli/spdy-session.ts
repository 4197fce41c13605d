// One port-forward session with a pod, shared by every local connection, as `kubectl port-forward`
// does it: one WebSocket to the API server (pods/portforward, sub-protocol
// SPDY/3.1+portforward.k8s.io), and per local connection a pair of SPDY streams to the kubelet, an
// error stream and a data stream tied by a requestID header. A new connection then costs one round
// trip to the kubelet instead of a TLS handshake, an upgrade and a kubelet dial of its own.
import type { Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { closeGently, portForwardPath, type PodRef } from './pod-port.js';
import { CONTROL, FLAG_FIN, RST_STATUS, SpdyParser, SynStreamWriter, controlStreamId, controlWord, dataFrameHeader, pingFrame, rstStreamFrame } from './spdy.js';
import { connectWebSocket, HandshakeError, type WebSocketConnection } from './websocket.js';

export const SPDY_TUNNEL_PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
/** kubectl waits as long for the kubelet to accept a stream. */
export const STREAM_REPLY_TIMEOUT_MS = 30_000;
/** Keeps idle sessions alive through proxies and load balancers in front of the API server. */
const PING_INTERVAL_MS = 10_000; // kubectl's period

/** The API server answered, but does not tunnel SPDY (before Kubernetes 1.31, or the feature is off). */
export class TunnelUnsupportedError extends Error {
  override readonly name = 'TunnelUnsupportedError';
}

type StreamEvent = { type: 'reply' } | { type: 'data'; data: Buffer; fin: boolean } | { type: 'reset' } | { type: 'closed'; error?: Error };

export class PortForwardSession {
  private readonly parser = new SpdyParser();
  private readonly synStreams = new SynStreamWriter();
  private readonly streams = new Map<number, (event: StreamEvent) => void>();
  /** Local sockets paused until the WebSocket's send buffer drains. */
  private readonly waitingForDrain = new Set<Socket>();
  /** Streams whose local socket is full: the whole session stops reading until none is. */
  private readonly holding = new Set<number>();
  private nextStreamId = 1;
  private nextRequestId = 0;
  private nextPingId = 1;
  private closed = false;
  private goingAway = false;
  private retiring = false;
  private readonly pinger: NodeJS.Timeout;

  /** Opens the session; rejects with HandshakeError, or TunnelUnsupportedError for older API servers. */
  static async open(kc: KubeConfig, pod: PodRef): Promise<PortForwardSession> {
    let ws: WebSocketConnection;
    try {
      ws = await connectWebSocket(kc, portForwardPath(pod), { protocols: [SPDY_TUNNEL_PROTOCOL], timeoutMs: 30_000 });
    } catch (err) {
      // An API server without the tunnel hands the upgrade to the kubelet, which refuses the protocol.
      if (err instanceof HandshakeError && err.status === 400) throw new TunnelUnsupportedError(err.message);
      throw err;
    }
    if (ws.protocol !== SPDY_TUNNEL_PROTOCOL) {
      ws.destroy();
      throw new TunnelUnsupportedError(`the API server chose sub-protocol "${ws.protocol}"`);
    }
    return new PortForwardSession(ws);
  }

  private constructor(private readonly ws: WebSocketConnection) {
    ws.start({
      message: (m) => this.receive(m),
      drain: () => this.resumeWaiting(),
      close: (error) => this.finish(error),
    });
    this.pinger = setInterval(() => this.write(pingFrame(this.takePingId())), PING_INTERVAL_MS).unref();
  }

  /** False once the session broke, was closed or retired, or the kubelet said it takes no new streams. */
  get usable(): boolean {
    return !this.closed && !this.goingAway && !this.retiring;
  }

  /** Takes no new connections, and closes when the ones it carries are over. */
  retire(): void {
    this.retiring = true;
    if (this.streams.size === 0) this.close();
  }

  close(): void {
    this.ws.close();
  }

  /**
   * Carries one local connection to `port` of the pod until it is over, with backpressure both
   * ways and true half-close. Rejects with one line when it broke: the kubelet's error text (e.g.
   * connection refused inside the pod), a reset, or a lost session. The local socket must have
   * been created paused (pauseOnConnect) or not read yet.
   */
  forward(port: number, local: Socket): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.usable) {
        reject(new Error('the port-forward session is closed'));
        return;
      }
      const errorId = this.takeStreamId();
      const dataId = this.takeStreamId();
      const requestId = String(this.nextRequestId++);
      let errorText = '';
      let localEnded = false;
      let remoteEnded = false;
      let localClosed = false;
      let done = false;

      const finish = (problem?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(replyTimer);
        this.streams.delete(errorId);
        this.streams.delete(dataId);
        this.release(dataId);
        this.waitingForDrain.delete(local);
        if (!(localEnded && remoteEnded)) {
          this.write(rstStreamFrame(dataId, RST_STATUS.cancel));
          this.write(rstStreamFrame(errorId, RST_STATUS.cancel));
        }
        closeGently(local);
        const line = (errorText.trim() || problem)?.replace(/\s+/g, ' ');
        // A retired session closes with its last connection; and when the kubelet failed this one
        // (say, the pod is gone), new connections get a fresh session.
        if (this.retiring || errorText) this.retire();
        if (line && !localClosed) reject(new Error(line));
        else resolve();
      };
      const replyTimer = setTimeout(() => {
        finish(`no answer from the kubelet within ${STREAM_REPLY_TIMEOUT_MS / 1000}s`);
        this.ws.destroy(); // a session that stopped answering is not used again
      }, STREAM_REPLY_TIMEOUT_MS);

      this.streams.set(errorId, (event) => {
        if (event.type === 'data') errorText += event.data.toString('utf8');
        else if (event.type === 'closed') finish(event.error?.message ?? 'the port-forward session ended');
      });
      this.streams.set(dataId, (event) => {
        switch (event.type) {
          case 'reply':
            // The kubelet drops data sent before its reply, so the local side is read only now.
            clearTimeout(replyTimer);
            local.resume();
            break;
          case 'data':
            if (event.data.length && !local.destroyed && !local.write(event.data)) this.hold(dataId);
            if (event.fin) {
              remoteEnded = true;
              if (localEnded) finish();
              else local.end();
            }
            break;
          case 'reset':
            finish(remoteEnded ? undefined : 'the kubelet reset the connection');
            break;
          case 'closed':
            finish(event.error?.message ?? 'the port-forward session ended');
        }
      });

      local.on('data', (chunk: Buffer) => {
        if (done) return;
        if (!this.write(dataFrameHeader(dataId, chunk.length), chunk)) {
          local.pause();
          this.waitingForDrain.add(local);
        }
      });
      local.on('drain', () => this.release(dataId));
      local.on('end', () => {
        if (done) return;
        localEnded = true;
        this.write(dataFrameHeader(dataId, 0, true));
        if (remoteEnded) finish();
      });
      local.on('error', () => undefined);
      local.on('close', () => {
        localClosed = true;
        finish();
      });

      // Error stream first, as kubectl does; we never write to it, so it is half-closed at once.
      const headers = { port: String(port), requestid: requestId };
      this.write(this.synStreams.frame(errorId, { streamtype: 'error', ...headers }, true));
      this.write(this.synStreams.frame(dataId, { streamtype: 'data', ...headers }));
    });
  }

  private takeStreamId(): number {
    const id = this.nextStreamId;
    this.nextStreamId += 2; // client streams are odd
    return id;
  }

  private takePingId(): number {
    const id = this.nextPingId;
    this.nextPingId = (this.nextPingId + 2) % 0x7fffffff;
    return id;
  }

  private write(...parts: Buffer[]): boolean {
    return this.closed ? true : this.ws.send(...parts);
  }

  private resumeWaiting(): void {
    for (const local of this.waitingForDrain) local.resume();
    this.waitingForDrain.clear();
  }

  private hold(streamId: number): void {
    if (this.holding.size === 0) this.ws.pause();
    this.holding.add(streamId);
  }

  private release(streamId: number): void {
    if (this.holding.delete(streamId) && this.holding.size === 0) this.ws.resume();
  }

  private receive(message: Buffer): void {
    let frames;
    try {
      frames = this.parser.push(message);
    } catch (err) {
      this.ws.destroy();
      this.finish(err as Error);
      return;
    }
    for (const frame of frames) {
      if (frame.kind === 'data') {
        this.streams.get(frame.streamId)?.({ type: 'data', data: frame.data, fin: frame.fin });
        continue;
      }
      switch (frame.type) {
        case CONTROL.synReply: {
          const stream = this.streams.get(controlStreamId(frame.payload));
          stream?.({ type: 'reply' });
          if (frame.flags & FLAG_FIN) stream?.({ type: 'data', data: Buffer.alloc(0), fin: true });
          break;
        }
        case CONTROL.rstStream:
          this.streams.get(controlStreamId(frame.payload))?.({ type: 'reset' });
          break;
        case CONTROL.ping: {
          // Answer the kubelet's pings (even ids); ours (odd) need nothing.
          const id = controlWord(frame.payload, 0);
          if (id % 2 === 0) this.write(pingFrame(id));
          break;
        }
        case CONTROL.goAway:
          this.goingAway = true;
          break;
        default:
        // SETTINGS, HEADERS and WINDOW_UPDATE mean nothing to port forwarding.
      }
    }
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pinger);
    this.resumeWaiting();
    for (const handler of [...this.streams.values()]) handler({ type: 'closed', error });
  }
}
