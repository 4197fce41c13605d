// Where `kubectl pf forward` goes, read from the cluster: each REMOTE as a port inside the target's
// pods (so LOCAL defaults as kubectl port-forward's do), and the target as the PortForward names it:
// a pod, a selector, a Service or a workload, which the operator resolves to a ready pod again and
// follows when that pod is replaced.
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1LabelSelector, type V1PodSpec } from '@kubernetes/client-node';
import type { LabelSelector } from '../api/index.js';
import { formatSelector } from '../controller/selector.js';
import { isApiError } from '../kube/errors.js';
import { UsageError } from './args.js';
import { containerPortByName, forwardedPort, pickPod, selectorOf, servicePort, targetRef, type ForwardTarget, type WorkloadKind } from './forward-target.js';
import { apiErrorMessage } from './kube.js';
import type { ForwardedPort, TargetForwardPort } from './ports.js';

export interface ResolvedForward {
  target: { pod: string } | { selector: LabelSelector } | { service: string } | { workload: { kind: WorkloadKind; name: string } };
  /** REMOTE as a port inside the target, LOCAL as kubectl port-forward would listen. */
  forwards: ForwardedPort[];
}

/** A target that does not exist is the user's to fix (exit 2), in the API server's words. */
async function read<T>(what: () => Promise<T>): Promise<T> {
  try {
    return await what();
  } catch (err) {
    if (isApiError(err, 404)) throw new UsageError(apiErrorMessage(err));
    throw err;
  }
}

async function readWorkload(apps: AppsV1Api, kind: WorkloadKind, name: string, namespace: string): Promise<{ selector?: V1LabelSelector; template?: V1PodSpec }> {
  const at = { name, namespace };
  const w =
    kind === 'Deployment'
      ? await apps.readNamespacedDeployment(at)
      : kind === 'StatefulSet'
        ? await apps.readNamespacedStatefulSet(at)
        : kind === 'DaemonSet'
          ? await apps.readNamespacedDaemonSet(at)
          : await apps.readNamespacedReplicaSet(at);
  return { selector: w.spec?.selector, template: w.spec?.template?.spec };
}

export async function resolveForward(kc: KubeConfig, namespace: string, target: ForwardTarget, ports: readonly TargetForwardPort[]): Promise<ResolvedForward> {
  const core = kc.makeApiClient(CoreV1Api);
  const ref = targetRef(target);
  const named = ports.some((p) => typeof p.remote === 'string');

  /** The pod spec to read named ports from, as kubectl picks one: a running, ready pod of the selector. */
  const podSpecOf = async (selector: LabelSelector, why: string): Promise<{ spec?: V1PodSpec; where: string }> => {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: formatSelector(selector) });
    const pod = pickPod(pods.items);
    if (!pod) throw new UsageError(`no running pod of ${ref} to resolve ${why} from`);
    return { spec: pod.spec, where: `pod/${pod.metadata?.name}` };
  };
  /** REMOTE numbers stay; names are looked up in `spec`. */
  const byContainerPorts = async (spec: () => Promise<{ spec?: V1PodSpec; where: string }>): Promise<ForwardedPort[]> => {
    const pod = named ? await spec() : undefined;
    return ports.map((p) => {
      const port = typeof p.remote === 'number' ? p.remote : containerPortByName(pod?.spec, p.remote, p.protocol, pod?.where ?? ref);
      return forwardedPort(p, port, port);
    });
  };

  switch (target.kind) {
    case 'pod': {
      const forwards = await byContainerPorts(async () => ({ spec: (await read(() => core.readNamespacedPod({ name: target.name, namespace }))).spec, where: ref }));
      return { target: { pod: target.name }, forwards };
    }
    case 'selector': {
      const forwards = await byContainerPorts(() => podSpecOf(target.selector, 'named ports'));
      return { target: { selector: target.selector }, forwards };
    }
    case 'workload': {
      const w = await read(() => readWorkload(kc.makeApiClient(AppsV1Api), target.workload, target.name, namespace));
      selectorOf(w.selector, ref); // a workload without a selector names no pods: refused here already
      // Named ports come from the pod template: every pod of the workload has them.
      const forwards = await byContainerPorts(async () => ({ spec: w.template, where: ref }));
      return { target: { workload: { kind: target.workload, name: target.name } }, forwards };
    }
    case 'service': {
      const svc = await read(() => core.readNamespacedService({ name: target.name, namespace }));
      const selector = selectorOf({ matchLabels: svc.spec?.selector }, ref);
      let pod: Promise<{ spec?: V1PodSpec; where: string }> | undefined;
      const forwards: ForwardedPort[] = [];
      for (const p of ports) {
        // REMOTE is a Service port; LOCAL defaults to it, the tunnel goes to its targetPort.
        const m = servicePort(svc, p.remote, p.protocol);
        let inPod: number;
        if (typeof m.targetPort === 'number') inPod = m.targetPort;
        else {
          pod ??= podSpecOf(selector, `its targetPort "${m.targetPort}"`);
          const { spec, where } = await pod;
          inPod = containerPortByName(spec, m.targetPort, p.protocol, where);
        }
        forwards.push({ ...forwardedPort(p, inPod, m.port), servicePort: m.port });
      }
      return { target: { service: target.name }, forwards };
    }
  }
}
