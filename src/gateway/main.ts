// The tunnel API's gateway: its own Deployment (same image as the operator), every replica serving.
// Wiring: settings, clients, the serving certificate and the front proxy's CA (both re-read every
// minute, so rotations take effect), the HTTPS server, probes, and a clean shutdown.
import { createServer as createHttpServer } from 'node:http';
import { ApiregistrationV1Api, AuthorizationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { describeError } from '../kube/errors.js';
import { widenHeapGrowth } from '../util/heap-growth.js';
import { createLogger } from '../observability/logger.js';
import { loadGatewayConfig } from './config.js';
import { AUTH_CONFIGMAP, frontProxySettings, type FrontProxySettings } from './front-proxy.js';
import { Gateway, type TlsMaterial } from './server.js';
import { syncServingCertificate } from './serving-cert.js';

const REFRESH_MS = 60_000;
const SHUTDOWN_GRACE_MS = 5_000;

async function main(): Promise<void> {
  widenHeapGrowth();
  const config = loadGatewayConfig();
  const log = createLogger(config.logLevel, 'portforward-gateway');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const core = kc.makeApiClient(CoreV1Api);
  const apis = {
    core,
    custom: kc.makeApiClient(CustomObjectsApi),
    authorization: kc.makeApiClient(AuthorizationV1Api),
    apiRegistration: kc.makeApiClient(ApiregistrationV1Api),
  };

  const load = async (): Promise<{ tls: TlsMaterial; frontProxy: FrontProxySettings }> => {
    const cert = await syncServingCertificate(apis, config);
    for (const change of cert.changed) log.info('updated', { what: change });
    const frontProxy = frontProxySettings(await core.readNamespacedConfigMap(AUTH_CONFIGMAP));
    return { tls: { cert: cert.material.cert, key: cert.material.key, clientCa: frontProxy.clientCa }, frontProxy };
  };

  let gateway: Gateway | undefined;
  let stopping = false;
  const health = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const ok = path === '/healthz' || (path === '/readyz' && gateway !== undefined && !stopping);
    res.writeHead(ok ? 200 : path === '/readyz' ? 503 : 404, { 'content-type': 'text/plain' });
    res.end(ok ? 'ok\n' : path === '/readyz' ? 'not serving yet\n' : 'not found\n');
  });
  health.listen(config.httpPort);

  // Until the first load works (the APIService may not exist yet, RBAC may still be settling) retry.
  for (let attempt = 1; !gateway; attempt++) {
    try {
      const { tls, frontProxy } = await load();
      gateway = new Gateway(config, apis, log, tls, frontProxy);
      await gateway.listen(config.port);
      log.info('serving the tunnel API', { port: config.port, certMode: config.certMode });
    } catch (err) {
      gateway = undefined;
      log.error('cannot serve yet; retrying', { attempt, error: describeError(err) });
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * attempt)));
    }
  }
  const refresh = setInterval(() => {
    load()
      .then(({ tls, frontProxy }) => gateway?.update(tls, frontProxy))
      .catch((err: unknown) => log.error('refreshing the certificate or the front proxy settings failed', { error: describeError(err) }));
  }, REFRESH_MS);

  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal, openTunnels: gateway?.openTunnels });
    clearInterval(refresh);
    // Unready first, so the aggregator stops sending new requests here; then end what is open.
    setTimeout(() => {
      gateway?.close();
      health.close();
      setTimeout(() => process.exit(0), 500).unref();
    }, SHUTDOWN_GRACE_MS).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  console.error('gateway failed:', err);
  process.exit(1);
});
