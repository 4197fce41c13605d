// A user types a PortForward wrong, or hostile, and the cluster answers sensibly: what the API server
// can judge alone is refused by `kubectl apply` with a message that names the field and the fix;
// what depends on the cluster is accepted and explained in the status and an Event. Through all of
// it the operator neither crashes nor spins.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apply, eventually, getJson, kubectl, sleep, testNamespace, toolboxPod, waitRunning, TOOLBOX_IMAGE } from './lib/kube.js';
import {
  HELPER_NS, OPERATOR_NS, clientPod, eventsFor, getPf, helpersOf, loopbackTarget, portForward, waitReady, waitReason,
} from './lib/portforward.js';

type Ns = Awaited<ReturnType<typeof testNamespace>>;
type Client = Awaited<ReturnType<typeof clientPod>>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const OPERATOR_SELECTOR = 'app.kubernetes.io/name=portforward-operator,app.kubernetes.io/component=operator';

const web = { pod: 'web' };
const http = [{ port: 10080, targetPort: 8080 }];

/** kubectl apply of one object, as a user would: strict field validation unless told otherwise. */
function applyAs(obj: object, flags: string[] = []): Promise<string> {
  return kubectl(['apply', ...flags, '-f', '-'], { input: JSON.stringify(obj) });
}

async function exists(ns: string, name: string): Promise<boolean> {
  return (await kubectl(['get', 'portforwards', '-n', ns, '--field-selector', `metadata.name=${name}`, '-o', 'name'])).trim() !== '';
}

