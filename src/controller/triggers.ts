// Which PortForwards an observed change concerns. Handlers only compute keys; the reconciler reads
// the current state itself.
import type { KubernetesObject, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { KIND, type PortForward } from '../api/index.js';
import type { Store } from '../kube/informer.js';
import { ANNOTATIONS, LABELS, MANAGED_BY } from '../resources/names.js';
import { keyOfPortForward } from './keys.js';


/** The target as written, read defensively: the spec may be invalid. */
function rawTarget(pf: PortForward): { namespace?: unknown; pod?: unknown } {
  const target = (pf.spec as { target?: unknown } | undefined)?.target;
  return typeof target === 'object' && target !== null ? (target as { namespace?: unknown; pod?: unknown }) : {};
}

export function targetNamespaceOf(pf: PortForward): string {
  const ns = rawTarget(pf).namespace;
  return typeof ns === 'string' && ns !== '' ? ns : (pf.metadata.namespace ?? '');
}

/**
 * A helper pod concerns its owner. Any other pod concerns the PortForwards that target its
 * namespace: by name when they name a pod, always when they select (labels may have changed),
 * and whichever currently enters it.
 */
export function keysForPod(pod: V1Pod, portForwards: Store<PortForward>, operatorNamespace: string): string[] {
  const labels = pod.metadata?.labels ?? {};
  if (pod.metadata?.namespace === operatorNamespace && labels[LABELS.managedBy] === MANAGED_BY) {
    const owner = pod.metadata?.annotations?.[ANNOTATIONS.owner];
    return owner ? [owner] : [];
  }
  const namespace = pod.metadata?.namespace;
  return portForwards
    .list()
    .filter((pf) => {
      if (pf.status?.target?.uid !== undefined && pf.status.target.uid === pod.metadata?.uid) return true;
      if (targetNamespaceOf(pf) !== namespace) return false;
      const named = rawTarget(pf).pod;
      return typeof named !== 'string' || named === pod.metadata?.name;
    })
    .map(keyOfPortForward);
}

/** A Service or EndpointSlice concerns the PortForward that controls it (same namespace, by uid). */
export function keysForOwned(obj: KubernetesObject, portForwards: Store<PortForward>): string[] {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller === true && r.kind === KIND);
  if (!ref) return [];
  const owner = portForwards.list(obj.metadata?.namespace).find((pf) => pf.metadata.uid === ref.uid);
  return owner ? [keyOfPortForward(owner)] : [];
}

/** A namespace (its opt-in annotation) concerns the PortForwards reaching into it from elsewhere. */
export function keysForNamespace(namespace: V1Namespace, portForwards: Store<PortForward>): string[] {
  const name = namespace.metadata?.name;
  return portForwards
    .list()
    .filter((pf) => pf.metadata.namespace !== name && targetNamespaceOf(pf) === name)
    .map(keyOfPortForward);
}
