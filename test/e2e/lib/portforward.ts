// Helpers for PortForward stories: targets that listen on loopback only, and reading status.
import type { V1Pod } from '@kubernetes/client-node';
import { parseSpec } from '../../../src/api/index.js';
import { helperPodFor } from '../../../src/resources/helper-pod.js';
import { apply, eventually, exec, getJson, kubectl, testNamespace, toolboxPod, waitRunning, type PodOptions } from './kube.js';

export const OPERATOR_NS = 'portforward-system';
/** Where the helper pods and their NetworkPolicies run. */
export const HELPER_NS = 'portforward-helpers';

/** Restarts the operator with these settings (NAME=value, or NAME- to remove) and waits for it. */
export async function restartOperatorWith(...env: string[]): Promise<void> {
  await kubectl(['set', 'env', '-n', OPERATOR_NS, 'deployment/portforward-operator', ...env]);
  await kubectl(['rollout', 'status', '-n', OPERATOR_NS, 'deployment/portforward-operator', '--timeout=180s'], { timeoutMs: 190_000 });
}

/** The command of a pod serving HTTP on 127.0.0.1:8080 (its hostname) and a UDP echo on 127.0.0.1:5353 only. */
export const LOOPBACK_SERVERS = (() => {
  const udpEcho =
    "import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind((\"127.0.0.1\",5353))\n" +
    'while True:\n d,a=s.recvfrom(2048);s.sendto(b"echo:"+d,a)';
  return (
    `mkdir -p /srv && echo "hello from $(hostname)" > /srv/index.html && ` +
    `(python3 -c '${udpEcho}' &) && exec python3 -m http.server 8080 --bind 127.0.0.1 --directory /srv`
  );
})();

/** A pod serving HTTP (TCP) and a UDP echo on 127.0.0.1 only: unreachable from other pods. */
export function loopbackTarget(ns: string, name: string, labels: Record<string, string> = { app: name }, opts: PodOptions = {}) {
  return toolboxPod(ns, name, LOOPBACK_SERVERS, { labels, ...opts });
}

/** A fresh namespace with a running loopback-only target pod named "web". */
export async function namespaceWithTarget(prefix: string) {
  const ns = await testNamespace(prefix);
  await apply(loopbackTarget(ns.name, 'web'));
  await waitRunning(ns.name, 'web');
  return ns;
}

export function portForward(ns: string, name: string, spec: object) {
  return { apiVersion: 'portforward.io/v1alpha1', kind: 'PortForward', metadata: { name, namespace: ns }, spec };
}

export async function getPf(ns: string, name: string): Promise<any> {
  return getJson(['portforward', '-n', ns, name]);
}

export async function waitReady(ns: string, name: string, timeoutS = 120): Promise<any> {
  await kubectl(['wait', '-n', ns, '--for=condition=Ready', `portforward/${name}`, `--timeout=${timeoutS}s`], {
    timeoutMs: (timeoutS + 10) * 1000,
  });
  return getPf(ns, name);
}

/** Waits until the Ready condition has the given reason; returns the PortForward. */
export async function waitReason(ns: string, name: string, reason: string, timeoutMs = 60_000): Promise<any> {
  return eventually(`${ns}/${name} Ready reason ${reason}`, async () => {
    const pf = await getPf(ns, name);
    const ready = (pf.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
    if (ready?.reason === reason) return pf;
    // a timeout names the last reason seen
    throw new Error(`last: ${ready?.reason ?? 'no Ready condition'}: ${ready?.message ?? ''}`);
  }, timeoutMs);
}

/** The operator's helper pods for a PortForward. */
export async function helpersOf(pfUid: string): Promise<any[]> {
  return (await getJson(['pods', '-n', HELPER_NS, '-l', `portforward.io/owner-uid=${pfUid}`])).items;
}

/**
 * A client pod to send traffic from. Requests retry for up to 10 s: kube-proxy programs a Service a
 * moment after its Endpoints are written, so the first request after Ready may be refused. A
 * request that should fail still fails, 10 s later.
 */
export async function clientPod(ns: string, name = 'client') {
  await apply(toolboxPod(ns, name, 'exec sleep infinity'));
  await waitRunning(ns, name);
  const retrying = (what: string, command: string[]) => eventually(what, () => exec(ns, name, command), 10_000);
  return {
    curl: (url: string) => retrying(`GET ${url}`, ['curl', '-sf', '--max-time', '3', url]),
    /** One attempt, no retry: for asserting how a request fails. */
    curlOnce: (url: string) => exec(ns, name, ['curl', '-sf', '--max-time', '3', url]),
    udp: (host: string, port: number, text: string) =>
      retrying(`UDP ${host}:${port}`, [
        'python3', '-c',
        `import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(3);` +
          `s.sendto(b'${text}',('${host}',${port}));print(s.recvfrom(2048)[0].decode())`,
      ]),
  };
}

export async function eventsFor(ns: string, name: string): Promise<any[]> {
  const list = await getJson(['events', '-n', ns, '--field-selector', `involvedObject.name=${name},involvedObject.kind=PortForward`]);
  return list.items;
}

/**
 * A helper on the classic exec data path, built by the operator's own builder but labelled so that
 * the operator leaves it alone, and the policy the operator would give it (ingress from clientNs):
 * the baseline for tests and benchmarks. Apply both; delete both by the pod's name.
 */
export function classicHelper(clientNs: string, name: string, spec: unknown, target: any): [V1Pod, object] {
  const parsed = parseSpec(spec);
  if (!parsed.ok) throw new Error(parsed.message);
  const pod = helperPodFor(
    { namespace: clientNs, name, uid: `${name}-${clientNs}` },
    parsed.spec,
    { namespace: target.metadata.namespace, pod: target.metadata.name, uid: target.metadata.uid, node: target.spec.nodeName, ips: [target.status.podIP], tolerations: [], ports: parsed.spec.ports.map((p) => Number(p.targetPort ?? p.port)), chosenBy: 'e2e' },
    { namespace: HELPER_NS, image: 'localhost/portforward-helper:dev', imagePullPolicy: 'IfNotPresent', dataPath: 'exec', priorityClassName: 'portforward-helper' },
  );
  pod.metadata!.labels = { app: name }; // not the operator's: it must not adopt or delete it
  const policy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: pod.metadata!.name, namespace: HELPER_NS },
    spec: {
      podSelector: { matchLabels: { app: name } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': clientNs } } }] }],
    },
  };
  return [pod, policy];
}
