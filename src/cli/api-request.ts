// Requests to the API server that client-node's generated clients do not make (discovery of the
// tunnel API, its WebSocket), with the kubeconfig's server, TLS and credentials exactly as
// client-node applies them: CA, client certificates, bearer tokens, exec plugins,
// tls-server-name, insecure-skip-tls-verify and proxy-url all come with its agent and headers.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface ApiRequest {
  url: URL;
  /** node:https options: agent (TLS, proxy), headers (Authorization...), auth (basic). */
  options: https.RequestOptions;
}

export async function apiRequest(kc: KubeConfig, path: string): Promise<ApiRequest> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in the kubeconfig');
  // The server may carry a path prefix (a proxy in front of the API server): keep it.
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  const options: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  return { url, options };
}

/** A refusal in one line: a Status body's message, else the start of the body, else the HTTP status. */
export function refusalMessage(status: number, body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string' && parsed.message) return parsed.message.replace(/\s+/g, ' ').trim();
  } catch {
    // not a Status object
  }
  const text = body.trim().replace(/\s+/g, ' ');
  return text ? `HTTP ${status}: ${text.slice(0, 300)}` : `the API server answered HTTP ${status}`;
}

/** Reads at most `limit` bytes of a response body as text (a refusal is short; a wrong server may not be). */
export function readBody(res: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      if (size < limit) chunks.push(c);
      size += c.length;
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8').slice(0, limit)));
    res.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** GET `path`; resolves with the status and the (short) body. */
export async function apiGet(kc: KubeConfig, path: string, timeoutMs = 30_000): Promise<{ status: number; body: string }> {
  const { url, options } = await apiRequest(kc, path);
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(url, { ...options, method: 'GET', headers: { ...options.headers, Accept: 'application/json' } }, (res) => {
      void readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from the API server within ${timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.end();
  });
}
