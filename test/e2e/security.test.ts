// Who can do what: the operator holds only the rights it needs, a user who may only create
// PortForwards gets no more than a tunnel the policy allows, helpers run with named capabilities
// and no token, and a ttl really ends a tunnel.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { KUBECONFIG, apply, eventually, exec, getJson, kubectl, sleep, testNamespace, toolboxPod, waitRunning } from './lib/kube.js';
import { HELPER_NS, OPERATOR_NS, classicHelper, clientPod, eventsFor, getPf, helpersOf, loopbackTarget, portForward, waitReady, waitReason, namespaceWithTarget } from './lib/portforward.js';

const execFileP = promisify(execFile);
type Ns = Awaited<ReturnType<typeof testNamespace>>;

/** What a helper starts with, sorted: enough to enter a namespace and then to give it all up. */
const HELPER_CAPABILITIES = ['SETGID', 'SETUID', 'SYS_ADMIN', 'SYS_PTRACE'];
const OPERATOR_SA = `system:serviceaccount:${OPERATOR_NS}:portforward-operator`;

/** `kubectl auth can-i ...` as someone: true for yes, false for no (exit 1). Subresources go in --subresource: pods/exec would mean the pod named exec. */
async function canI(as: string, ...args: string[]): Promise<boolean> {
  try {
    const { stdout } = await execFileP('kubectl', ['--kubeconfig', KUBECONFIG, 'auth', 'can-i', `--as=${as}`, ...args]);
    return stdout.trim() === 'yes';
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    if (stdout?.trim() === 'no') return false;
    throw new Error(`kubectl auth can-i ${args.join(' ')}: ${stderr}`);
  }
}

/**
 * The node's /proc/PID/task/TID directories of a container's processes, found by its ID in their
 * cgroup: read from outside, as an admin on the node would, not from inside the helper.
 */
function containerTasks(containerID: string): string[] {
  const id = containerID.replace(/^[a-z]+:\/\//, '');
  const tasks: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(id)) continue;
      for (const tid of readdirSync(`/proc/${pid}/task`)) tasks.push(`/proc/${pid}/task/${tid}`);
    } catch {
      // gone meanwhile
    }
  }
  return tasks;
}

/** Capability numbers set in a hex mask from /proc/PID/status. */
function capabilities(hex: string): number[] {
  const mask = BigInt(`0x${hex}`);
  return Array.from({ length: 64 }, (_, bit) => bit).filter((bit) => (mask >> BigInt(bit)) & 1n);
}

/** The helper image, where the operator's Deployment and the admission policy both read it. */
async function helperImage(): Promise<string> {
  return (await getJson(['configmap', '-n', OPERATOR_NS, 'portforward-helper-image'])).data.image;
}

