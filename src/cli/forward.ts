// `kubectl pf forward TARGET [LOCAL:]REMOTE[/udp] ...`: kubectl port-forward's one command, on a
// PortForward. It creates one for the target (generateName forward-..., a ttl so that a killed
// plugin leaves nothing forever), connects to it exactly as `connect` does, and deletes it when it
// ends (Ctrl-C, SIGTERM, or the PortForward went away), unless --keep.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, KIND, parseDuration, PLURAL, VERSION, type PortForward } from '../api/index.js';
import { isApiError } from '../kube/errors.js';
import { UsageError } from './args.js';
import { runConnect, type Output } from './connect.js';
import { checkedSpec, FIELD_MANAGER, RESOURCE, type ManifestSpec } from './create.js';
import { resolveForward } from './forward-resolve.js';
import { generateNameFor, targetRef, tunnelPorts, type ForwardTarget } from './forward-target.js';
import { apiErrorMessage } from './kube.js';
import type { ListenAddress, TargetForwardPort } from './ports.js';
import { discoverTunnelApi, tunnelApiLine } from './tunnel-discovery.js';
import { TtlLease } from './ttl-lease.js';

export const CREATED_BY_LABEL = 'portforward.io/created-by';
export const CREATED_BY = 'kubectl-pf-forward';
export const DEFAULT_TTL = '1h';

export interface ForwardOptions {
  kc: KubeConfig;
  namespace: string;
  target: ForwardTarget;
  ports: TargetForwardPort[];
  /** The PortForward's ttl, renewed while forward runs. */
  ttl: string;
  /** Leave the PortForward behind on exit (it still expires after its ttl). */
  keep: boolean;
  addresses: ListenAddress[];
  readyTimeoutMs: number;
  io: Output;
  stopSignal: Promise<void>;
}

export interface ForwardManifest {
  apiVersion: string;
  kind: string;
  metadata: { generateName: string; namespace: string; labels: Record<string, string> };
  spec: ManifestSpec;
}

/** --ttl, or the default; seconds above zero. */
export function forwardTtl(text: string | undefined): { ttl: string; seconds: number } {
  const ttl = text ?? DEFAULT_TTL;
  const seconds = parseDuration(ttl);
  if (!seconds) throw new UsageError(`invalid --ttl "${ttl}": use a duration above zero like 90s, 30m, 2h, 1h30m or 7d`);
  return { ttl, seconds };
}

export async function runForward(o: ForwardOptions): Promise<number> {
  const { io } = o;
  const { seconds: ttlSeconds } = forwardTtl(o.ttl);

  const tunnelApi = await discoverTunnelApi(o.kc);
  const line = tunnelApiLine(tunnelApi);
  if (line) io.err(line);
  const udp = o.ports.find((p) => p.protocol === 'udp');
  if (udp && !tunnelApi.served) {
    throw new UsageError(`cannot forward ${udp.remote}/udp: UDP needs the tunnel API (connect.portforward.io), which this cluster does not serve`);
  }

  const resolved = await resolveForward(o.kc, o.namespace, o.target, o.ports);
  const manifest: ForwardManifest = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { generateName: generateNameFor(o.target), namespace: o.namespace, labels: { [CREATED_BY_LABEL]: CREATED_BY } },
    spec: checkedSpec({ target: resolved.target, ports: tunnelPorts(resolved.forwards), ttl: o.ttl }),
  };
  const api = o.kc.makeApiClient(CustomObjectsApi);
  const where = { group: GROUP, version: VERSION, namespace: o.namespace, plural: PLURAL };
  let created: PortForward;
  try {
    created = (await api.createNamespacedCustomObject({ ...where, body: manifest, fieldManager: FIELD_MANAGER })) as PortForward;
  } catch (err) {
    io.err(`error: cannot create a PortForward for ${targetRef(o.target)} in namespace ${o.namespace}: ${apiErrorMessage(err)}`);
    return 1;
  }
  const name = created.metadata.name as string;
  const fate = o.keep ? `kept on exit (--keep), expires after its ttl ${o.ttl}` : 'deleted on exit';
  io.out(`${RESOURCE}/${name} created for ${targetRef(o.target)} (${fate})`);

  const lease = new TtlLease(o.kc, { namespace: o.namespace, name }, ttlSeconds, (l) => io.err(`warning: ${l}`));
  lease.start();
  try {
    return await runConnect({
      kc: o.kc,
      namespace: o.namespace,
      name,
      ports: resolved.forwards,
      addresses: o.addresses,
      readyTimeoutMs: o.readyTimeoutMs,
      io,
      stopSignal: o.stopSignal,
      tunnelApi,
    });
  } finally {
    lease.stop();
    if (!o.keep) await remove(api, { ...where, name }, io);
  }
}

async function remove(api: CustomObjectsApi, at: { group: string; version: string; namespace: string; plural: string; name: string }, io: Output): Promise<void> {
  try {
    await api.deleteNamespacedCustomObject(at);
    io.out(`${RESOURCE}/${at.name} deleted`);
  } catch (err) {
    if (isApiError(err, 404)) return; // gone already (expired, or deleted by someone)
    io.err(`warning: could not delete ${RESOURCE}/${at.name} (${apiErrorMessage(err)}); it expires after its ttl`);
  }
}
