// One TCP connection to a port of a pod through the API server (pods/portforward), the way
// `kubectl port-forward` reaches it, over the WebSocket port-forward protocol the kubelet speaks:
// sub-protocol v4.channel.k8s.io, one connection per stream, each message starting with a channel
// byte: channel 0 carries the data, channel 1 an error text; the server opens each channel with the
// port number (2 bytes, little endian). (The API server also offers SPDY tunnelled in WebSockets,
// SPDY/3.1+portforward.k8s.io; the plain channel protocol is simpler and served by every kubelet.)
import type { Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { connectWebSocket, type WebSocketConnection } from './websocket.js';

export interface PodRef {
  namespace: string;
  pod: string;
}

export const PORTFORWARD_PROTOCOL = 'v4.channel.k8s.io';
const DATA_CHANNEL = 0;
const ERROR_CHANNEL = 1;
const DATA_PREFIX = Buffer.from([DATA_CHANNEL]);

/** After the local client half-closes, wait this long for the rest of the answer (as the kubelet does). */
export const LINGER_MS = 1000;

/** pods/portforward of the pod; `port` adds the query the channel protocol needs (SPDY names ports per stream). */
export function portForwardPath(pod: PodRef, port?: number): string {
  const path = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.pod)}/portforward`;
  return port === undefined ? path : `${path}?ports=${port}`;
}

/** Splits the server's messages into data and error text, dropping each channel's port prefix. */
export class PortForwardChannels {
  private readonly prefixLeft = [2, 2];

  constructor(
    private readonly onData: (data: Buffer) => void,
    private readonly onError: (text: string) => void,
  ) {}

  receive(message: Buffer): void {
    if (message.length === 0) return;
    const channel = message[0] as number;
    if (channel !== DATA_CHANNEL && channel !== ERROR_CHANNEL) return;
    let data = message.subarray(1);
    const left = this.prefixLeft[channel] as number;
    if (left > 0) {
      const skip = Math.min(left, data.length);
      this.prefixLeft[channel] = left - skip;
      data = data.subarray(skip);
    }
    if (data.length === 0) return;
    if (channel === DATA_CHANNEL) this.onData(data);
    else this.onError(data.toString('utf8'));
  }
}

/** Ends a local connection with a FIN (not a reset), and frees it if the client does not close its side. */
export function closeGently(local: Socket): void {
  if (local.destroyed) return;
  local.end();
  setTimeout(() => local.destroy(), 5000).unref();
}

/** Opens the stream to `port` of the pod; rejects with a HandshakeError carrying the API server's message. */
export function openPodPort(kc: KubeConfig, pod: PodRef, port: number): Promise<WebSocketConnection> {
  return connectWebSocket(kc, portForwardPath(pod, port), { protocols: [PORTFORWARD_PROTOCOL], timeoutMs: 30_000 });
}

/**
 * Copies between a local connection and an open pod stream until one side ends, with backpressure
 * both ways. Resolves when the connection is over; rejects with one line when it broke (the
 * kubelet's error text, e.g. connection refused inside the pod, or a lost API server connection).
 * The local socket must have been created paused (pauseOnConnect) or not read yet.
 */
export function pipeConnection(ws: WebSocketConnection, local: Socket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let errorText = '';
    let done = false;
    let localClosed = false;
    let localEnded = false;
    let linger: NodeJS.Timeout | undefined;
    const armLinger = (): void => {
      clearTimeout(linger);
      linger = setTimeout(() => ws.close(), LINGER_MS);
    };
    const channels = new PortForwardChannels(
      (data) => {
        if (local.destroyed) return;
        if (!local.write(data)) ws.pause();
        if (localEnded) armLinger();
      },
      (text) => {
        errorText += text;
      },
    );
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(linger);
      const problem = errorText.trim() || err?.message;
      closeGently(local);
      if (problem && !localClosed) reject(new Error(problem.replace(/\s+/g, ' ')));
      else resolve();
    };
    ws.start({
      message: (m) => channels.receive(m),
      drain: () => local.resume(),
      close: (err) => finish(err),
    });
    local.on('data', (chunk: Buffer) => {
      if (!ws.send(DATA_PREFIX, chunk)) local.pause();
    });
    local.on('drain', () => ws.resume());
    // The channel protocol cannot half-close: keep reading the answer until the pod goes quiet.
    local.on('end', () => {
      localEnded = true;
      armLinger();
    });
    local.on('error', () => undefined);
    local.on('close', () => {
      localClosed = true;
      ws.close();
    });
    local.resume();
  });
}
