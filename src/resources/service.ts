// The desired Service and EndpointSlice for a PortForward. The helper runs in the operator's
// namespace, and a Service cannot select pods in another namespace, so the Service has no selector
// and the operator writes its EndpointSlice itself (discovery.k8s.io/v1, which kube-proxy and
// CoreDNS read; v1 Endpoints are deprecated since Kubernetes 1.33).
import { isIPv6 } from 'node:net';
import type { V1EndpointSlice, V1OwnerReference, V1Service } from '@kubernetes/client-node';
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

/** Labels that tie an EndpointSlice to its Service and tell the EndpointSlice controller it is not its own. */
export const SLICE_LABELS = {
  serviceName: 'kubernetes.io/service-name',
  managedBy: 'endpointslice.kubernetes.io/managed-by',
} as const;

/** The EndpointSlice naming the helper pod; no endpoints while there is no helper with an IP. */
export function endpointSliceFor(owner: Owner, spec: PortForwardSpec, helper: HelperEndpoint | undefined): V1EndpointSlice {
  const meta = childMetadata(owner);
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      ...meta,
      labels: { ...meta.labels, [LABELS.component]: 'endpoints', [SLICE_LABELS.serviceName]: meta.name, [SLICE_LABELS.managedBy]: MANAGED_BY },
    },
    addressType: helper && isIPv6(helper.podIP) ? 'IPv6' : 'IPv4',
    endpoints: helper
      ? [
          {
            addresses: [helper.podIP],
            conditions: { ready: helper.ready, serving: helper.ready, terminating: false },
            nodeName: helper.nodeName,
            targetRef: { kind: 'Pod', name: helper.podName, namespace: helper.podNamespace },
          },
        ]
      : [],
    ports: spec.ports.map((p) => ({ name: servicePortName(p), port: p.port, protocol: p.protocol })),
  };
}
