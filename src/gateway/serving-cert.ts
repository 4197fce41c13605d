// Keeps the serving certificate in its Secret and the APIService's caBundle in step with it. Every
// replica runs this on a timer: the first to find the Secret missing or due creates or renews it
// (a conflict means another replica did, and its result is read back), and each replica serves what
// the Secret holds. The gateway reads no other Secret (its Role names this one).
import type { ApiregistrationV1Api, CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { isApiError } from '../kube/errors.js';
import { renewalReason, renewed, serviceDnsNames, type ServingCertificate } from './certificates.js';
import type { GatewayConfig } from './config.js';

const KEYS = { cert: 'tls.crt', key: 'tls.key', caCert: 'ca.crt', caKey: 'ca.key' } as const;

function decoded(secret: V1Secret | undefined): Partial<ServingCertificate> {
  const data = secret?.data ?? {};
  const read = (k: string) => (data[k] ? Buffer.from(data[k], 'base64').toString('utf8') : undefined);
  return { cert: read(KEYS.cert), key: read(KEYS.key), caCert: read(KEYS.caCert), caKey: read(KEYS.caKey) };
}

function encoded(m: ServingCertificate): Record<string, string> {
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  return { [KEYS.cert]: b64(m.cert), [KEYS.key]: b64(m.key), [KEYS.caCert]: b64(m.caCert), [KEYS.caKey]: b64(m.caKey) };
}

export interface CertApis {
  core: CoreV1Api;
  apiRegistration: ApiregistrationV1Api;
}

export interface CertOutcome {
  material: Pick<ServingCertificate, 'cert' | 'key' | 'caCert'>;
  /** What this replica changed, for the log. */
  changed: string[];
}

async function readSecret(apis: CertApis, config: GatewayConfig): Promise<V1Secret | undefined> {
  try {
    return await apis.core.readNamespacedSecret({ name: config.certSecret, namespace: config.namespace });
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw err;
  }
}

/** Creates or renews the certificate when it must (self mode); returns what to serve. */
async function ensureSecret(apis: CertApis, config: GatewayConfig, now: Date): Promise<CertOutcome> {
  const names = serviceDnsNames(config.serviceName, config.namespace);
  for (let attempt = 0; ; attempt++) {
    const secret = await readSecret(apis, config);
    const stored = decoded(secret);
    const why = renewalReason(stored, names, now);
    if (!why) return { material: stored as ServingCertificate, changed: [] };
    const next = renewed(stored, names, now);
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name: config.certSecret,
        namespace: config.namespace,
        labels: { 'app.kubernetes.io/name': 'portforward-operator', 'app.kubernetes.io/component': 'gateway' },
        ...(secret?.metadata?.resourceVersion ? { resourceVersion: secret.metadata.resourceVersion } : {}),
      },
      data: encoded(next),
    };
    try {
      if (secret) await apis.core.replaceNamespacedSecret({ name: config.certSecret, namespace: config.namespace, body });
      else await apis.core.createNamespacedSecret({ namespace: config.namespace, body });
      return { material: next, changed: [`serving certificate (${why})`] };
    } catch (err) {
      // Another replica wrote it first: serve what it wrote.
      if (attempt < 2 && (isApiError(err, 409) || isApiError(err, 422))) continue;
      throw err;
    }
  }
}

/** Points the APIService's caBundle at our CA, so the aggregator trusts the serving certificate. */
async function ensureCaBundle(apis: CertApis, config: GatewayConfig, caCert: string): Promise<boolean> {
  const want = Buffer.from(caCert, 'utf8').toString('base64');
  const current = await apis.apiRegistration.readAPIService({ name: config.apiServiceName });
  if (current.spec?.caBundle === want) return false;
  current.spec = { ...current.spec, caBundle: want } as NonNullable<typeof current.spec>;
  await apis.apiRegistration.replaceAPIService({ name: config.apiServiceName, body: current });
  return true;
}

/** One pass: what to serve now, and what was changed to get there. */
export async function syncServingCertificate(apis: CertApis, config: GatewayConfig, now = new Date()): Promise<CertOutcome> {
  if (config.certMode === 'external') {
    const stored = decoded(await readSecret(apis, config));
    if (!stored.cert || !stored.key || !stored.caCert) {
      throw new Error(`Secret ${config.namespace}/${config.certSecret} has no tls.crt, tls.key and ca.crt yet (GATEWAY_CERT_MODE=external: cert-manager or another issuer must write it)`);
    }
    return { material: stored as ServingCertificate, changed: [] };
  }
  const outcome = await ensureSecret(apis, config, now);
  if (await ensureCaBundle(apis, config, outcome.material.caCert)) outcome.changed.push(`APIService ${config.apiServiceName} caBundle`);
  return outcome;
}
