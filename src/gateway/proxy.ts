// The proxy subresource: one HTTP request to a port of the helper, as pods/proxy does for a pod.
// kube-apiserver refuses to pass on any redirect from an aggregated API server (it answers 502
// instead), so an application's redirect comes back as a small page that sends a browser on
// (meta refresh), its target kept under the proxy's path, with the status in a header.
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

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A redirect the aggregator lets through: 200, a page that moves a browser on, the original status in a header. */
export function redirectPage(res: ServerResponse, status: number, location: string): void {
  const href = escapeHtml(location);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-portforward-redirect': `${status} ${location}`, 'cache-control': 'no-store' });
  res.end(`<!doctype html><meta http-equiv="refresh" content="0; url=${href}"><p>Moved to <a href="${href}">${href}</a>.</p>\n`);
}

export function proxyHttp(req: IncomingMessage, res: ServerResponse, p: ProxyRequest, fail: (message: string) => void): void {
  const headers = { ...p.headers };
  for (const h of HOP_BY_HOP) delete headers[h];
  headers.host = `${p.endpoint.host}:${p.endpoint.port}`;
  const upstream = request(
    { host: p.endpoint.host, port: p.endpoint.port, method: req.method, path: `${p.path}${p.query}`, headers, timeout: 30_000 },
    (answer: IncomingMessage) => {
      const status = answer.statusCode ?? 502;
      if (status >= 300 && status < 400 && typeof answer.headers.location === 'string') {
        answer.resume();
        return redirectPage(res, status, rebaseLocation(answer.headers.location, p.basePath));
      }
      const out: IncomingHttpHeaders = { ...answer.headers };
      for (const h of HOP_BY_HOP) delete out[h];
      res.writeHead(status, out);
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
