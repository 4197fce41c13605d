// Where a tunnel goes: the PortForward's helper pod, at the port the PortForward declares. The
// status names the helper; the pod itself is read back and must carry the PortForward's UID and
// be the helper it says, so a status written by anyone else cannot send the gateway elsewhere.
import type { CoreV1Api, CustomObjectsApi, V1Pod } from '@kubernetes/client-node';
import { GROUP, parseSpec, PLURAL, VERSION, type PortForward } from '../api/index.js';
import { isApiError } from '../kube/errors.js';
import { LABELS } from '../resources/names.js';
import type { TunnelProtocol } from '../tunnel/protocol.js';

export interface Endpoint {
  host: string;
  port: number;
  helper: string;
}

/** A refusal the client sees as a Kubernetes Status: HTTP code, reason word and a sentence. */
export class Refusal extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ResolveApis {
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

export async function readPortForward(apis: ResolveApis, namespace: string, name: string): Promise<PortForward> {
  try {
    return (await apis.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name })) as PortForward;
  } catch (err) {
    if (isApiError(err, 404)) throw new Refusal(404, 'NotFound', `PortForward "${name}" not found in namespace "${namespace}"`);
    throw err;
  }
}

async function readPod(apis: ResolveApis, namespace: string, name: string): Promise<V1Pod | undefined> {
  try {
    return await apis.core.readNamespacedPod({ namespace, name });
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw err;
  }
}

/** The declared ports of a protocol, for messages. */
function portsOf(pf: PortForward, protocol: TunnelProtocol): number[] {
  const parsed = parseSpec(pf.spec);
  return parsed.ok ? parsed.spec.ports.filter((p) => p.protocol.toLowerCase() === protocol).map((p) => p.port) : [];
}

export async function resolveEndpoint(
  apis: ResolveApis,
  helperNamespace: string,
  at: { namespace: string; name: string; port: number; protocol: TunnelProtocol },
): Promise<Endpoint> {
  const pf = await readPortForward(apis, at.namespace, at.name);
  const ref = `PortForward ${at.namespace}/${at.name}`;
  const ports = portsOf(pf, at.protocol);
  if (!ports.includes(at.port)) {
    const have = ports.length ? `its ${at.protocol.toUpperCase()} ports are ${ports.join(', ')}` : `it has no ${at.protocol.toUpperCase()} ports`;
    throw new Refusal(400, 'BadRequest', `${ref} has no ${at.protocol.toUpperCase()} port ${at.port}; ${have}`);
  }
  const status = pf.status;
  if (status?.phase !== 'Ready') {
    const ready = status?.conditions?.find((c) => c.type === 'Ready');
    const why = ready ? `${ready.reason}: ${ready.message}` : 'no status yet';
    throw new Refusal(503, 'ServiceUnavailable', `${ref} is not Ready (${why})`);
  }
  const helper = status.helper;
  if (!helper?.pod || helper.namespace !== helperNamespace) {
    throw new Refusal(503, 'ServiceUnavailable', `${ref} names no helper pod in ${helperNamespace}`);
  }
  const pod = await readPod(apis, helperNamespace, helper.pod);
  const labels = pod?.metadata?.labels ?? {};
  const podIP = pod?.status?.podIP;
  if (!pod || labels[LABELS.ownerUid] !== pf.metadata.uid || labels[LABELS.component] !== 'helper' || pod.metadata?.deletionTimestamp || !podIP) {
    throw new Refusal(503, 'ServiceUnavailable', `${ref}: its helper pod ${helper.pod} is gone or being replaced; try again in a moment`);
  }
  return { host: podIP, port: at.port, helper: helper.pod };
}
