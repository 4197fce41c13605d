// Small builders for the objects tests talk about.
import type { V1Pod } from '@kubernetes/client-node';
import { API_VERSION, KIND, parseSpec, type PortForward, type PortForwardSpec } from '../../../src/api/index.js';
import type { ReconcilerConfig } from '../../../src/controller/reconciler.js';

export const HELPER_NAMESPACE = 'portforward-helpers';

export const config: ReconcilerConfig = {
  helperNamespace: HELPER_NAMESPACE,
  helperImage: 'localhost/portforward-helper:dev',
  helperImagePullPolicy: 'IfNotPresent',
  helperDataPath: 'splice',
  helperPriorityClass: 'portforward-helper',
  maxTtlSeconds: undefined,
  helperMaxStartingPerNode: 8,
  maxHelpersPerNamespace: 0,
  readyCheck: 'traffic',
  readySettleMs: 0,
};

export interface PodOptions {
  node?: string;
  labels?: Record<string, string>;
  ready?: boolean;
  phase?: string;
  created?: string;
  hostNetwork?: boolean;
  uid?: string;
  deleting?: boolean;
}

export function pod(namespace: string, name: string, o: PodOptions = {}): V1Pod {
  const phase = o.phase ?? 'Running';
  return {
    metadata: {
      name,
      namespace,
      uid: o.uid ?? `uid-${namespace}-${name}`,
      labels: o.labels,
      creationTimestamp: new Date(o.created ?? '2029-12-31T00:00:00Z'),
      ...(o.deleting ? { deletionTimestamp: new Date('2030-01-01T00:00:00Z') } : {}),
    },
    spec: {
      containers: [{ name: 'app', image: 'app' }],
      ...(phase === 'Pending' ? {} : { nodeName: o.node ?? 'node-1' }),
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
    },
    status: {
      phase,
      conditions: [{ type: 'Ready', status: (o.ready ?? true) ? 'True' : 'False' }],
      ...(phase === 'Pending' ? {} : { podIP: '10.1.0.9', podIPs: [{ ip: '10.1.0.9' }] }),
    },
  };
}

export function portForward(namespace: string, name: string, spec: unknown, created = '2030-01-01T00:00:00Z'): PortForward {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { namespace, name, creationTimestamp: created as unknown as Date }, spec };
}

export function validSpec(spec: unknown): PortForwardSpec {
  const parsed = parseSpec(spec);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.spec;
}
