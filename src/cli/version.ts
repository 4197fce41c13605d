// `kubectl pf version`: the plugin's version and, unless --client, what the cluster serves: its
// Kubernetes version, PortForwards (portforward.io) and the tunnel API (connect.portforward.io).
// The server's side never fails the command: what could not be learnt is one line saying why.
import { dumpYaml, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/index.js';
import { API_GROUP, API_VERSION } from '../tunnel/protocol.js';
import { apiGet, refusalMessage } from './api-request.js';
import { UsageError } from './args.js';
import type { Output } from './connect.js';
import { apiErrorMessage } from './kube.js';
import { pluginVersion } from './plugin-version.js';
import { discoverTunnelApi } from './tunnel-discovery.js';

/** Each question is cheap: an API server that does not answer in this time is reported as such. */
const TIMEOUT_MS = 5000;

export interface ServerInfo {
  /** The API server's /version gitVersion, e.g. v1.34.1. */
  kubernetes?: string;
  /** portforward.io/v1alpha1 is served (the operator's CRD is installed). */
  portForwards?: boolean;
  /** "served", "not installed", or discovery's refusal when it is registered but failing. */
  tunnelApi?: string;
  /** Why the API server could not be asked at all. */
  error?: string;
}

export interface VersionInfo {
  clientVersion: string;
  server?: ServerInfo;
}

export type VersionFormat = 'json' | 'yaml';

export function parseVersionOutput(value: string | undefined): VersionFormat | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'json' || value === 'yaml') return value;
  throw new UsageError(`invalid --output "${value}": use json or yaml`);
}

export async function serverInfo(kc: KubeConfig): Promise<ServerInfo> {
  let kubernetes: string | undefined;
  try {
    const { status, body } = await apiGet(kc, '/version', TIMEOUT_MS);
    if (status !== 200) return { error: refusalMessage(status, body) };
    kubernetes = (JSON.parse(body) as { gitVersion?: string }).gitVersion;
  } catch (err) {
    return { error: `cannot reach the API server at ${kc.getCurrentCluster()?.server}: ${apiErrorMessage(err)}` };
  }
  const [crd, tunnel] = await Promise.allSettled([
    apiGet(kc, `/apis/${GROUP}/${VERSION}`, TIMEOUT_MS),
    discoverTunnelApi(kc, TIMEOUT_MS),
  ]);
  const info: ServerInfo = { kubernetes };
  if (crd.status === 'fulfilled' && (crd.value.status === 200 || crd.value.status === 404)) info.portForwards = crd.value.status === 200;
  if (tunnel.status === 'fulfilled') info.tunnelApi = !tunnel.value.served ? 'not installed' : (tunnel.value.problem ?? 'served');
  return info;
}

/** The text form: one line each, kubectl version's style. */
export function versionLines(info: VersionInfo): string[] {
  const lines = [`Client Version: ${info.clientVersion}`];
  const s = info.server;
  if (!s) return lines;
  if (s.error !== undefined) return [...lines, `Server: ${s.error}`];
  lines.push(`Server Version: ${s.kubernetes ?? 'unknown'}`);
  lines.push(
    s.portForwards === undefined ? `PortForwards (${GROUP}/${VERSION}): could not be asked`
    : s.portForwards ? `PortForwards (${GROUP}/${VERSION}): served`
    : `PortForwards (${GROUP}/${VERSION}): not served: is the PortForward operator installed?`,
  );
  lines.push(
    s.tunnelApi === undefined ? `Tunnel API (${API_GROUP}/${API_VERSION}): could not be asked`
    : s.tunnelApi === 'not installed' ? `Tunnel API (${API_GROUP}/${API_VERSION}): not installed (connect uses pods/portforward to the helper pods)`
    : s.tunnelApi === 'served' ? `Tunnel API (${API_GROUP}/${API_VERSION}): served`
    : `Tunnel API (${API_GROUP}/${API_VERSION}): registered, but not answering: ${s.tunnelApi}`,
  );
  return lines;
}

export interface VersionOptions {
  /** Loads the kubeconfig; not called with --client. What it throws is reported as the server's line. */
  kube: () => KubeConfig;
  clientOnly: boolean;
  output?: VersionFormat;
  io: Output;
}

export async function runVersion(o: VersionOptions): Promise<number> {
  const info: VersionInfo = { clientVersion: `v${pluginVersion()}` };
  if (!o.clientOnly) {
    let kc: KubeConfig | undefined;
    try {
      kc = o.kube();
    } catch (err) {
      info.server = { error: err instanceof Error ? err.message : String(err) };
    }
    if (kc) info.server = await serverInfo(kc);
  }
  if (o.output === 'json') o.io.out(JSON.stringify(info, null, 4));
  else if (o.output === 'yaml') o.io.out(dumpYaml(info).trimEnd());
  else for (const line of versionLines(info)) o.io.out(line);
  return 0;
}
