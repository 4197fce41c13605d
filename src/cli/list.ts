// `kubectl pf list`: the PortForwards of a namespace, or of all (-A), as a table (list-rows.ts) or
// as objects (-o json|yaml|name, as kubectl get prints them).
import { CustomObjectsApi, dumpYaml, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type PortForward } from '../api/index.js';
import { isApiError } from '../kube/errors.js';
import type { Output } from './connect.js';
import { RESOURCE, type OutputFormat } from './create.js';
import { NO_PORTFORWARD_TYPE } from './kube.js';
import { listRow, listTable } from './list-rows.js';

/** The PortForwards of `namespace` (every namespace when undefined), sorted by namespace and name. */
export async function listPortForwards(kc: KubeConfig, namespace: string | undefined): Promise<PortForward[]> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const where = { group: GROUP, version: VERSION, plural: PLURAL };
  const list = (namespace === undefined
    ? await api.listClusterCustomObject(where)
    : await api.listNamespacedCustomObject({ ...where, namespace })) as { items?: PortForward[] };
  const key = (pf: PortForward) => `${pf.metadata.namespace ?? ''}/${pf.metadata.name ?? ''}`;
  return [...(list.items ?? [])].sort((a, b) => key(a).localeCompare(key(b)));
}

export interface ListOptions {
  kc: KubeConfig;
  namespace: string;
  allNamespaces: boolean;
  output?: OutputFormat;
  io: Output;
  nowMs?: number;
}

export async function runList(o: ListOptions): Promise<number> {
  const { io } = o;
  let items: PortForward[];
  try {
    items = await listPortForwards(o.kc, o.allNamespaces ? undefined : o.namespace);
  } catch (err) {
    if (!isApiError(err, 404)) throw err;
    io.err(`error: ${NO_PORTFORWARD_TYPE}`);
    return 1;
  }
  if (o.output === 'name') {
    for (const pf of items) io.out(`${RESOURCE}/${pf.metadata.name}`);
    return 0;
  }
  if (o.output) {
    // kubectl get prints a list of anything as a v1 List
    const list = { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
    io.out(o.output === 'json' ? JSON.stringify(list, null, 4) : dumpYaml(list).trimEnd());
    return 0;
  }
  if (items.length === 0) {
    io.err(o.allNamespaces ? 'No PortForwards found.' : `No PortForwards found in namespace ${o.namespace}.`);
    return 0;
  }
  const now = o.nowMs ?? Date.now();
  for (const line of listTable(items.map((pf) => listRow(pf, now)), o.allNamespaces)) io.out(line);
  return 0;
}
