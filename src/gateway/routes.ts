// The gateway's paths: discovery, and the two subresources of a PortForward. Pure.
import type { PortForward } from '../api/index.js';
import { API_GROUP, API_VERSION } from '../tunnel/protocol.js';

export type Route =
  | { kind: 'discovery'; body: object }
  | { kind: 'object'; namespace: string; name: string }
  | { kind: 'portforward'; namespace: string; name: string }
  | { kind: 'proxy'; namespace: string; name: string; port: number | undefined; rest: string }
  | { kind: 'notFound' };

const GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

const API_GROUP_OBJECT = {
  name: API_GROUP,
  versions: [{ groupVersion: GROUP_VERSION, version: API_VERSION }],
  preferredVersion: { groupVersion: GROUP_VERSION, version: API_VERSION },
};

// PortForwards are served by the CRD (portforward.io); here `get` shows one's ways in (its ports and
// status.access), and the subresources are the ways in themselves.
export const RESOURCES = {
  kind: 'APIResourceList',
  apiVersion: 'v1',
  groupVersion: GROUP_VERSION,
  resources: [
    { name: 'portforwards', singularName: 'portforward', namespaced: true, kind: 'PortForward', verbs: ['get'] },
    { name: 'portforwards/portforward', singularName: '', namespaced: true, kind: 'PortForwardTunnel', verbs: ['get', 'create'] },
    { name: 'portforwards/proxy', singularName: '', namespaced: true, kind: 'PortForwardProxy', verbs: ['get', 'create', 'update', 'patch', 'delete'] },
  ],
};

const DISCOVERY: Record<string, object> = {
  '/apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [API_GROUP_OBJECT] },
  [`/apis/${API_GROUP}`]: { kind: 'APIGroup', apiVersion: 'v1', ...API_GROUP_OBJECT },
  [`/apis/${GROUP_VERSION}`]: RESOURCES,
};

const PREFIX = `/apis/${GROUP_VERSION}/namespaces/`;

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Routes a request path (no query string). */
export function route(path: string): Route {
  const discovery = DISCOVERY[path.replace(/\/$/, '')];
  if (discovery) return { kind: 'discovery', body: discovery };
  if (!path.startsWith(PREFIX)) return { kind: 'notFound' };
  const parts = path.slice(PREFIX.length).split('/');
  const [nsPart, resource, namePart, subresource] = parts;
  const namespace = nsPart === undefined ? undefined : decode(nsPart);
  const name = namePart === undefined ? undefined : decode(namePart);
  if (!namespace || resource !== 'portforwards' || !name) return { kind: 'notFound' };
  if (subresource === undefined) return { kind: 'object', namespace, name };
  if (subresource === 'portforward' && parts.length === 4) return { kind: 'portforward', namespace, name };
  if (subresource !== 'proxy') return { kind: 'notFound' };
  // .../proxy/PORT/rest: the port is a path segment, so the application's relative links keep it.
  const portPart = parts[4];
  const port = portPart !== undefined && /^\d{1,5}$/.test(portPart) ? Number(portPart) : undefined;
  const rest = `/${parts.slice(port === undefined ? 4 : 5).join('/')}`;
  return { kind: 'proxy', namespace, name, port, rest };
}

/** A PortForward as this API shows it: who it is, its ports, and how to reach it. */
export function tunnelView(pf: PortForward): object {
  const m = pf.metadata;
  const spec = (pf.spec ?? {}) as { ports?: unknown };
  return {
    kind: 'PortForward',
    apiVersion: GROUP_VERSION,
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, creationTimestamp: m.creationTimestamp },
    spec: { ports: spec.ports },
    status: { phase: pf.status?.phase, access: pf.status?.access },
  };
}
