// The gateway's serving certificate: a CA of its own and a certificate for the Service's DNS names,
// made here so that `kubectl apply -k manifests/` alone sets everything up (no cert-manager needed).
// Pure: keys come from Node's crypto, certificates are assembled and signed with node-forge.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

export interface ServingCertificate {
  /** PEM: the CA that signed `cert`; what the APIService's caBundle must hold. */
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

const DAY_MS = 86_400_000;
export const CA_LIFETIME_DAYS = 3650;
export const SERVING_LIFETIME_DAYS = 365;
/** Renewed once two thirds of its life have passed, so a replica that reloads late still has months. */
const RENEW_AFTER_FRACTION = 2 / 3;

function newKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; pem: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem) as forge.pki.rsa.PrivateKey;
  return { privateKey: forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), pem };
}

function serialNumber(): string {
  // Positive (leading nibble below 8), 16 random bytes.
  const hex = forge.util.bytesToHex(forge.random.getBytesSync(16));
  return `${(parseInt(hex[0] as string, 16) & 0x7).toString(16)}${hex.slice(1)}`;
}

function certificate(subject: string, publicKey: forge.pki.PublicKey, now: Date, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000); // clock skew between nodes
  cert.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: subject }]);
  return cert;
}

export function createCa(commonName: string, now = new Date()): { cert: string; key: string } {
  const keys = newKeyPair();
  const cert = certificate(commonName, keys.publicKey, now, CA_LIFETIME_DAYS);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

/** A serving certificate for `dnsNames`, signed by the given CA. */
export function createServingCertificate(ca: { cert: string; key: string }, dnsNames: readonly string[], now = new Date()): ServingCertificate {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const keys = newKeyPair();
  const cert = certificate(dnsNames[0] ?? 'portforward-gateway', keys.publicKey, now, SERVING_LIFETIME_DAYS);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2, value })) },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { caCert: ca.cert, caKey: ca.key, cert: forge.pki.certificateToPem(cert), key: keys.pem };
}

/** The DNS names the aggregator checks: SERVICE.NAMESPACE.svc (and the longer forms). */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, `${service}.${namespace}`];
}

function parse(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function renewalDue(cert: X509Certificate, now: Date): boolean {
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  return now.getTime() >= from + (to - from) * RENEW_AFTER_FRACTION;
}

/**
 * Why the stored material must be (re)made, or undefined when it is good: a missing or unreadable
 * part, a serving certificate not signed by the CA, not for these names, or due for renewal.
 */
export function renewalReason(stored: Partial<ServingCertificate>, dnsNames: readonly string[], now = new Date()): string | undefined {
  const ca = stored.caCert ? parse(stored.caCert) : undefined;
  const cert = stored.cert ? parse(stored.cert) : undefined;
  if (!ca || !stored.caKey) return 'no CA yet';
  if (!cert || !stored.key) return 'no serving certificate yet';
  if (renewalDue(ca, now)) return 'the CA is due for renewal';
  if (!cert.verify(ca.publicKey)) return 'the serving certificate is not signed by the CA';
  if (!dnsNames.every((n) => cert.checkHost(n, { subject: 'never' }) === n)) return 'the serving certificate is for other names';
  if (renewalDue(cert, now)) return 'the serving certificate is due for renewal';
  return undefined;
}

/** New material for `dnsNames`: keeps a CA that is still good, so the APIService's caBundle stays. */
export function renewed(stored: Partial<ServingCertificate>, dnsNames: readonly string[], now = new Date()): ServingCertificate {
  const ca = stored.caCert ? parse(stored.caCert) : undefined;
  const keepCa = ca && stored.caKey && !renewalDue(ca, now);
  const caPair = keepCa ? { cert: stored.caCert as string, key: stored.caKey as string } : createCa('portforward-gateway-ca', now);
  return createServingCertificate(caPair, dnsNames, now);
}
