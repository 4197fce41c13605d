// Who is asking: the aggregation layer's front proxy (kube-apiserver) authenticates the user and
// passes the identity in request headers, over a TLS connection on which it presents a client
// certificate. Only such requests are believed: the certificate must chain to the request-header CA
// that kube-apiserver publishes in kube-system/extension-apiserver-authentication and carry one of
// the allowed names. Anyone else's X-Remote-User header is just text.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { V1ConfigMap } from '@kubernetes/client-node';

export const AUTH_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' } as const;

export interface FrontProxySettings {
  /** PEM bundle of CAs that sign the front proxy's client certificate. */
  clientCa: string;
  /** Common names the front proxy's certificate may carry; empty means any the CA signed. */
  allowedNames: string[];
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
}

export interface User {
  name: string;
  groups: string[];
  extra: Record<string, string[]>;
}

function jsonList(text: string | undefined, fallback: string[]): string[] {
  if (!text) return fallback;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : fallback;
  } catch {
    return fallback;
  }
}

/** The request-header settings from the ConfigMap; throws when kube-apiserver has none (no aggregation layer). */
export function frontProxySettings(cm: V1ConfigMap): FrontProxySettings {
  const data = cm.data ?? {};
  const clientCa = data['requestheader-client-ca-file'];
  if (!clientCa) {
    throw new Error(
      `${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name} has no requestheader-client-ca-file: kube-apiserver runs without the aggregation layer (--requestheader-client-ca-file and --proxy-client-cert-file)`,
    );
  }
  return {
    clientCa,
    allowedNames: jsonList(data['requestheader-allowed-names'], []),
    usernameHeaders: jsonList(data['requestheader-username-headers'], ['X-Remote-User']).map((h) => h.toLowerCase()),
    groupHeaders: jsonList(data['requestheader-group-headers'], ['X-Remote-Group']).map((h) => h.toLowerCase()),
    extraHeaderPrefixes: jsonList(data['requestheader-extra-headers-prefix'], ['X-Remote-Extra-']).map((h) => h.toLowerCase()),
  };
}

export type Identification = { ok: true; user: User } | { ok: false; why: string };

function values(headers: NodeJS.Dict<string[]>, name: string): string[] {
  return headers[name] ?? [];
}

/** The user a request carries, if it came from the front proxy; the TLS layer has checked the chain. */
export function identify(req: Pick<IncomingMessage, 'socket' | 'headersDistinct'>, settings: FrontProxySettings): Identification {
  const socket = req.socket as TLSSocket;
  if (!socket.authorized) {
    return { ok: false, why: 'the request carries no client certificate of the aggregation layer\'s front proxy: reach this API through the Kubernetes API server' };
  }
  const cn = socket.getPeerCertificate()?.subject?.CN;
  const commonName = Array.isArray(cn) ? cn[0] : cn;
  if (settings.allowedNames.length > 0 && !settings.allowedNames.includes(commonName ?? '')) {
    return { ok: false, why: `client certificate "${commonName ?? ''}" is not one of the front proxy's allowed names` };
  }
  const headers = req.headersDistinct;
  const name = settings.usernameHeaders.map((h) => values(headers, h)[0]).find((v) => v !== undefined && v !== '');
  if (!name) return { ok: false, why: 'the front proxy sent no user name' };
  // One header per group, as kube-apiserver sends them (a group name may contain a comma).
  const groups = settings.groupHeaders.flatMap((h) => values(headers, h)).filter(Boolean);
  return { ok: true, user: { name, groups, extra: extraOf(headers, settings.extraHeaderPrefixes) } };
}

/** X-Remote-Extra-<key>: <value>: keys are lower-cased and percent-decoded, as kube-apiserver encodes them. */
function extraOf(headers: NodeJS.Dict<string[]>, prefixes: readonly string[]): Record<string, string[]> {
  const extra: Record<string, string[]> = {};
  for (const [header, vals] of Object.entries(headers)) {
    const prefix = prefixes.find((p) => header.startsWith(p));
    if (!prefix || !vals) continue;
    let key = header.slice(prefix.length);
    try {
      key = decodeURIComponent(key);
    } catch {
      // keep it as sent
    }
    (extra[key] ??= []).push(...vals);
  }
  return extra;
}

/** Identity headers must never reach the application behind the proxy subresource. */
export function withoutIdentityHeaders(headers: IncomingHttpHeaders, settings: FrontProxySettings): IncomingHttpHeaders {
  const drop = new Set([...settings.usernameHeaders, ...settings.groupHeaders, 'authorization', 'impersonate-user', 'impersonate-group']);
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (drop.has(k) || settings.extraHeaderPrefixes.some((p) => k.startsWith(p)) || k.startsWith('impersonate-extra-')) continue;
    out[k] = v;
  }
  return out;
}
