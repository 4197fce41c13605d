// The desired Service and Endpoints for a PortForward. The helper runs in the operator's namespace,
// and a Service cannot select pods in another namespace, so the Service has no selector and the
// operator writes its Endpoints itself (the API server's service proxy reads Endpoints; the
// endpointslice-mirroring controller turns them into the EndpointSlices kube-proxy reads).
import type { V1Endpoints, V1OwnerReference, V1Service } from '@kubernetes/client-node';
import { API_VERSION, KIND, defaultPortName, type Owner, type PortForwardSpec, type PortSpec } from '../api/index.js';
import { LABELS, MANAGED_BY, serviceName } from './names.js';

export function servicePortName(p: PortSpec): string {
  return p.name ?? defaultPortName(p);
}

function ownerReference(owner: Owner): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: KIND, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true };
}

function childMetadata(owner: Owner) {
  return {
    name: serviceName(owner.name),
    namespace: owner.namespace,
    labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.component]: 'service', [LABELS.ownerUid]: owner.uid },
    ownerReferences: [ownerReference(owner)],
  };
}

export function serviceFor(owner: Owner, spec: PortForwardSpec): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(owner),
    spec: {
      type: 'ClusterIP',
      ports: spec.ports.map((p) => ({ name: servicePortName(p), port: p.port, targetPort: p.port, protocol: p.protocol })),
    },
  };
}

export interface HelperEndpoint {
  podName: string;
  podNamespace: string;
  podIP: string;
  nodeName: string;
  ready: boolean;
}

/** Endpoints naming the helper pod; none while there is no helper with an IP. */
export function endpointsFor(owner: Owner, spec: PortForwardSpec, helper: HelperEndpoint | undefined): V1Endpoints {
  const address = helper && {
    ip: helper.podIP,
    nodeName: helper.nodeName,
    targetRef: { kind: 'Pod', name: helper.podName, namespace: helper.podNamespace },
  };
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: childMetadata(owner),
    subsets: address
      ? [
          {
            ...(helper.ready ? { addresses: [address] } : { notReadyAddresses: [address] }),
            ports: spec.ports.map((p) => ({ name: servicePortName(p), port: p.port, protocol: p.protocol })),
          },
        ]
      : [],
  };
}
