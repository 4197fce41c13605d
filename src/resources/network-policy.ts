// The NetworkPolicy in front of a PortForward's helper: who inside the cluster may reach the tunnel.
// The helper lives in the helpers' namespace, whose default is to deny all ingress
// (manifests/network-policies.yaml); this policy opens the relay ports to the PortForward's own
// namespace and to the peers in spec.clients, and nothing else. A pure function of the spec.
import type { V1LabelSelector, V1NetworkPolicy, V1NetworkPolicyPeer } from '@kubernetes/client-node';
import { NAMESPACE_NAME_LABEL, type ClientPeer, type Owner, type PortForwardSpec } from '../api/index.js';
import { ANNOTATIONS, LABELS, MANAGED_BY } from './names.js';

/** One policy per PortForward, named by its UID: no two PortForwards can ever share a name. */
export function helperPolicyName(owner: Owner): string {
  return `pf-${owner.uid}`;
}

function namespaceNamed(name: string): V1LabelSelector {
  return { matchLabels: { [NAMESPACE_NAME_LABEL]: name } };
}

/**
 * A client as a peer of a policy in the helpers' namespace. A podSelector alone means pods in the
 * PortForward's namespace (as it would in a policy there), so it is pinned to that namespace here.
 */
export function clientPeer(pfNamespace: string, client: ClientPeer): V1NetworkPolicyPeer {
  return {
    namespaceSelector: client.namespaceSelector ?? namespaceNamed(pfNamespace),
    ...(client.podSelector ? { podSelector: client.podSelector } : {}),
  };
}

export function helperPolicyFor(owner: Owner, spec: PortForwardSpec, helperNamespace: string): V1NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: helperPolicyName(owner),
      namespace: helperNamespace,
      labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.component]: 'helper', [LABELS.ownerUid]: owner.uid },
      annotations: { [ANNOTATIONS.owner]: `${owner.namespace}/${owner.name}` },
    },
    spec: {
      podSelector: { matchLabels: { [LABELS.component]: 'helper', [LABELS.ownerUid]: owner.uid } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          _from: [{ namespaceSelector: namespaceNamed(owner.namespace) }, ...(spec.clients ?? []).map((c) => clientPeer(owner.namespace, c))],
          ports: spec.ports.map((p) => ({ port: p.port, protocol: p.protocol })),
        },
      ],
    },
  };
}
