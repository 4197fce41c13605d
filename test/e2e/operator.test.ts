// The PortForward story on a real cluster: a server bound to 127.0.0.1 only becomes reachable
// through a declarative, self-healing tunnel.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  apply, eventually, getJson, kubectl, testNamespace, toolboxPod, waitRunning,
} from './lib/kube.js';
import {
  HELPER_NS, OPERATOR_NS, clientPod, eventsFor, getPf, helpersOf, loopbackTarget, portForward, waitReady, waitReason, namespaceWithTarget } from './lib/portforward.js';

describe('a pod that listens only on 127.0.0.1', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  let client: Awaited<ReturnType<typeof clientPod>>;
  let pf: any;

  before(async () => {
    ns = await namespaceWithTarget('e2e-story');
    client = await clientPod(ns.name);
    // Before: nothing in the cluster can reach it.
    const target = await getJson(['pod', '-n', ns.name, 'web']);
    await assert.rejects(client.curlOnce(`http://${target.status.podIP}:8080/`));

    await kubectl(['apply', '-f', '-'], {
      input: JSON.stringify(
        portForward(ns.name, 'web', {
          target: { pod: 'web' },
          ports: [
            { port: 10080, targetPort: 8080, name: 'http' },
            { port: 5353, protocol: 'UDP' },
          ],
        }),
      ),
    });
    pf = await waitReady(ns.name, 'web');
  });
  after(async () => ns?.remove());

  it('becomes reachable from another pod through the PortForward Service, by name and by ClusterIP', async () => {
    // kube-proxy programs the Service a moment after the Endpoints are written: allow it a few seconds.
    const first = await eventually('kube-proxy rules', () => client.curl(`http://pf-web.${ns.name}.svc:10080/`), 15_000);
    assert.match(first, /hello from web/);
    assert.match(await client.curl(`http://${pf.status.service.clusterIP}:10080/`), /hello from web/);
  });

  it('routes its Service through an EndpointSlice the operator writes, and writes no v1 Endpoints', async () => {
    const slice = await getJson(['endpointslice', '-n', ns.name, 'pf-web']);
    assert.equal(slice.metadata.labels['kubernetes.io/service-name'], 'pf-web');
    assert.equal(slice.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'portforward-operator');
    assert.deepEqual(slice.endpoints.map((e: any) => [e.addresses[0], e.conditions.ready]), [[pf.status.helper.podIP, true]]);
    await assert.rejects(kubectl(['get', 'endpoints', '-n', ns.name, 'pf-web']), /NotFound/);
    const written = await getJson(['endpoints', '-A', '-l', 'app.kubernetes.io/managed-by=portforward-operator']);
    assert.deepEqual(written.items.filter((e: any) => e.metadata.ownerReferences?.some((r: any) => r.kind === 'PortForward')), []);
    // the operator's own count of its API calls, by call: slices written, no v1 Endpoints ever
    const [operator] = (await getJson(['pods', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/component=operator', '--field-selector=status.phase=Running'])).items;
    const metrics = await kubectl(['get', '--raw', `/api/v1/namespaces/${OPERATOR_NS}/pods/${operator.metadata.name}:8080/proxy/metrics`]);
    const calls = [...metrics.matchAll(/^portforward_api_requests_total\{call="(\w+)"\} (\d+)/gm)].map((m) => m[1]);
    assert.ok(calls.includes('createEndpointSlice'), calls.join(' '));
    assert.deepEqual(calls.filter((c) => /^(create|replace)Endpoints$/.test(c!)), []);
  });

  it('carries UDP too', async () => {
    const reply = await eventually('a UDP reply', () => client.udp(pf.status.service.clusterIP, 5353, 'ping'), 20_000);
    assert.equal(reply.trim(), 'echo:ping');
  });

  it("is reachable over HTTP through the tunnel API's proxy subresource", async () => {
    const [path] = pf.status.access.apiServerProxy;
    assert.match(await kubectl(['get', '--raw', path]), /hello from web/);
  });

  it('names its ways in from outside the cluster in its own namespace: the tunnel paths and the connect command', () => {
    const base = `/apis/connect.portforward.io/v1alpha1/namespaces/${ns.name}/portforwards/web`;
    assert.deepEqual(pf.status.access.tunnel, [`${base}/portforward?port=10080&protocol=tcp`, `${base}/portforward?port=5353&protocol=udp`]);
    assert.equal(pf.status.access.connectCommand, `kubectl pf connect -n ${ns.name} web 10080 5353/udp`);
    assert.doesNotMatch(JSON.stringify(pf.status.access), new RegExp(HELPER_NS), 'no way in needs the helpers\' namespace');
  });

  it('is listed by kubectl get portforwards with real values, and wide adds helper and Service', async () => {
    const table = await kubectl(['get', 'portforwards', '-n', ns.name]);
    assert.match(table, /^NAME\s+TARGET\s+NODE\s+PORTS\s+PHASE\s+AGE/m);
    assert.match(table, /^web\s+web\s+pfdev-node-\d\s+10080->8080\/TCP,5353\/UDP\s+Ready\s+\S+/m);
    const wide = await kubectl(['get', 'pf', '-n', ns.name, '-o', 'wide']);
    assert.match(wide, /HELPER\s+SERVICE/);
    assert.match(wide, new RegExp(`${pf.status.helper.pod}\\s+pf-web`));
  });

  it('tells its story in kubectl describe Events and a Ready condition', async () => {
    const describe = await kubectl(['describe', 'pf', '-n', ns.name, 'web']);
    assert.match(describe, /HelperCreated/);
    assert.match(describe, /The tunnel is up/);
    const ready = pf.status.conditions.find((c: any) => c.type === 'Ready');
    assert.equal(ready.status, 'True');
    assert.equal(pf.status.observedGeneration, pf.metadata.generation);
  });

  it('is documented for kubectl explain', async () => {
    const explain = await kubectl(['explain', 'portforward.spec.ports.targetPort']);
    assert.match(explain, /inside the target pod's network namespace/);
  });

  it('comes back when its helper pod is deleted', async () => {
    const before = (await helpersOf(pf.metadata.uid))[0];
    await kubectl(['delete', 'pod', '-n', HELPER_NS, before.metadata.name, '--wait=false']);
    await eventually('a new helper', async () => {
      const helpers = await helpersOf(pf.metadata.uid);
      return helpers.some((h) => h.metadata.uid !== before.metadata.uid && h.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    });
    assert.match(await eventually('traffic again', () => client.curl(`http://pf-web.${ns.name}.svc:10080/`)), /hello from web/);
  });

  it('follows a named target pod that is deleted and created again', async () => {
    const oldUid = (await getPf(ns.name, 'web')).status.target.uid;
    await kubectl(['delete', 'pod', '-n', ns.name, 'web', '--wait=true']);
    await waitReason(ns.name, 'web', 'TargetNotFound');
    await apply(loopbackTarget(ns.name, 'web'));
    await waitRunning(ns.name, 'web');
    const again = await eventually('re-targeted and Ready', async () => {
      const p = await getPf(ns.name, 'web');
      return p.status?.phase === 'Ready' && p.status.target.uid !== oldUid ? p : undefined;
    });
    assert.equal((await helpersOf(again.metadata.uid)).filter((h) => !h.metadata.deletionTimestamp).length, 1);
    assert.match(await eventually('traffic to the new pod', () => client.curl(`http://pf-web.${ns.name}.svc:10080/`)), /hello from web/);
  });

  it('leaves no helper, Service or EndpointSlice behind when deleted', async () => {
    const uid = (await getPf(ns.name, 'web')).metadata.uid;
    await kubectl(['delete', 'pf', '-n', ns.name, 'web', '--wait=true', '--timeout=60s'], { timeoutMs: 70_000 });
    await eventually('helpers gone', async () => (await helpersOf(uid)).length === 0);
    const leftovers = await getJson(['services,endpointslices', '-A', '-l', `portforward.io/owner-uid=${uid}`]);
    assert.deepEqual(leftovers.items.map((o: any) => `${o.kind}/${o.metadata.name}`), []);
  });
});

describe('a PortForward with a selector', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  before(async () => {
    ns = await testNamespace('e2e-selector');
  });
  after(async () => ns?.remove());

  it('waits for a matching pod, then re-targets when its pod is replaced', async () => {
    await apply(portForward(ns.name, 'app', { target: { selector: { matchLabels: { app: 'api' } } }, ports: [{ port: 8080 }] }));
    const pending = await waitReason(ns.name, 'app', 'NoMatchingPod');
    assert.equal(pending.status.phase, 'Pending');
    assert.ok((await eventsFor(ns.name, 'app')).some((e) => e.reason === 'NoMatchingPod'));

    await apply(loopbackTarget(ns.name, 'api-1', { app: 'api' }));
    const first = await waitReady(ns.name, 'app');
    assert.equal(first.status.target.pod, 'api-1');

    await apply(loopbackTarget(ns.name, 'api-2', { app: 'api' }));
    await waitRunning(ns.name, 'api-2');
    await kubectl(['delete', 'pod', '-n', ns.name, 'api-1', '--wait=false']);
    const moved = await eventually('re-targeted to api-2', async () => {
      const p = await getPf(ns.name, 'app');
      return p.status?.phase === 'Ready' && p.status.target.pod === 'api-2' ? p : undefined;
    });
    const client = await clientPod(ns.name);
    assert.match(await eventually('traffic', () => client.curl(`http://${moved.status.service.clusterIP}:8080/`)), /hello from api-2/);
  });
});

describe('the operator', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  const operatorPods = async () =>
    (await getJson(['pods', '-n', OPERATOR_NS, '-l', 'app.kubernetes.io/component=operator'])).items.filter(
      (p: any) => !p.metadata.deletionTimestamp,
    );
  const scale = (replicas: number) =>
    kubectl(['scale', '-n', OPERATOR_NS, 'deployment/portforward-operator', `--replicas=${replicas}`]);
  const leaseHolder = async () =>
    (await getJson(['lease', '-n', OPERATOR_NS, 'portforward-operator'])).spec.holderIdentity as string;

  before(async () => {
    ns = await namespaceWithTarget('e2e-operator');
  });
  after(async () => {
    await scale(1);
    await kubectl(['rollout', 'status', '-n', OPERATOR_NS, 'deployment/portforward-operator', '--timeout=120s'], { timeoutMs: 130_000 });
    await ns?.remove();
  });

  it('keeps the tunnel serving while it is down, and adopts the helper without duplicating it when back', async () => {
    await apply(portForward(ns.name, 'web', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    const pf = await waitReady(ns.name, 'web');
    const client = await clientPod(ns.name);
    const helperBefore = (await helpersOf(pf.metadata.uid)).map((h) => h.metadata.uid);

    await scale(0);
    await eventually('operator gone', async () => (await operatorPods()).length === 0);
    assert.match(await client.curl(`http://pf-web.${ns.name}.svc:10080/`), /hello from web/);

    await scale(1);
    await kubectl(['rollout', 'status', '-n', OPERATOR_NS, 'deployment/portforward-operator', '--timeout=120s'], { timeoutMs: 130_000 });
    await apply(portForward(ns.name, 'web2', { target: { pod: 'web' }, ports: [{ port: 10081, targetPort: 8080 }] }));
    await waitReady(ns.name, 'web2'); // the new leader works...
    const helperAfter = (await helpersOf(pf.metadata.uid)).map((h) => h.metadata.uid);
    assert.deepEqual(helperAfter, helperBefore); // ...and kept the helper it found
  });

  it('runs two replicas, one leading; when the leader is killed the other takes over', async () => {
    await scale(2);
    await eventually('two ready replicas', async () => {
      const pods = await operatorPods();
      return pods.length === 2 && pods.every((p: any) => p.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    }, 120_000);
    const leader = await leaseHolder();
    const pods = await operatorPods();
    assert.ok(pods.some((p: any) => p.metadata.name === leader), `lease holder ${leader} is one of the replicas`);

    await kubectl(['delete', 'pod', '-n', OPERATOR_NS, leader, '--grace-period=0', '--force']);
    const next = await eventually('another leader', async () => {
      const holder = await leaseHolder();
      return holder && holder !== leader ? holder : undefined;
    }, 60_000);
    assert.notEqual(next, leader);
    await apply(portForward(ns.name, 'after-failover', { target: { pod: 'web' }, ports: [{ port: 10082, targetPort: 8080 }] }));
    await waitReady(ns.name, 'after-failover');
  });
});

