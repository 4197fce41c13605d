// A WebSocket to the API server's streaming endpoints, on the ws library.
//
// Why not client-node's PortForward class: it ignores backpressure in both directions, closes the
// whole stream when the local client half-closes, does not tell the caller when the remote side
// ends, and turns a refused upgrade into "Unexpected server response: 403" without the API server's
// message. Here the refused upgrade's body is read, each direction pauses the other when a buffer is
// full, and the caller decides what a close means.
import type { ClientRequest, IncomingMessage } from 'node:http';
import type https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import WebSocket, { type ClientOptions } from 'ws';

/** send() returns false once this much is waiting to be written; drain fires when it is below again. */
const HIGH_WATER_MARK = 64 * 1024;
/** How long a closing handshake may take before the socket is dropped. */
const CLOSE_TIMEOUT_MS = 2000;

/** The upgrade was refused or never happened; `status` is the HTTP status when there was one. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface WebSocketEvents {
  /** A whole binary (or text) message. */
  message?: (data: Buffer) => void;
  /** The connection is over, whoever ended it; called once. `error` is set when it broke. */
  close?: (error?: Error) => void;
  /** The send buffer has room again after send() returned false. */
  drain?: () => void;
}

export class WebSocketConnection {
  private events: WebSocketEvents = {};
  private started = false;
  private closing = false;
  private full = false;
  private error: Error | undefined;
  /** Set once ws has closed; delivered by start() when that came first. */
  private ended: { error?: Error } | undefined;

  constructor(
    private readonly ws: WebSocket,
    /** The negotiated sub-protocol, '' when the server chose none. */
    readonly protocol: string,
  ) {
    // Nothing is read until start(): no message can arrive before the caller listens.
    ws.pause();
    ws.on('message', (data: Buffer) => this.events.message?.(data));
    ws.on('error', (err) => (this.error ??= err));
    ws.on('close', (code: number) => {
      // 1006: the TCP connection ended without a closing handshake.
      const broke = code === 1006 && !this.closing ? new Error('connection to the API server closed unexpectedly') : undefined;
      this.ended = { error: this.error ?? broke };
      if (this.started) this.events.close?.(this.ended.error);
    });
  }

  /** Attaches the caller's handlers and starts reading. */
  start(events: WebSocketEvents): void {
    this.events = events;
    this.started = true;
    if (this.ended) events.close?.(this.ended.error);
    else this.ws.resume();
  }

  /** Sends one binary message made of `parts`; false means "buffer full, wait for drain". */
  send(...parts: Buffer[]): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return true;
    this.ws.send(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), { binary: true }, this.sent);
    if (this.ws.bufferedAmount < HIGH_WATER_MARK) return true;
    this.full = true;
    return false;
  }

  /** Stops reading from the server (backpressure towards it); resume() undoes it. */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  /** Starts the closing handshake; the socket is dropped if the server does not finish it. */
  close(code = 1000): void {
    this.closing = true;
    this.ws.close(code);
  }

  /** Ends the connection at once. */
  destroy(): void {
    this.ws.terminate();
  }

  // ws calls back once a message is handed to the socket (or failed): the moment to look for room.
  private readonly sent = (): void => {
    if (this.full && this.ws.bufferedAmount < HIGH_WATER_MARK) {
      this.full = false;
      this.events.drain?.();
    }
  };
}

function messageFromBody(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: string };
    if (parsed.message) return parsed.message;
  } catch {
    // not a Status object
  }
  const text = body.trim().replace(/\s+/g, ' ');
  return text ? `HTTP ${status}: ${text.slice(0, 300)}` : `the API server answered HTTP ${status}`;
}

/** Reads a refused upgrade's answer into a HandshakeError with the API server's own message. */
function refusal(res: IncomingMessage): Promise<HandshakeError> {
  const status = res.statusCode ?? 0;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => {
      if (chunks.length < 64) chunks.push(c);
    });
    const done = (): void => resolve(new HandshakeError(messageFromBody(status, Buffer.concat(chunks).toString('utf8')), status));
    res.on('end', done);
    res.on('error', done); // cut short: what arrived is still the best line
  });
}

export interface ConnectOptions {
  /** Sub-protocols to offer, preferred first. */
  protocols: string[];
  /** Gives up on the upgrade when the API server is silent this long. */
  timeoutMs?: number;
}

/** Opens a WebSocket to `path` on the kubeconfig's API server, with its credentials and TLS settings. */
export async function connectWebSocket(kc: KubeConfig, path: string, options: ConnectOptions): Promise<WebSocketConnection> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new HandshakeError('no cluster in the kubeconfig');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  // CA, client certificate, token (exec and auth providers too), skip-verify, tls-server-name, proxy agent.
  const tlsOptions: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tlsOptions);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timedOut = false;
  let protocol = '';
  const wsOptions: ClientOptions & { closeTimeout: number } = {
    ...(tlsOptions as ClientOptions),
    // ws accepts only RFC 7230 tokens as sub-protocols, and SPDY/3.1+portforward.k8s.io is not one
    // ("/"): they are offered by header, and the answer checked here instead of by ws.
    headers: { ...(tlsOptions.headers as Record<string, string> | undefined), 'Sec-WebSocket-Protocol': options.protocols.join(', ') },
    perMessageDeflate: false,
    handshakeTimeout: timeoutMs,
    closeTimeout: CLOSE_TIMEOUT_MS,
    finishRequest: (req: ClientRequest) => {
      req.on('timeout', () => (timedOut = true));
      req.end();
    },
  };
  const ws = new WebSocket(url, wsOptions);
  return await new Promise<WebSocketConnection>((resolve, reject) => {
    let settled = false;
    const fail = (err: HandshakeError): void => {
      if (settled) return;
      settled = true;
      reject(err);
      ws.terminate();
    };
    ws.on('upgrade', (res) => {
      protocol = String(res.headers['sec-websocket-protocol'] ?? '');
      delete res.headers['sec-websocket-protocol']; // so ws, which offered none, takes the answer
    });
    const onError = (err: Error): void => fail(new HandshakeError(timedOut ? `no answer from the API server within ${timeoutMs / 1000}s` : err.message));
    const onClose = (): void => fail(new HandshakeError('the connection to the API server closed during the WebSocket upgrade'));
    ws.on('unexpected-response', (_req, res) => void refusal(res).then(fail));
    ws.on('error', onError);
    ws.on('close', onClose);
    ws.once('open', () => {
      if (protocol && !options.protocols.includes(protocol)) {
        fail(new HandshakeError(`the API server chose sub-protocol "${protocol}", which was not offered`));
        return;
      }
      settled = true;
      ws.off('error', onError).off('close', onClose);
      resolve(new WebSocketConnection(ws, protocol));
    });
  });
}
