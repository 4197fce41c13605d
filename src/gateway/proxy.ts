// The proxy subresource: one HTTP request to a port of the helper, as pods/proxy does for a pod.
// A redirect to an absolute path is kept under the proxy's path, so a browser behind `kubectl
// proxy` stays on the tunnel.
import { request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Endpoint } from './resolve.js';

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

export interface ProxyRequest {
  endpoint: Endpoint;
  /** The path under .../proxy/PORT, starting with '/'. */
  path: string;
  query: string;
  /** .../proxy/PORT, where absolute redirects are rebased. */
  basePath: string;
  headers: IncomingHttpHeaders;
}

/** A Location header pointing at the application's own root, moved under the proxy's path. */
export function rebaseLocation(location: string, basePath: string): string {
  if (!location.startsWith('/') || location.startsWith('//')) return location;
  return `${basePath.replace(/\/$/, '')}${location}`;
}

export function proxyHttp(req: IncomingMessage, res: ServerResponse, p: ProxyRequest, fail: (message: string) => void): void {
  const headers = { ...p.headers };
  for (const h of HOP_BY_HOP) delete headers[h];
  headers.host = `${p.endpoint.host}:${p.endpoint.port}`;
  const upstream = request(
    { host: p.endpoint.host, port: p.endpoint.port, method: req.method, path: `${p.path}${p.query}`, headers, timeout: 30_000 },
    (answer: IncomingMessage) => {
      const out: IncomingHttpHeaders = { ...answer.headers };
      for (const h of HOP_BY_HOP) delete out[h];
      if (typeof out.location === 'string') out.location = rebaseLocation(out.location, p.basePath);
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
    },
  );
  upstream.on('timeout', () => upstream.destroy(new Error('no answer within 30 s')));
  upstream.on('error', (err) => {
    if (res.headersSent) res.destroy();
    else fail(`the application on port ${p.endpoint.port} did not answer: ${err.message}`);
  });
  req.pipe(upstream);
}
