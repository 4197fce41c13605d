// The desired helper pod for a PortForward: a pure function of the spec, the target and the config.
import type { V1Pod, V1Probe } from '@kubernetes/client-node';
import { DEFAULT_IDLE_TIMEOUT, parseDuration, type Owner, type PortForwardSpec, type ResolvedTarget } from '../api/index.js';
import { canonical } from '../util/canonical.js';
import { ANNOTATIONS, LABELS, MANAGED_BY, helperPodName, shortHash } from './names.js';

/**
 * How the helper relays (PF_DATA_PATH, docs/helper.md): splice (pf-relay, the default: it drops every
 * privilege once set up), exec (the classic socat + nsenter per connection, privileged for life).
 */
export const HELPER_DATA_PATHS = ['splice', 'exec'] as const;

/** The unprivileged user pf-relay becomes once its listeners are up. */
export const HELPER_RUN_AS = '65532:65532';
export type HelperDataPath = (typeof HELPER_DATA_PATHS)[number];

export interface HelperSettings {
  namespace: string;
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  dataPath: HelperDataPath;
  /** A low PriorityClass, so that under pressure the kubelet evicts helpers before tenants' pods. */
  priorityClassName: string;
}

/** LISTEN:TARGET/proto for each port (TARGET as the target resolved it), the helper entrypoint's PF_PORTS format. */
export function helperPortsArg(spec: PortForwardSpec, target: Pick<ResolvedTarget, 'ports'>): string {
  return spec.ports.map((p, i) => `${p.port}:${target.ports[i]}/${p.protocol.toLowerCase()}`).join(' ');
}

/**
 * Where pf-relay answers the readiness probe: the first port from 9901 up that the PortForward does
 * not use. An HTTP probe costs the node no process; an exec probe forks several, every period, per
 * helper, which on a node with hundreds of helpers is most of its CPU.
 */
export function healthPort(spec: PortForwardSpec): number {
  const used = new Set(spec.ports.filter((p) => p.protocol === 'TCP').map((p) => p.port));
  let port = 9901;
  while (used.has(port)) port++;
  return port;
}

/**
 * The name of the helper's container port for its health port, which also serves the relay's
 * Prometheus metrics (GET /metrics): a PodMonitor and a NetworkPolicy can name it, whatever number
 * healthPort chose, and the operator reads it to find the counters.
 */
export const METRICS_PORT_NAME = 'metrics';

/**
 * The kubelet probes readiness once as the container starts, and a relay a few milliseconds from
 * listening then waits a whole period for the next probe: the period bounds that delay. An HTTP
 * probe a second costs the node little (no process, unlike an exec probe: those forked several per
 * helper per period and starved a 2-core node of hundreds).
 */
function readinessProbe(spec: PortForwardSpec, dataPath: HelperDataPath): V1Probe {
  const timing = { periodSeconds: 1, failureThreshold: 3 };
  if (dataPath === 'splice') return { httpGet: { path: '/ready', port: healthPort(spec) }, ...timing };
  return { exec: { command: ['/usr/local/bin/pf-helper', 'ready'] }, periodSeconds: 5, failureThreshold: 2 };
}

/**
 * The desired helper, stamped with a hash of everything else in it (as a Deployment's
 * pod-template-hash): pods are mostly immutable, so any change to the pod this function builds, an
 * operator upgrade included, shows as a new hash and the helper is replaced.
 */
export function helperPodFor(owner: Owner, spec: PortForwardSpec, target: ResolvedTarget, helper: HelperSettings): V1Pod {
  const pod = helperPodTemplate(owner, spec, target, helper);
  pod.metadata!.annotations![ANNOTATIONS.specHash] = templateHash(pod);
  return pod;
}

/** The hash of a helper pod without its own hash annotation. */
export function templateHash(pod: V1Pod): string {
  const { [ANNOTATIONS.specHash]: _ignored, ...annotations } = pod.metadata?.annotations ?? {};
  return shortHash(canonical({ ...pod, metadata: { ...pod.metadata, annotations } }));
}

function helperPodTemplate(owner: Owner, spec: PortForwardSpec, target: ResolvedTarget, helper: HelperSettings): V1Pod {
  const ports = helperPortsArg(spec, target);
  const needsLowPorts = spec.ports.some((p) => p.port < 1024);
  const splice = helper.dataPath === 'splice';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: helperPodName(owner.namespace, owner.name, target.uid),
      namespace: helper.namespace,
      labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.component]: 'helper',
        [LABELS.ownerUid]: owner.uid,
      },
      annotations: {
        [ANNOTATIONS.owner]: `${owner.namespace}/${owner.name}`,
        [ANNOTATIONS.target]: `${target.namespace}/${target.pod}`,
      },
    },
    spec: {
      nodeName: target.node, // the target's network namespace is only reachable from its node
      hostPID: true, // to find a process of the target pod and open its /proc/PID/ns/net
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 2,
      // What the target tolerates keeps it on its node (the kubelet admits and the taint manager
      // evicts by NoExecute taints even with nodeName set), and nothing more.
      tolerations: target.tolerations,
      priorityClassName: helper.priorityClassName,
      securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'relay',
          image: helper.image,
          imagePullPolicy: helper.imagePullPolicy,
          env: [
            { name: 'PF_TARGET_POD_UID', value: target.uid },
            { name: 'PF_TARGET_POD_IPS', value: target.ips.join(',') },
            { name: 'PF_PORTS', value: ports },
            { name: 'PF_DATA_PATH', value: helper.dataPath },
            ...(splice
              ? [
                  { name: 'PF_HEALTH_PORT', value: String(healthPort(spec)) },
                  { name: 'PF_RUN_AS', value: HELPER_RUN_AS },
                  { name: 'PF_IDLE_TIMEOUT', value: String(parseDuration(spec.idleTimeout ?? DEFAULT_IDLE_TIMEOUT) ?? 0) },
                ]
              : []),
          ],
          ports: [
            ...spec.ports.map((p) => ({ containerPort: p.port, protocol: p.protocol })),
            ...(splice ? [{ name: METRICS_PORT_NAME, containerPort: healthPort(spec), protocol: 'TCP' }] : []),
          ],
          readinessProbe: readinessProbe(spec, helper.dataPath),
          resources: {
            // An idle relay uses next to no CPU; 5m lets 200 helpers fit a 2-core node's allocatable.
            requests: { cpu: '5m', memory: '16Mi' },
            limits: { cpu: '2', memory: '256Mi' },
          },
          securityContext: {
            runAsUser: 0, // setns needs capabilities of the initial user namespace
            readOnlyRootFilesystem: true,
            capabilities: {
              drop: ['ALL'],
              // SYS_ADMIN: setns (and the exec path's bind mount); SYS_PTRACE: open /proc/PID/ns/net;
              // SETUID, SETGID: pf-relay's switch to HELPER_RUN_AS, after which it holds none of them.
              add: ['SYS_ADMIN', 'SYS_PTRACE', ...(splice ? ['SETUID', 'SETGID'] : []), ...(needsLowPorts ? ['NET_BIND_SERVICE'] : [])],
            },
          },
          volumeMounts: [{ name: 'netns', mountPath: '/run/netns' }],
        },
      ],
      volumes: [{ name: 'netns', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }],
    },
  };
}
