// The workloads a PortForward may target (Deployments, StatefulSets, DaemonSets, ReplicaSets), as
// the operator caches them: only what target resolution reads (the selector and the owner chain).
import type { KubernetesObject, V1LabelSelector } from '@kubernetes/client-node';
import type { WorkloadKind } from '../api/index.js';

export interface Workload extends KubernetesObject {
  spec?: { selector?: V1LabelSelector };
}

/** Where each kind is listed and watched (group apps/v1). */
export const WORKLOAD_PLURALS: Record<WorkloadKind, string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  ReplicaSet: 'replicasets',
};

export function projectWorkload(w: Workload): Workload {
  const m = w.metadata ?? {};
  return {
    apiVersion: w.apiVersion,
    kind: w.kind,
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, ownerReferences: m.ownerReferences },
    spec: { selector: w.spec?.selector },
  };
}
