// What a pod's status says, read the same way everywhere.
import type { V1Pod, V1Toleration } from '@kubernetes/client-node';

export function isPodReady(pod: V1Pod | undefined): boolean {
  return (pod?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Ended for good: with restartPolicy Always only an evicted or rejected pod gets here. */
export function isPodFinished(pod: V1Pod): boolean {
  return pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';
}

/**
 * The pod's tolerations that matter to a pod bound to its node: NoExecute ones (or those of every
 * effect). NoSchedule taints only steer the scheduler, which a helper with nodeName skips; the
 * kubelet's admission and the taint manager's evictions go by NoExecute taints.
 */
export function noExecuteTolerations(pod: V1Pod): V1Toleration[] {
  return (pod.spec?.tolerations ?? []).filter((t) => !t.effect || t.effect === 'NoExecute');
}

/**
 * What the operator's pod cache keeps: the fields that target resolution, helper planning and
 * status read, and none of the rest (managed fields, most annotations, environment, volumes). The
 * cache holds every pod of the cluster, so a fat pod must not make the operator fat.
 */
export function projectPod(pod: V1Pod): V1Pod {
  const m = pod.metadata ?? {};
  const ours = Object.entries(m.annotations ?? {}).filter(([k]) => k.startsWith('portforward.io/'));
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp,
      deletionTimestamp: m.deletionTimestamp,
      labels: m.labels,
      ownerReferences: m.ownerReferences,
      ...(ours.length ? { annotations: Object.fromEntries(ours) } : {}),
    },
    spec: {
      nodeName: pod.spec?.nodeName,
      hostNetwork: pod.spec?.hostNetwork,
      tolerations: noExecuteTolerations(pod),
      containers: (pod.spec?.containers ?? []).map((c) => ({ name: c.name, ports: c.ports })),
    },
    status: {
      phase: pod.status?.phase,
      // why the kubelet rejected or evicted it (OutOfmemory, Evicted...): a helper's backoff says so
      reason: pod.status?.reason,
      message: pod.status?.message?.slice(0, 256),
      podIP: pod.status?.podIP,
      podIPs: pod.status?.podIPs,
      conditions: pod.status?.conditions?.map((c) => ({ type: c.type, status: c.status, lastTransitionTime: c.lastTransitionTime })),
      containerStatuses: pod.status?.containerStatuses?.map((c) => ({
        name: c.name,
        ready: c.ready,
        restartCount: c.restartCount,
        image: '',
        imageID: '',
        state: c.state,
        lastState: c.lastState,
      })),
    },
  };
}
