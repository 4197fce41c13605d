// Finding and deleting helper pods: those of one PortForward, all of them, and the orphans whose
// PortForward's deletion the operator did not see (the resync sweeps those).
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import type { PortForward } from '../api/index.js';
import type { KubeApi } from '../kube/api.js';
import type { Store } from '../kube/resilient-informer.js';
import { LABELS, MANAGED_BY } from '../resources/names.js';

export const ownerSelector = (uid: string) => `${LABELS.ownerUid}=${uid}`;

/** Helpers of a PortForward as the cache sees them. */
export function cachedHelpers(pods: Store<V1Pod>, namespace: string, uid: string): V1Pod[] {
  return pods.list(namespace).filter((p) => p.metadata?.labels?.[LABELS.ownerUid] === uid);
}

export async function deleteHelpers(api: KubeApi, helpers: readonly V1Pod[], log: Logger, why: string): Promise<void> {
  for (const pod of helpers) {
    if (pod.metadata?.deletionTimestamp) continue;
    await api.deletePod(pod.metadata!.namespace!, pod.metadata!.name!);
    log.info('deleted helper pod', { helper: pod.metadata?.name, why });
  }
}

/** Every helper in the operator's namespace: our pods that name an owning PortForward. */
export function allHelpers(pods: Store<V1Pod>, namespace: string): V1Pod[] {
  return pods
    .list(namespace)
    .filter((p) => p.metadata?.labels?.[LABELS.managedBy] === MANAGED_BY && p.metadata?.labels?.[LABELS.ownerUid] !== undefined);
}

/** Helpers whose owner uid matches no PortForward: left by a PortForward deleted while no operator ran. */
export function orphanHelpers(pods: Store<V1Pod>, portForwards: Store<PortForward>, namespace: string): V1Pod[] {
  const live = new Set(portForwards.list().map((pf) => pf.metadata.uid));
  return allHelpers(pods, namespace).filter((p) => !live.has(p.metadata!.labels![LABELS.ownerUid]!));
}
