// Who and what a pass is about: the PortForward that owns the children, and the pod its target
// resolved to. Shared by the builders (resources/) and the controller.
import type { V1ObjectMeta, V1Toleration } from '@kubernetes/client-node';

/** The PortForward that owns a child object. */
export interface Owner {
  namespace: string;
  name: string;
  uid: string;
}

/** The one running pod a target resolved to, and its node. */
export interface ResolvedTarget {
  namespace: string;
  pod: string;
  uid: string;
  node: string;
  /** The pod's IPs: the helper enters only a namespace that carries one. */
  ips: string[];
  /** The pod's tolerations: the helper tolerates what its target does, to stay beside it. */
  tolerations: V1Toleration[];
  /** Where each of the spec's ports leads inside the pod, in the spec's order (names resolved). */
  ports: number[];
  /** Why this pod: e.g. "the oldest of 3 ready pods behind service/web". */
  chosenBy: string;
}

export function ownerOf(obj: { metadata: V1ObjectMeta }): Owner {
  return { namespace: obj.metadata.namespace!, name: obj.metadata.name!, uid: obj.metadata.uid! };
}
