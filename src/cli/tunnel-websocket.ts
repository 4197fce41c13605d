// Opens one tunnel WebSocket through the API server (the ws library), with the kubeconfig's TLS
// and credentials. A refused upgrade carries the server's own sentence (a Status body's message,
// e.g. the right that is missing), not "Unexpected server response: 403".
import type { KubeConfig } from '@kubernetes/client-node';
import { WebSocket, type ClientOptions } from 'ws';
import { MAX_MESSAGE_BYTES, TUNNEL_PROTOCOL } from '../tunnel/protocol.js';
import { apiRequest, readBody, refusalMessage } from './api-request.js';

export const HANDSHAKE_TIMEOUT_MS = 30_000;

/** The tunnel was not opened; `status` is the HTTP status when the server answered. */
export class TunnelRefused extends Error {
  override readonly name = 'TunnelRefused';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

function headersOf(options: { headers?: unknown }): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries((options.headers ?? {}) as Record<string, unknown>)) {
    if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return headers;
}

export async function openTunnelWebSocket(kc: KubeConfig, path: string, timeoutMs = HANDSHAKE_TIMEOUT_MS): Promise<WebSocket> {
  const { url, options } = await apiRequest(kc, path);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const wsOptions: ClientOptions & { auth?: string } = {
    agent: typeof options.agent === 'object' ? options.agent : undefined,
    headers: headersOf(options),
    auth: options.auth ?? undefined,
    perMessageDeflate: false, // the payload is whatever the application sends, often compressed or encrypted already
    maxPayload: MAX_MESSAGE_BYTES,
    handshakeTimeout: timeoutMs,
    followRedirects: false,
    // RFC 6455 masking shields HTTP intermediaries that might misread a frame; inside TLS there are
    // none, and masking in JavaScript costs more than the TLS itself. An all-zero key makes ws skip
    // masking on both ends (its documented fast path); a plain ws:// URL keeps random keys.
    ...(url.protocol === 'wss:' ? { generateMask: (mask: Buffer) => void mask.fill(0) } : {}),
  };
  const ws = new WebSocket(url, [TUNNEL_PROTOCOL], wsOptions);
  return new Promise<WebSocket>((resolve, reject) => {
    let settled = false;
    const settle = (err?: TunnelRefused): void => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(ws);
    };
    ws.once('unexpected-response', (_req, res) => {
      void readBody(res).then((body) => {
        const status = res.statusCode ?? 0;
        settle(new TunnelRefused(refusalMessage(status, body), status));
        ws.terminate();
      });
    });
    ws.once('open', () => settle());
    // Before 'open': the handshake failed (no answer, TLS, a wrong sub-protocol). After it, the
    // session listens for errors itself; this one only keeps an unheard 'error' from throwing.
    ws.on('error', (err) => settle(new TunnelRefused(err.message)));
  });
}