function readyCondition(pf: any): any {
  return (pf.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
}

/** Waits for an Event of this reason (and type) on the PortForward. */
async function eventOf(ns: string, name: string, reason: string, type?: 'Normal' | 'Warning'): Promise<any> {
  return eventually(`Event ${reason} on ${ns}/${name}`, async () =>
    (await eventsFor(ns, name)).find((e) => e.reason === reason && (!type || e.type === type)),
  30_000);
}

/** Helpers that are not on their way out. */
async function liveHelpers(uid: string): Promise<any[]> {
  return (await helpersOf(uid)).filter((p) => !p.metadata.deletionTimestamp);
}

function envOf(pod: any): Record<string, string> {
  return Object.fromEntries(pod.spec.containers[0].env.map((e: any) => [e.name, e.value]));
}

async function operatorPods(): Promise<any[]> {
  return (await getJson(['pods', '-n', OPERATOR_NS, '-l', OPERATOR_SELECTOR])).items;
}

/** The reconcile counter of the leading operator, from its /metrics through the API server's pod proxy. */
async function reconcileCount(): Promise<{ pod: string; total: number }> {
  const lease = await getJson(['lease', '-n', OPERATOR_NS, 'portforward-operator']);
  const pod: string = lease.spec.holderIdentity;
  const text = await kubectl(['get', '--raw', `/api/v1/namespaces/${OPERATOR_NS}/pods/${pod}:8080/proxy/metrics`]);
  const total = text
    .split('\n')
    .filter((l) => l.startsWith('portforward_reconcile_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  return { pod, total };
}

const ports = (n: number, from = 20000) => Array.from({ length: n }, (_, i) => ({ port: from + i, targetPort: 8080 }));

describe('malformed and hostile PortForwards', () => {
  let a: Ns; // where the user works
  let b: Ns; // a neighbour namespace
  let client: Client;
  const operatorBefore = new Map<string, number>(); // operator pod -> restartCount
  const startedAt = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');

  before(async () => {
    for (const pod of await operatorPods()) operatorBefore.set(pod.metadata.name, pod.status.containerStatuses?.[0]?.restartCount ?? 0);
    [a, b] = await Promise.all([testNamespace('e2e-bad'), testNamespace('e2e-bad-b')]);
    await apply(
      loopbackTarget(a.name, 'web'),
      loopbackTarget(b.name, 'web'),
      // a pod on the node's own network: entering it would expose the node's loopback
      {
        ...toolboxPod(a.name, 'hostnet', 'exec sleep infinity'),
        spec: {
          hostNetwork: true,
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: TOOLBOX_IMAGE, imagePullPolicy: 'Never', command: ['sleep', 'infinity'] }],
        },
      },
    );
    await Promise.all([waitRunning(a.name, 'web'), waitRunning(b.name, 'web'), waitRunning(a.name, 'hostnet')]);
    client = await clientPod(a.name);
  });
  after(async () => {
    await Promise.all([a?.remove(), b?.remove()]);
  });

  describe('refused at admission by kubectl apply, with a message that names the problem', () => {
    const many = Array.from({ length: 65 }, (_, i) => ({ port: 30000 + i }));
    // [what the user did, metadata.name, spec, a distinctive part of the message, extra kubectl flags]
    const cases: [string, string, unknown, RegExp, string[]?][] = [
      ['port 0', 'port-zero', { target: web, ports: [{ port: 0 }] }, /spec\.ports\[0\]\.port: Invalid value: 0: .*greater than or equal to 1/],
      ['port 65536', 'port-big', { target: web, ports: [{ port: 65536 }] }, /spec\.ports\[0\]\.port: Invalid value: 65536: .*less than or equal to 65535/],
      ['port -1', 'port-negative', { target: web, ports: [{ port: -1 }] }, /spec\.ports\[0\]\.port: Invalid value: -1: .*greater than or equal to 1/],
      ['port "80" as a string', 'port-string', { target: web, ports: [{ port: '80' }] }, /spec\.ports\[0\]\.port: .*must be of type integer/],
      ['port 1.5', 'port-fraction', { target: web, ports: [{ port: 1.5 }] }, /spec\.ports\[0\]\.port: .*must be of type integer/],
      ['targetPort 0', 'target-zero', { target: web, ports: [{ port: 80, targetPort: 0 }] }, /spec\.ports\[0\]\.targetPort: .*greater than or equal to 1/],
      ['targetPort 70000', 'target-big', { target: web, ports: [{ port: 80, targetPort: 70000 }] }, /spec\.ports\[0\]\.targetPort: .*less than or equal to 65535/],
      ['the same port twice, both TCP', 'dup-tcp', { target: web, ports: [{ port: 80, protocol: 'TCP' }, { port: 80, protocol: 'TCP' }] }, /spec\.ports: .*each port may appear only once per protocol/],
      ['the same port twice, once TCP by default', 'dup-default', { target: web, ports: [{ port: 80 }, { port: 80, protocol: 'TCP', targetPort: 81 }] }, /each port may appear only once per protocol/],
      ['the same UDP port twice', 'dup-udp', { target: web, ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'UDP' }] }, /each port may appear only once per protocol/],
      ['two ports with one name', 'dup-name', { target: web, ports: [{ port: 80, name: 'web' }, { port: 81, name: 'web' }] }, /port names must be unique/],
      ["a port named like another port's default name", 'name-clash', { target: web, ports: [{ port: 80, name: 'tcp-81' }, { port: 81 }] }, /spec\.ports\[0\]: .*may only be the port's own default name/],
      ['both pod and selector', 'both', { target: { pod: 'web', selector: { matchLabels: { app: 'web' } } }, ports: http }, /spec\.target: .*target must set exactly one of pod, selector, service or workload/],
      ['both service and workload', 'both-svc', { target: { service: 'web', workload: { kind: 'Deployment', name: 'web' } }, ports: http }, /spec\.target: .*target must set exactly one of pod, selector, service or workload/],
      ['no kind of target', 'neither', { target: {}, ports: http }, /target must set exactly one of pod, selector, service or workload/],
      ['a workload kind that is not one', 'kind-job', { target: { workload: { kind: 'Job', name: 'web' } }, ports: http }, /spec\.target\.workload\.kind: Unsupported value: "Job": supported values: "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"/],
      ['a workload without a name', 'kind-noname', { target: { workload: { kind: 'Deployment' } }, ports: http }, /spec\.target\.workload\.name: Required value/],
      ['a targetPort name with capitals', 'target-caps', { target: web, ports: [{ port: 80, targetPort: 'HTTP' }] }, /spec\.ports\[0\]\.targetPort: Invalid value: "HTTP"/],
      ['a targetPort name that is all digits, in quotes', 'target-digits', { target: web, ports: [{ port: 80, targetPort: '8080' }] }, /spec\.ports\[0\]\.targetPort: Invalid value: "8080"/],
      ['a Service name that is not a Service name', 'svc-name-bad', { target: { service: 'Web.Front' }, ports: http }, /spec\.target\.service: Invalid value: "Web\.Front"/],
      ['an empty selector', 'empty-selector', { target: { selector: {} }, ports: http }, /spec\.target\.selector: .*an empty selector would match every pod/],
      ['a selector with empty matchLabels', 'empty-labels', { target: { selector: { matchLabels: {} } }, ports: http }, /an empty selector would match every pod/],
      ['a selector operator that does not exist', 'bad-operator', { target: { selector: { matchExpressions: [{ key: 'app', operator: 'Equals', values: ['web'] }] } }, ports: http }, /Unsupported value: "Equals": supported values: "In", "NotIn", "Exists", "DoesNotExist"/],
      ['65 ports', 'too-many', { target: web, ports: many }, /spec\.ports: Too many: 65: must have at most 64 items/],
      ['no ports', 'no-ports', { target: web, ports: [] }, /spec\.ports: Invalid value: 0: .*should have at least 1 items/],
      ['ports as an object, not a list', 'ports-object', { target: web, ports: { port: 80 } }, /unknown field "spec\.ports\.port"/],
      ['no ports field', 'ports-missing', { target: web }, /spec\.ports: Required value/],
      ['no target', 'target-missing', { ports: http }, /spec\.target: Required value/],
      ['no spec at all', 'spec-missing', undefined, /spec: Required value/],
      ['unicode in the name', 'wéb', { target: web, ports: http }, /metadata\.name: Invalid value: "wéb": a lowercase RFC 1123 subdomain/],
      ['unicode in a port name', 'port-unicode', { target: web, ports: [{ port: 80, name: 'wéb' }] }, /spec\.ports\[0\]\.name: Invalid value: "wéb"/],
      ['a port name of 64 characters', 'port-name-long', { target: web, ports: [{ port: 80, name: 'n'.repeat(64) }] }, /spec\.ports\[0\]\.name: Too long: may not be more than 63 bytes/],
      ['a target pod name that is not a pod name', 'pod-name-bad', { target: { pod: 'Web!' }, ports: http }, /spec\.target\.pod: Invalid value: "Web!"/],
      ['a target namespace that is not a namespace name', 'ns-name-bad', { target: { pod: 'web', namespace: 'Team_A' }, ports: http }, /spec\.target\.namespace: Invalid value: "Team_A"/],
      ['protocol "tcp" in lower case', 'proto-lower', { target: web, ports: [{ port: 80, protocol: 'tcp' }] }, /spec\.ports\[0\]\.protocol: Unsupported value: "tcp": supported values: "TCP", "UDP"/],
      ['protocol SCTP', 'proto-sctp', { target: web, ports: [{ port: 80, protocol: 'SCTP' }] }, /spec\.ports\[0\]\.protocol: Unsupported value: "SCTP": supported values: "TCP", "UDP"/],
      ['ttl "2 hours"', 'ttl-words', { target: web, ports: http, ttl: '2 hours' }, /spec\.ttl: .*ttl must be a duration like 90s, 30m, 2h, 1h30m or 7d/],
      ['ttl "-5m"', 'ttl-negative', { target: web, ports: http, ttl: '-5m' }, /spec\.ttl: .*ttl must be a duration like/],
      ['ttl "1y"', 'ttl-years', { target: web, ports: http, ttl: '1y' }, /spec\.ttl: .*ttl must be a duration like/],
      ['ttl of 7-digit days', 'ttl-huge', { target: web, ports: http, ttl: '1000000d' }, /spec\.ttl: .*ttl must be a duration like/],
      ['an unknown field: the helper image', 'field-image', { target: web, ports: http, image: 'evil/relay' }, /strict decoding error: unknown field "spec\.image"/, ['--validate=strict']],
      ['an unknown field in a port: hostPort', 'field-hostport', { target: web, ports: [{ port: 80, hostPort: 80 }] }, /unknown field "spec\.ports\[0\]\.hostPort"/, ['--validate=strict']],
      ['an unknown field in the target: hostNetwork', 'field-hostnet', { target: { pod: 'web', hostNetwork: true }, ports: http }, /unknown field "spec\.target\.hostNetwork"/, ['--validate=strict']],
    ];

    for (const [what, name, spec, message, flags] of cases) {
      it(`${what}`, async () => {
        const obj = { apiVersion: 'portforward.io/v1alpha1', kind: 'PortForward', metadata: { name, namespace: a.name }, ...(spec === undefined ? {} : { spec }) };
        await assert.rejects(applyAs(obj, flags), (err: Error) => {
          assert.match(err.message, message);
          return true;
        });
        if (DNS_LABEL.test(name)) assert.equal(await exists(a.name, name), false, 'nothing was stored');
      });
    }
  });

  describe('accepted, and answered in the status and an Event', () => {
    // 60 characters two PortForwards share, and a 253-character name (the most Kubernetes allows)
    const prefix = `shared-prefix-${'x'.repeat(46)}`;
    const first = `${prefix}-first-${'z'.repeat(40)}`;
    const second = `${prefix}-second-${'z'.repeat(40)}`;
    const longest = `longest-${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(8)}`.slice(0, 253);

    before(async () => {
      // Everything that needs no setup of its own is applied at once, as a busy team would.
      await apply(
        portForward(a.name, 'dual', {
          target: web,
          ports: [{ port: 8053, targetPort: 8080, protocol: 'TCP' }, { port: 8053, targetPort: 5353, protocol: 'UDP' }],
        }),
        portForward(a.name, 'exprs', { target: { selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'www'] }] } }, ports: http }),
        portForward(a.name, 'nobody', { target: { selector: { matchLabels: { app: 'nobody-has-this' } } }, ports: http }),
        portForward(a.name, 'ghost', { target: { pod: 'ghost' }, ports: http }),
        portForward(a.name, 'hostnet', { target: { pod: 'hostnet' }, ports: http }),
        portForward(a.name, 'cross', { target: { pod: 'web', namespace: b.name }, ports: http }),
        portForward(a.name, 'deadport', { target: web, ports: [{ port: 10080, targetPort: 8080, name: 'http' }, { port: 10099, targetPort: 9999 }] }),
        portForward(a.name, 'sixty-four', { target: web, ports: ports(64) }),
        portForward(a.name, longest, { target: web, ports: http }),
        portForward(a.name, first, { target: web, ports: http }),
        portForward(b.name, second, { target: web, ports: http }),
      );
    });

    it('the same port for TCP and UDP is allowed, and both work', async () => {
      const pf = await waitReady(a.name, 'dual');
      const svc = await getJson(['service', '-n', a.name, 'pf-dual']);
      assert.deepEqual(svc.spec.ports.map((p: any) => `${p.name} ${p.port}/${p.protocol}`), ['tcp-8053 8053/TCP', 'udp-8053 8053/UDP']);
      assert.match(await client.curl(`http://pf-dual.${a.name}.svc:8053/`), /hello from web/);
      assert.equal((await client.udp(pf.status.service.clusterIP, 8053, 'ping')).trim(), 'echo:ping');
      await eventOf(a.name, 'dual', 'Ready', 'Normal');
    });

    it('a selector with matchExpressions only is allowed and finds the pod', async () => {
      const pf = await waitReady(a.name, 'exprs');
      assert.equal(pf.status.target.pod, 'web');
      await eventOf(a.name, 'exprs', 'HelperCreated', 'Normal');
    });

    it('a selector that matches nothing waits: Pending NoMatchingPod, and says which selector', async () => {
      const pf = await waitReason(a.name, 'nobody', 'NoMatchingPod');
      assert.equal(pf.status.phase, 'Pending');
      assert.match(readyCondition(pf).message, /No running, ready pod in namespace ".*" matches app=nobody-has-this/);
      await eventOf(a.name, 'nobody', 'NoMatchingPod');
      assert.deepEqual(await helpersOf(pf.metadata.uid), []);
    });

    it('a pod that does not exist waits: Pending TargetNotFound', async () => {
      const pf = await waitReason(a.name, 'ghost', 'TargetNotFound');
      assert.equal(pf.status.phase, 'Pending');
      assert.match(readyCondition(pf).message, /Pod "ghost" was not found/);
      await eventOf(a.name, 'ghost', 'TargetNotFound');
    });

    it('a hostNetwork pod is refused: Failed TargetUsesHostNetwork, no helper', async () => {
      const pf = await waitReason(a.name, 'hostnet', 'TargetUsesHostNetwork');
      assert.equal(pf.status.phase, 'Failed');
      assert.match(readyCondition(pf).message, /hostNetwork: true.*refuses/);
      await eventOf(a.name, 'hostnet', 'TargetUsesHostNetwork', 'Warning');
      assert.deepEqual(await helpersOf(pf.metadata.uid), []);
    });

    it('another namespace is out of reach until it opts in, and the message says how', async () => {
      let pf = await waitReason(a.name, 'cross', 'CrossNamespaceNotAllowed');
      assert.equal(pf.status.phase, 'Failed');
      const { message } = readyCondition(pf);
      assert.ok(message.includes(`kubectl annotate namespace ${b.name} portforward.io/allow-from=${a.name}`), message);
      await eventOf(a.name, 'cross', 'CrossNamespaceNotAllowed', 'Warning');
      assert.deepEqual(await helpersOf(pf.metadata.uid), []);

      await kubectl(['annotate', 'namespace', b.name, `portforward.io/allow-from=${a.name}`]);
      pf = await waitReady(a.name, 'cross');
      assert.equal(pf.status.target.namespace, b.name);
      // the Service existed without endpoints until now: give kube-proxy a moment to catch up
      const body = await eventually('pf-cross answers', () => client.curl(`http://pf-cross.${a.name}.svc:10080/`), 20_000);
      assert.match(body, /hello from web/);
    });

    it('a target port nobody listens on: not Ready (TargetPortClosed names it), its connections fail at once, the other port serves', async () => {
      const pf = await waitReason(a.name, 'deadport', 'TargetPortClosed');
      assert.equal(pf.status.phase, 'Pending');
      assert.match(readyCondition(pf).message, /listens on port 9999\/TCP \(tunnel port 10099\)/);
      assert.doesNotMatch(readyCondition(pf).message, /8080/, 'the open port is not named');
      await eventOf(a.name, 'deadport', 'TargetPortClosed', 'Warning');
      const [helper] = await liveHelpers(pf.metadata.uid);
      const started = Date.now();
      await assert.rejects(client.curlOnce(`http://pf-deadport.${a.name}.svc:10099/`), (err: Error) => {
        assert.doesNotMatch(err.message, /exit code 28/, 'refused or closed, not a timeout');
        return true;
      });
      assert.ok(Date.now() - started < 2900, 'fails quickly');
      for (let i = 0; i < 5; i++) await assert.rejects(client.curlOnce(`http://pf-deadport.${a.name}.svc:10099/`));
      assert.match(await client.curl(`http://pf-deadport.${a.name}.svc:10080/`), /hello from web/);
      const after = await getJson(['pod', '-n', HELPER_NS, helper.metadata.name]);
      assert.equal(after.status.containerStatuses[0].restartCount, 0, 'the helper did not restart');
      assert.equal(readyCondition(await getPf(a.name, 'deadport')).reason, 'TargetPortClosed');
    });

    it('64 ports, the most allowed, all relay', async () => {
      const pf = await waitReady(a.name, 'sixty-four', 180);
      const svc = await getJson(['service', '-n', a.name, 'pf-sixty-four']);
      assert.equal(svc.spec.ports.length, 64);
      assert.equal(pf.status.ports.split(',').length, 64);
      assert.match(await client.curl(`http://pf-sixty-four.${a.name}.svc:20063/`), /hello from web/);
    });

    it('a 253-character name gets valid, bounded Service and helper names and works', async () => {
      assert.equal(longest.length, 253);
      const pf = await waitReady(a.name, longest);
      const service: string = pf.status.service.name;
      const helper: string = pf.status.helper.pod;
      for (const n of [service, helper]) assert.ok(n.length <= 63 && DNS_LABEL.test(n), n);
      assert.ok(service.startsWith('pf-longest-'), service);
      await getJson(['service', '-n', a.name, service]);
      await getJson(['endpointslice', '-n', a.name, service]);
      assert.match(await client.curl(`http://${service}.${a.name}.svc:10080/`), /hello from web/);
      await eventOf(a.name, longest, 'Ready');
    });

    it('long names sharing a 60-character prefix do not collide, across or within namespaces', async () => {
      const third = `${prefix}-third-${'z'.repeat(40)}`;
      await apply(portForward(a.name, third, { target: web, ports: http }));
      const pfs = await Promise.all([waitReady(a.name, first), waitReady(b.name, second), waitReady(a.name, third)]);
      const helpers = pfs.map((pf) => pf.status.helper.pod);
      const services = pfs.map((pf) => `${pf.metadata.namespace}/${pf.status.service.name}`);
      assert.equal(new Set(helpers).size, 3, `distinct helpers: ${helpers}`);
      assert.equal(new Set(services).size, 3, `distinct Services: ${services}`);
      for (const pf of pfs) {
        const [helper, ...others] = await liveHelpers(pf.metadata.uid);
        assert.equal(others.length, 0);
        assert.equal(helper.metadata.annotations['portforward.io/owner'], `${pf.metadata.namespace}/${pf.metadata.name}`);
        assert.ok(pf.status.service.name.length <= 63 && helper.metadata.name.length <= 63);
      }
      assert.match(await client.curl(`http://${pfs[2].status.service.name}.${a.name}.svc:10080/`), /hello from web/);
    });

    it('ports changed right after create converge on exactly one helper with the new ports', async () => {
      await apply(portForward(a.name, 'edited', { target: web, ports: [{ port: 10081, targetPort: 8080 }] }));
      await apply(portForward(a.name, 'edited', { target: web, ports: [{ port: 10082, targetPort: 8080, name: 'http' }] }));
      const pf = await eventually('edited PortForward Ready for its second generation', async () => {
        const pf = await getPf(a.name, 'edited');
        return pf.metadata.generation === 2 && pf.status?.observedGeneration === 2 && pf.status.phase === 'Ready' ? pf : undefined;
      }, 120_000);
      await eventually('one helper left, with the new ports', async () => {
        const helpers = await helpersOf(pf.metadata.uid);
        return helpers.length === 1 && envOf(helpers[0]).PF_PORTS === '10082:8080/tcp' && !helpers[0].metadata.deletionTimestamp;
      }, 60_000);
      const svc = await getJson(['service', '-n', a.name, 'pf-edited']);
      assert.deepEqual(svc.spec.ports.map((p: any) => `${p.name} ${p.port}`), ['http 10082']);
      // kube-proxy programs the changed port a moment after the Endpoints: allow it a few seconds.
      assert.match(await eventually('the new port served', () => client.curl(`http://pf-edited.${a.name}.svc:10082/`), 20_000), /hello from web/);
      await assert.rejects(client.curlOnce(`http://pf-edited.${a.name}.svc:10081/`));
    });

    it('an enormous ttl (999999d) is accepted as written: Ready, expiring in about 2,700 years, not Expired', async () => {
      // No MAX_TTL is configured in manifests/deployment.yaml, so nothing caps it: the PortForward
      // simply lives "forever", and the operator must sleep on it rather than spin.
      await apply(portForward(a.name, 'forever', { target: web, ports: http, ttl: '999999d' }));
      const pf = await waitReady(a.name, 'forever');
      const expires = Date.parse(pf.status.expiresAt);
      const created = Date.parse(pf.metadata.creationTimestamp);
      assert.ok(Math.abs(expires - created - 999999 * 86_400_000) < 2000, `expiresAt ${pf.status.expiresAt}`);
      assert.match(pf.status.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      await sleep(3000);
      assert.equal((await getPf(a.name, 'forever')).status.phase, 'Ready');
    });
  });

  describe('afterwards, the operator', () => {
    it('has not restarted', async () => {
      const now = await operatorPods();
      for (const pod of now) {
        const restarts = pod.status.containerStatuses?.[0]?.restartCount ?? 0;
        const before = operatorBefore.get(pod.metadata.name);
        // a pod replaced meanwhile (someone rolled the Deployment) must not be crash-looping either
        assert.equal(restarts, before ?? 0, `${pod.metadata.name} restarted ${restarts - (before ?? 0)} times`);
      }
    });

    it('sits idle with all of these PortForwards in place: no hot loop in its reconcile counter or logs', async (t) => {
      // Every PortForward above has settled; in 10 quiet seconds a healthy operator runs a few
      // passes at most (other tests may share the cluster), a spinning one thousands.
      let delta = Infinity;
      for (let attempt = 0; attempt < 3 && delta === Infinity; attempt++) {
        const start = await reconcileCount();
        await sleep(10_000);
        const end = await reconcileCount();
        if (end.pod === start.pod && end.total >= start.total) delta = end.total - start.total; // else a new leader: measure again
      }
      t.diagnostic(`${delta} reconcile passes in an idle 10 s window`);
      assert.ok(delta <= 60, `the operator ran ${delta} reconcile passes in an idle 10 s window`);
      // Node's warning for a timer too long to hold, which it then fires at once
      const { pod } = await reconcileCount();
      const logs = await kubectl(['logs', '-n', OPERATOR_NS, pod, `--since-time=${startedAt}`]);
      assert.doesNotMatch(logs, /TimeoutOverflowWarning/);
    });
  });
});
