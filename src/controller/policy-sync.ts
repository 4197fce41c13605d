// The helper's NetworkPolicy: created before the helper, so that a helper is never reachable
// beyond its clients, kept in line with the spec, and deleted with the PortForward.
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import type { PortForward } from '../api/index.js';
import type { KubeApi } from '../kube/api.js';
import { isApiError } from '../kube/errors.js';
import type { Store } from '../kube/resilient-informer.js';
import { LABELS } from '../resources/names.js';
import { canonical } from '../util/canonical.js';
import { ownerSelector } from './helper-pods.js';

/**
 * What must match, read the same from both sources: client-node's typed objects (from a list, and
 * what we build) name a rule's peers `_from`, a watch event's plain JSON names them `from`.
 */
function shape(p: V1NetworkPolicy): string {
  const ingress = (p.spec?.ingress ?? []).map((r) => ({ from: r._from ?? (r as { from?: unknown }).from, ports: r.ports }));
  return canonical({ podSelector: p.spec?.podSelector, policyTypes: p.spec?.policyTypes, ingress, labels: p.metadata?.labels, annotations: p.metadata?.annotations });
}

/** Writes the desired policy when it is missing or drifted; 'retry' when the cache has not caught up. */
export async function syncHelperPolicy(api: KubeApi, cache: Store<V1NetworkPolicy>, desired: V1NetworkPolicy): Promise<'synced' | 'retry'> {
  const existing = cache.get(desired.metadata!.namespace!, desired.metadata!.name!);
  try {
    if (!existing) await api.createNetworkPolicy(desired);
    else if (shape(existing) !== shape(desired)) {
      await api.replaceNetworkPolicy({ ...desired, metadata: { ...desired.metadata, resourceVersion: existing.metadata?.resourceVersion } });
    }
  } catch (err) {
    if (isApiError(err, 409)) return 'retry'; // the cache lags behind our own write, or someone else's
    throw err;
  }
  return 'synced';
}

/** Deletes every policy of the PortForward with this uid, asking the API server rather than the cache. */
export async function deleteHelperPolicies(api: KubeApi, namespace: string, ownerUid: string, log: Logger): Promise<void> {
  for (const policy of await api.listNetworkPolicies(namespace, ownerSelector(ownerUid))) {
    await api.deleteNetworkPolicy(namespace, policy.metadata!.name!);
    log.info('deleted helper NetworkPolicy', { policy: policy.metadata!.name });
  }
}

/** Policies whose PortForward no longer exists (deleted while no operator ran): the resync sweeps them. */
export function orphanPolicies(policies: Store<V1NetworkPolicy>, portForwards: Store<PortForward>, namespace: string): V1NetworkPolicy[] {
  const live = new Set(portForwards.list().map((pf) => pf.metadata.uid));
  return policies.list(namespace).filter((p) => {
    const uid = p.metadata?.labels?.[LABELS.ownerUid];
    return uid !== undefined && !live.has(uid);
  });
}
