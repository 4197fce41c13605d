// The probes and metrics endpoint: /healthz (the process serves requests), /readyz (the caches are
// filled; true on a standby replica too, which keeps its caches warm to take over quickly) and
// /metrics (Prometheus).
import { createServer, type Server } from 'node:http';
import type { Logger } from 'winston';
import type { Metrics } from './metrics.js';

export interface HealthOptions {
  port: number;
  ready: () => boolean;
  metrics: Metrics;
  log: Logger;
}

export function startHealthServer({ port, ready, metrics, log }: HealthOptions): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (path === '/healthz') return reply(200, 'ok\n');
    if (path === '/readyz') return ready() ? reply(200, 'ok\n') : reply(503, 'caches not synced yet\n');
    if (path === '/metrics') {
      metrics.registry
        .metrics()
        .then((text) => reply(200, text, metrics.registry.contentType))
        .catch((err: unknown) => {
          log.error('metrics collection failed', { error: String(err) });
          reply(500, 'metrics collection failed\n');
        });
      return;
    }
    reply(404, 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      log.info('serving health and metrics', { port });
      resolve(server);
    });
  });
}