/** Sends obj to the API server as `as` with --dry-run=server (admission runs, nothing is stored); the refusal's message, or undefined. */
async function refusalFor(as: string, obj: object, verb: 'create' | 'replace' = 'create'): Promise<string | undefined> {
  try {
    await kubectl([`--as=${as}`, verb, '--dry-run=server', '-f', '-'], { input: JSON.stringify(obj) });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function theHelper(pfUid: string): Promise<any> {
  return eventually('one running helper', async () => {
    const pods = (await helpersOf(pfUid)).filter((p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running');
    return pods.length === 1 ? pods[0] : undefined;
  });
}

describe('the operator itself', () => {
  it('cannot read Secrets anywhere', async () => {
    assert.equal(await canI(OPERATOR_SA, 'get', 'secrets', '-A'), false);
    assert.equal(await canI(OPERATOR_SA, 'list', 'secrets', '-A'), false);
    assert.equal(await canI(OPERATOR_SA, 'get', 'secrets', '-n', OPERATOR_NS), false);
  });

  it('creates pods only in the helpers\' namespace, and cannot exec into any or grant itself more', async () => {
    assert.equal(await canI(OPERATOR_SA, 'create', 'pods', '-n', HELPER_NS), true, 'it does need its helpers');
    assert.equal(await canI(OPERATOR_SA, 'create', 'pods', '-n', OPERATOR_NS), false, 'not beside itself, where Pod Security is restricted');
    assert.equal(await canI(OPERATOR_SA, 'create', 'pods', '-n', 'default'), false);
    assert.equal(await canI(OPERATOR_SA, 'create', 'pods', '-n', 'kube-system'), false);
    assert.equal(await canI(OPERATOR_SA, 'create', 'pods', '--subresource=exec', '-n', HELPER_NS), false);
    assert.equal(await canI(OPERATOR_SA, 'create', 'rolebindings', '-n', HELPER_NS), false);
    assert.equal(await canI(OPERATOR_SA, 'update', 'namespaces'), false, 'it cannot opt a namespace in for itself');
    assert.equal(await canI(OPERATOR_SA, 'escalate', 'clusterroles'), false);
    for (const verb of ['patch', 'deletecollection']) {
      for (const resource of ['pods', 'services', 'endpointslices.discovery.k8s.io', 'portforwards.portforward.io', 'events']) {
        assert.equal(await canI(OPERATOR_SA, verb, resource, '-A'), false, `${verb} ${resource}: a verb it never uses`);
      }
    }
  });
});

describe('the operator, held by admission policy to what helpers and tunnels look like', () => {
  let ns: Ns;
  let helper: any; // a pod exactly as the operator builds a helper
  const service = (name: string, spec: object) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns.name, labels: { 'app.kubernetes.io/managed-by': 'portforward-operator' } },
    spec: { ports: [{ port: 80 }], ...spec },
  });
  const helperWith = (change: (pod: any) => void) => {
    const pod = structuredClone(helper);
    change(pod);
    return pod;
  };

  before(async () => {
    ns = await testNamespace('e2e-admission');
    const node = (await getJson(['nodes'])).items[0].metadata.name;
    const target = { metadata: { namespace: ns.name, name: 'web', uid: 'uid-web' }, spec: { nodeName: node }, status: { podIP: '10.251.0.99' } };
    [helper] = classicHelper(ns.name, 'shape', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }, target);
    helper.metadata.labels = { 'app.kubernetes.io/managed-by': 'portforward-operator', 'app.kubernetes.io/component': 'helper' };
    helper.spec.containers[0].image = await helperImage();
    await apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'theirs', namespace: ns.name }, spec: { ports: [{ port: 80 }] } });
  });
  after(async () => {
    await ns?.remove();
  });

  it('lets it create a helper as it builds one', async () => {
    assert.equal(await refusalFor(OPERATOR_SA, helper), undefined);
    assert.equal(await refusalFor(OPERATOR_SA, service('pf-ok', { type: 'ClusterIP' })), undefined);
  });

  it('refuses a privileged pod, a host path, another image or command, the host network, and a pod elsewhere', async () => {
    const refused = async (what: string, pod: any, message: RegExp) => assert.match((await refusalFor(OPERATOR_SA, pod)) ?? 'accepted', message, what);
    const denied = /ValidatingAdmissionPolicy 'portforward-operator-pods'.*denied request/;
    await refused('privileged', helperWith((p) => (p.spec.containers[0].securityContext.privileged = true)), denied);
    await refused('privileged', helperWith((p) => (p.spec.containers[0].securityContext.privileged = true)), /never privileged/);
    await refused('a host path', helperWith((p) => p.spec.volumes.push({ name: 'root', hostPath: { path: '/' } })), /no volume but an emptyDir/);
    await refused('another image', helperWith((p) => (p.spec.containers[0].image = 'localhost/toolbox:dev')), /running the helper image/);
    await refused('a command', helperWith((p) => (p.spec.containers[0].command = ['/bin/sh', '-c', 'cat /proc/1/environ'])), /its image's own entrypoint/);
    await refused('another capability', helperWith((p) => p.spec.containers[0].securityContext.capabilities.add.push('NET_ADMIN')), /adds only/);
    // with the host's network the API server makes every container port a host port, refused first
    await refused('the host network', helperWith((p) => (p.spec.hostNetwork = true)), /never uses the host's network|binds no host port/);
    await refused('the host IPC', helperWith((p) => (p.spec.hostIPC = true)), /never uses the host's network or IPC/);
    // a token arrives as a projected volume, which the volume rule refuses first
    await refused('a token', helperWith((p) => (p.spec.automountServiceAccountToken = true)), /no ServiceAccount token|no volume but an emptyDir/);
    await refused('a second container', helperWith((p) => p.spec.containers.push({ ...p.spec.containers[0], name: 'two' })), /exactly one container/);
    await refused('in another namespace', helperWith((p) => (p.metadata.namespace = ns.name)), /forbidden/);
  });

  it('holds after its policy, binding and the helper image ConfigMap are deleted and created again together, as a reinstall does', async () => {
    // kube-apiserver lost a paramRef'd ConfigMap in this case (kubernetes/kubernetes#133827), and then refused every pod in the cluster
    const names = new Set(['ConfigMap/portforward-helper-image', 'ValidatingAdmissionPolicy/portforward-operator-pods', 'ValidatingAdmissionPolicyBinding/portforward-operator-pods']);
    const objects = parseAllDocuments(await kubectl(['kustomize', 'manifests'])).map((d) => d.toJS()).filter((o) => names.has(`${o?.kind}/${o?.metadata?.name}`));
    assert.equal(objects.length, 3);
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });
    await kubectl(['delete', '--wait', '-f', '-'], { input: list });
    await kubectl(['create', '-f', '-'], { input: list });
    // The API server loads the new policy and binding a moment later: until then every pod passes,
    // so wait for the policy to refuse again before asking whether it admits the helper.
    const privileged = helperWith((p) => (p.spec.containers[0].securityContext.privileged = true));
    await eventually('the policy refusing a privileged helper again', async () => /never privileged/.test((await refusalFor(OPERATOR_SA, privileged)) ?? ''), 30_000);
    await eventually('the helper admitted again', async () => (await refusalFor(OPERATOR_SA, helper)) === undefined, 30_000);
    // as the admin, not impersonating: nobody else's pods are held to the policy
    await kubectl(['create', '--dry-run=server', '-f', '-'], { input: JSON.stringify(toolboxPod(ns.name, 'tenant-pod', 'sleep 1')) });
  });

  it('refuses Services with external IPs or of another type, and touching a Service it did not make', async () => {
    const services = /ClusterIP Services with no selector and no external IPs/;
    assert.match((await refusalFor(OPERATOR_SA, service('pf-lb', { type: 'LoadBalancer' }))) ?? 'accepted', services);
    assert.match((await refusalFor(OPERATOR_SA, service('pf-np', { type: 'NodePort' }))) ?? 'accepted', services);
    assert.match((await refusalFor(OPERATOR_SA, service('pf-ext', { externalIPs: ['10.250.0.2'] }))) ?? 'accepted', services);
    assert.match((await refusalFor(OPERATOR_SA, service('pf-sel', { selector: { app: 'web' } }))) ?? 'accepted', services);
    const unmanaged = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'pf-unlabelled', namespace: ns.name }, spec: { ports: [{ port: 80 }] } };
    assert.match((await refusalFor(OPERATOR_SA, unmanaged)) ?? 'accepted', /only Services and EndpointSlices it made/);
    await assert.rejects(kubectl([`--as=${OPERATOR_SA}`, 'delete', 'service', '-n', ns.name, 'theirs', '--dry-run=server']), /only Services and EndpointSlices it made/);
    const slice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'pf-slice', namespace: ns.name, labels: { 'app.kubernetes.io/managed-by': 'portforward-operator', 'kubernetes.io/service-name': 'pf-ok' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.250.0.2'], targetRef: { kind: 'Pod', name: 'kube-apiserver', namespace: 'kube-system' } }],
      ports: [{ port: 6443 }],
    };
    assert.match((await refusalFor(OPERATOR_SA, slice)) ?? 'accepted', /point only at helper pods/);
  });

  it('holds the gateway to its own certificate\'s Secret and its APIService\'s caBundle', async () => {
    const GATEWAY_SA = `system:serviceaccount:${OPERATOR_NS}:portforward-gateway`;
    const secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'stolen', namespace: OPERATOR_NS }, type: 'kubernetes.io/tls', data: { 'tls.crt': '', 'tls.key': '' } };
    assert.match((await refusalFor(GATEWAY_SA, secret)) ?? 'accepted', /only its own certificate's Secret/);
    const apiService = await getJson(['apiservice', 'v1alpha1.connect.portforward.io']);
    apiService.spec.insecureSkipTLSVerify = true;
    delete apiService.spec.caBundle;
    assert.match((await refusalFor(GATEWAY_SA, apiService, 'replace')) ?? 'accepted', /only its APIService's caBundle/);
  });
});

