// What a pod's status says, read the same way everywhere.
import type { V1Pod } from '@kubernetes/client-node';

export function isPodReady(pod: V1Pod | undefined): boolean {
  return (pod?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Ended for good: with restartPolicy Always only an evicted or rejected pod gets here. */
export function isPodFinished(pod: V1Pod): boolean {
  return pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';
}
