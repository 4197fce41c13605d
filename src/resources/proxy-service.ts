// The headless Service beside the helper, in the operator's namespace. The API server's service
// proxy only forwards to pods in the Service's own namespace, so the Service in the PortForward's
// namespace (whose endpoint is the helper, elsewhere) cannot serve /services/.../proxy; this one can.
import type { V1Service } from '@kubernetes/client-node';
import type { Owner, PortForwardSpec } from '../api/index.js';
import type { HelperSettings } from './helper-pod.js';
import { ANNOTATIONS, LABELS, MANAGED_BY, proxyServiceName } from './names.js';
import { servicePortName } from './service.js';

export function proxyServiceFor(owner: Owner, spec: PortForwardSpec, helper: Pick<HelperSettings, 'namespace'>): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: proxyServiceName(owner.namespace, owner.name),
      namespace: helper.namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.component]: 'proxy-service', [LABELS.ownerUid]: owner.uid },
      annotations: { [ANNOTATIONS.owner]: `${owner.namespace}/${owner.name}` },
    },
    spec: {
      clusterIP: 'None', // only the API server's proxy uses it: no virtual IP, no kube-proxy rules
      selector: { [LABELS.ownerUid]: owner.uid, [LABELS.component]: 'helper' },
      ports: spec.ports.map((p) => ({ name: servicePortName(p), port: p.port, targetPort: p.port, protocol: p.protocol })),
    },
  };
}