describe('a user who may only create PortForwards in their namespace', () => {
  let a: Ns; // the user's namespace
  let b: Ns; // someone else's, which has not opted in
  let user: string;
  /** kubectl as that user. */
  const as = (...args: string[]) => kubectl([`--as=${user}`, ...args]);
  const applyAs = (obj: object, ...flags: string[]) => kubectl([`--as=${user}`, 'apply', ...flags, '-f', '-'], { input: JSON.stringify(obj) });

  before(async () => {
    [a, b] = await Promise.all([testNamespace('e2e-sec-a'), testNamespace('e2e-sec-b')]);
    user = `system:serviceaccount:${a.name}:user`;
    await apply(
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'user', namespace: a.name } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'portforward-user', namespace: a.name },
        rules: [{ apiGroups: ['portforward.io'], resources: ['portforwards'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'portforward-user', namespace: a.name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'portforward-user' },
        subjects: [{ kind: 'ServiceAccount', name: 'user', namespace: a.name }],
      },
      loopbackTarget(a.name, 'web'),
      loopbackTarget(b.name, 'secret-db'),
    );
    await Promise.all([waitRunning(a.name, 'web'), waitRunning(b.name, 'secret-db')]);
  });
  after(async () => {
    await Promise.all([a?.remove(), b?.remove()]);
  });

  it('has exactly that right: PortForwards in A, no pods, nothing in B', async () => {
    assert.equal(await canI(user, 'create', 'portforwards', '-n', a.name), true);
    assert.equal(await canI(user, 'create', 'pods', '-n', a.name), false);
    assert.equal(await canI(user, 'create', 'pods', '--subresource=portforward', '-n', b.name), false);
    assert.equal(await canI(user, 'create', 'portforwards', '-n', b.name), false);
    assert.equal(await canI(user, 'create', 'services', '-n', a.name), false);
    assert.equal(await canI(user, 'create', 'pods', '-n', OPERATOR_NS), false);
  });

  it('cannot reach a pod in a namespace that has not opted in: Failed CrossNamespaceNotAllowed, no helper', async () => {
    await applyAs(portForward(a.name, 'sneak', { target: { pod: 'secret-db', namespace: b.name }, ports: [{ port: 10080, targetPort: 8080 }] }));
    const pf = await waitReason(a.name, 'sneak', 'CrossNamespaceNotAllowed');
    assert.equal(pf.status.phase, 'Failed');
    assert.equal(pf.status.target, undefined, 'the status does not reveal the pod');
    // give a wrongly started helper the time to show up before asserting there is none
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(await helpersOf(pf.metadata.uid), []);
    const slice = await getJson(['endpointslice', '-n', a.name, 'pf-sneak']);
    assert.deepEqual(slice.endpoints ?? [], [], 'the Service leads nowhere');
    // and the user cannot look into B to find out more
    await assert.rejects(as('get', 'pods', '-n', b.name), /forbidden/i);
  });

  it("cannot choose the helper's image, command or privileges: such fields are refused, or pruned", async () => {
    const hostile = {
      target: { pod: 'web' },
      ports: [{ port: 10080, targetPort: 8080 }],
      image: 'evil.example/relay:latest',
      command: ['/bin/sh', '-c', 'cat /proc/1/environ'],
      privileged: true,
      securityContext: { privileged: true, capabilities: { add: ['ALL'] } },
      helper: { image: 'evil.example/relay:latest', hostNetwork: true },
    };
    await assert.rejects(applyAs(portForward(a.name, 'hostile', hostile)), /strict decoding error: unknown field "spec\.(command|helper|image|privileged|securityContext)"/);
    // Without client-side validation the API server prunes what its schema does not know.
    await applyAs(portForward(a.name, 'hostile', hostile), '--validate=false');
    const stored = await getPf(a.name, 'hostile');
    assert.deepEqual(Object.keys(stored.spec).sort(), ['ports', 'target']);

    const pf = await waitReady(a.name, 'hostile');
    const helper = await theHelper(pf.metadata.uid);
    const [container] = helper.spec.containers;
    assert.equal(helper.spec.containers.length, 1);
    assert.equal(container.image, await helperImage());
    assert.ok(!JSON.stringify(helper.spec).includes('evil'));
    assert.notEqual(container.securityContext.privileged, true);
    assert.deepEqual([...container.securityContext.capabilities.add].sort(), HELPER_CAPABILITIES);
    assert.notEqual(helper.spec.hostNetwork, true);
  });

  it('cannot make the operator take over a Service it does not own: Failed ServiceNameConflict, the Service untouched', async () => {
    await apply({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'pf-taken', namespace: a.name, labels: { app: 'billing' } },
      spec: { selector: { app: 'billing' }, ports: [{ name: 'https', port: 443, targetPort: 8443 }] },
    });
    const before = await getJson(['service', '-n', a.name, 'pf-taken']);
    await applyAs(portForward(a.name, 'taken', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    const pf = await waitReason(a.name, 'taken', 'ServiceNameConflict');
    assert.equal(pf.status.phase, 'Failed');
    assert.match(pf.status.conditions[0].message, /A Service named "pf-taken" already exists .* not managed by this PortForward/);
    assert.ok((await eventsFor(a.name, 'taken')).some((e) => e.reason === 'ServiceNameConflict' && e.type === 'Warning'));
    assert.deepEqual(await helpersOf(pf.metadata.uid), []);

    const after = await getJson(['service', '-n', a.name, 'pf-taken']);
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, 'not written to at all');
    assert.deepEqual(after.spec.ports, before.spec.ports);
    assert.deepEqual(after.spec.selector, { app: 'billing' });
    assert.equal(after.metadata.ownerReferences, undefined);

    // ...and deleting the PortForward leaves that Service alone too.
    await as('delete', 'portforward', '-n', a.name, 'taken', '--wait=true', '--timeout=60s');
    assert.equal((await getJson(['service', '-n', a.name, 'pf-taken'])).metadata.uid, before.metadata.uid);
  });
});

