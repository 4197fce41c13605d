// The informer that does not die: a failed watch is restarted with backoff, from the last
// resourceVersion, and the cache then follows the watch again. Against a small HTTP server that
// speaks the watch protocol (newline-delimited JSON events).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { ResilientInformer } from '../../src/kube/resilient-informer.js';
import { Writable } from 'node:stream';
import winston from 'winston';

const PATH = '/api/v1/namespaces/t/configmaps';
const cm = (name: string, rv: string): V1ConfigMap => ({ metadata: { name, namespace: 't', resourceVersion: rv }, data: { big: 'x'.repeat(1000) } });
/** The cache keeps metadata only, as the operator's pod cache keeps only what it reads. */
const metadataOnly = (o: V1ConfigMap): V1ConfigMap => ({ metadata: o.metadata });

describe('a resilient informer', () => {
  const watches: URLSearchParams[] = [];
  let failWatches = 0;
  let openWatch: http.ServerResponse | undefined;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== PATH || url.searchParams.get('watch') !== 'true') return void res.writeHead(404).end();
    watches.push(url.searchParams);
    if (failWatches > 0) {
      failWatches--;
      res.writeHead(500, { 'Content-Type': 'application/json' }).end('{"kind":"Status","code":500,"message":"etcd is restarting"}');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    openWatch = res;
  });
  const kc = new KubeConfig();
  const warnings: string[] = [];
  const log = winston.createLogger({
    level: 'warn',
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream: new Writable({ write: (line, _enc, done) => (warnings.push(JSON.parse(String(line)).message), done()) }) })],
  });

  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });
  after(() => {
    openWatch?.end();
    server.closeAllConnections();
    server.close();
  });

  it('restarts a failed watch with backoff, from the last resourceVersion, and follows it afterwards, projected', { timeout: 20_000 }, async () => {
    failWatches = 1; // the first watch fails, as while the API server's etcd restarts
    const list = async () => ({ apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: '10' }, items: [cm('a', '10')] });
    const informer = new ResilientInformer<V1ConfigMap>('configmaps', kc, PATH, list, log, undefined, metadataOnly);
    const changes: string[] = [];
    informer.onChange((o) => changes.push(o.metadata!.name!));
    const started = Date.now();
    informer.start();
    try {
      await informer.synced;
      assert.ok(Date.now() - started >= 500, 'the retry waited for the backoff (0.8 s, with jitter)');
      assert.equal(watches.length, 2, 'one failed watch, one that took');
      assert.equal(watches[1]!.get('resourceVersion'), '10', 'resumed where the list left off');
      assert.ok(warnings.includes('watch failed, restarting'), `the failure was logged: ${warnings.join('; ')}`);
      assert.deepEqual(informer.list().map((o) => o.metadata!.name), ['a']);

      openWatch!.write(`${JSON.stringify({ type: 'ADDED', object: cm('b', '11') })}\n`);
      await until(() => informer.get('t', 'b') !== undefined);
      assert.deepEqual(changes, ['a', 'b']);
      assert.deepEqual(informer.list().map((o) => o.data), [undefined, undefined], 'listed and watched objects are both projected');
    } finally {
      await informer.stop();
    }
  });
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
