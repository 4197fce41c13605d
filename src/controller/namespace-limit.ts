// MAX_HELPERS_PER_NAMESPACE: the oldest PortForwards of a namespace get helpers, the rest wait.
// Deterministic from the cache alone (creation time, then name), so every pass and every replica
// agrees on which ones are over, and the next in line moves up as soon as one is deleted.
import type { PortForward } from '../api/index.js';
import { timeMs } from '../kube/time.js';
import type { Readiness } from './reasons.js';

function olderThan(a: PortForward, b: PortForward): boolean {
  const [ta, tb] = [timeMs(a.metadata.creationTimestamp) ?? 0, timeMs(b.metadata.creationTimestamp) ?? 0];
  return ta < tb || (ta === tb && (a.metadata.name ?? '') < (b.metadata.name ?? ''));
}

/** Whether pf is among the `limit` oldest PortForwards in `namespaceItems` (0: no limit). */
export function withinNamespaceLimit(pf: PortForward, namespaceItems: readonly PortForward[], limit: number): boolean {
  if (limit <= 0) return true;
  let older = 0;
  for (const other of namespaceItems) {
    if (other.metadata.deletionTimestamp || other.metadata.uid === pf.metadata.uid) continue;
    if (olderThan(other, pf) && ++older >= limit) return false;
  }
  return true;
}

export function namespaceLimitReadiness(namespace: string, limit: number): Readiness {
  return {
    reason: 'NamespaceLimitReached',
    message:
      `Namespace ${namespace} has more PortForwards than the ${limit} that may have a helper at once (MAX_HELPERS_PER_NAMESPACE); ` +
      `the oldest ones have them. This one starts when an older one is deleted: kubectl get portforwards -n ${namespace}.`,
  };
}