describe("a helper's real security context", () => {
  let ns: Ns;
  let client: Awaited<ReturnType<typeof clientPod>>;

  before(async () => {
    ns = await testNamespace('e2e-sec-helper');
    await apply(
      loopbackTarget(ns.name, 'web'),
      portForward(ns.name, 'high', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }),
      portForward(ns.name, 'low', { target: { pod: 'web' }, ports: [{ port: 80, targetPort: 8080 }] }),
    );
    await waitRunning(ns.name, 'web');
    client = await clientPod(ns.name);
  });
  after(async () => ns?.remove());

  it('as declared: named capabilities only, no token, read-only root, host PID but its own network', async () => {
    const pf = await waitReady(ns.name, 'high');
    const helper = await theHelper(pf.metadata.uid);
    const { spec } = helper;
    const [container] = spec.containers;
    const sc = container.securityContext;
    assert.equal(spec.hostPID, true);
    assert.notEqual(spec.hostNetwork, true);
    assert.notEqual(spec.hostIPC, true);
    assert.equal(spec.automountServiceAccountToken, false);
    assert.equal(helper.metadata.namespace, HELPER_NS);
    assert.notEqual(sc.privileged, true);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.deepEqual([...sc.capabilities.add].sort(), HELPER_CAPABILITIES, 'to enter the namespace, then give them up');
    const mounts: any[] = container.volumeMounts ?? [];
    assert.ok(!mounts.some((m) => m.mountPath.startsWith('/var/run/secrets')), JSON.stringify(mounts));
    assert.ok(!(spec.volumes ?? []).some((v: any) => v.projected || v.secret), JSON.stringify(spec.volumes));
  });

  it('as an admin sees it on the node: once Ready, no process of the helper container holds a capability or runs as root', async () => {
    const pf = await waitReady(ns.name, 'high');
    const helper = await theHelper(pf.metadata.uid);
    const tasks = containerTasks(helper.status.containerStatuses[0].containerID);
    assert.ok(tasks.length >= 2, `the helper container's threads on the node: ${tasks.length}`);
    for (const task of tasks) {
      const status = readFileSync(`${task}/status`, 'utf8');
      const field = (name: string) => status.match(new RegExp(`^${name}:\\s*(.+)$`, 'm'))![1]!.trim();
      for (const set of ['CapEff', 'CapPrm', 'CapInh', 'CapAmb']) assert.deepEqual(capabilities(field(set)), [], `${task} ${set}`);
      assert.ok(!field('Uid').split(/\s+/).includes('0'), `${task} Uid ${field('Uid')}`);
      assert.equal(field('NoNewPrivs'), '1', task);
      assert.equal(field('Seccomp'), '2', 'seccomp filter on (RuntimeDefault)');
    }
    // an exec'd process gets the container's settings: no token, nothing writable
    await assert.rejects(exec(HELPER_NS, helper.metadata.name, ['ls', '/var/run/secrets/kubernetes.io/serviceaccount']), /No such file/);
    await assert.rejects(exec(HELPER_NS, helper.metadata.name, ['touch', '/usr/local/bin/pf-helper']), /Read-only file system/);
    await assert.rejects(exec(HELPER_NS, helper.metadata.name, ['touch', '/tmp/x']), /Read-only file system/);
  });

  it('without its privileges still relays: after idling, and after the target\'s container restarts', async () => {
    const pf = await waitReady(ns.name, 'high');
    const url = `http://pf-high.${ns.name}.svc:10080/`;
    assert.match(await client.curl(url), /hello from web/);
    await sleep(12_000); // past pf-relay's namespace check (every 10 s) with no traffic at all
    assert.match(await client.curlOnce(url), /hello from web/);
    const target = await getJson(['pod', '-n', ns.name, 'web']);
    const restarts = target.status.containerStatuses[0].restartCount;
    for (const task of containerTasks(target.status.containerStatuses[0].containerID)) {
      try {
        process.kill(Number(task.split('/')[2]), 'SIGKILL');
      } catch {
        // a thread of a process already killed
      }
    }
    await eventually('the target container restarted and ready', async () => {
      const p = await getJson(['pod', '-n', ns.name, 'web']);
      return p.status.containerStatuses[0].restartCount > restarts && p.status.containerStatuses[0].ready ? p : undefined;
    });
    assert.match(await client.curl(url), /hello from web/);
    const helper = await theHelper(pf.metadata.uid);
    assert.equal(helper.status.containerStatuses[0].restartCount, 0, 'the same helper, never restarted: the namespace outlives the container');
  });

  it('adds NET_BIND_SERVICE only for a port below 1024, and that port works', async () => {
    const pf = await waitReady(ns.name, 'low');
    const helper = await theHelper(pf.metadata.uid);
    assert.deepEqual([...helper.spec.containers[0].securityContext.capabilities.add].sort(), ['NET_BIND_SERVICE', ...HELPER_CAPABILITIES]);
    assert.match(await client.curl(`http://pf-low.${ns.name}.svc:80/`), /hello from web/);
  });
});

describe('a PortForward with a ttl', () => {
  let ns: Ns;
  before(async () => {
    ns = await namespaceWithTarget('e2e-sec-ttl');
  });
  after(async () => ns?.remove());

  it('is deleted by the operator when it runs out, with its helper and Services', async () => {
    await apply(portForward(ns.name, 'brief', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }], ttl: '10s' }));
    const pf = await waitReady(ns.name, 'brief', 60);
    const uid: string = pf.metadata.uid;
    const created = Date.parse(pf.metadata.creationTimestamp);
    assert.equal(Date.parse(pf.status.expiresAt) - created, 10_000);
    assert.equal((await helpersOf(uid)).length, 1);
    // no Service beside the helper any more: the tunnel API reaches the helper itself
    assert.equal((await getJson(['services', '-n', HELPER_NS, '-l', `portforward.io/owner-uid=${uid}`])).items.length, 0);

    await eventually('the PortForward is gone', async () =>
      (await kubectl(['get', 'portforwards', '-n', ns.name, '-o', 'name'])).trim() === '', 60_000);
    const goneAfter = Date.now() - created;
    assert.ok(goneAfter >= 10_000, `not before its ttl (${goneAfter} ms)`);
    await eventually('its helper, Service and EndpointSlice are gone', async () => {
      const helpers = await helpersOf(uid);
      const services = (await getJson(['services', '-n', ns.name])).items.filter((s: any) => s.metadata.name === 'pf-brief');
      const slices = (await getJson(['endpointslices', '-n', ns.name])).items.filter((e: any) => e.metadata.name === 'pf-brief');
      return helpers.length + services.length + slices.length === 0;
    }, 60_000);
    const events = await eventsFor(ns.name, 'brief');
    assert.ok(events.some((e) => e.reason === 'Expired'), `an Expired Event: ${events.map((e) => e.reason)}`);
  });
});
