// Who may reach a tunnel inside the cluster (the local cluster enforces NetworkPolicy with
// kube-router): pods of the PortForward's own namespace, the peers its spec.clients names, the
// operator and the tunnel API's gateway; nobody else, neither through the Service nor at the
// helper's pod IP. For a target in another namespace, spec.clients stay within its opt-in.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apply, exec, kubectl, testNamespace, toolboxPod, waitRunning } from './lib/kube.js';
import { HELPER_NS, OPERATOR_NS, clientPod, getPf, loopbackTarget, portForward, waitReady, waitReason } from './lib/portforward.js';

type Ns = Awaited<ReturnType<typeof testNamespace>>;

/** One attempt that must not get through: refused or timed out, not answered. */
async function blocked(ns: string, client: string, url: string): Promise<void> {
  await assert.rejects(exec(ns, client, ['curl', '-sf', '--max-time', '3', url]), `${url} from ${ns}/${client} must not answer`);
}

describe('who reaches a tunnel inside the cluster', () => {
  let home: Ns;
  let other: Ns;
  let homeClient: Awaited<ReturnType<typeof clientPod>>;
  let otherClient: Awaited<ReturnType<typeof clientPod>>;
  let service = '';
  let helperUrl = '';

  before(async () => {
    [home, other] = await Promise.all([testNamespace('e2e-iso-home'), testNamespace('e2e-iso-other')]);
    await apply(loopbackTarget(home.name, 'web'), portForward(home.name, 'web', { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] }));
    await waitRunning(home.name, 'web');
    [homeClient, otherClient] = await Promise.all([clientPod(home.name), clientPod(other.name)]);
    const pf = await waitReady(home.name, 'web');
    service = `http://pf-web.${home.name}.svc:10080/`;
    helperUrl = `http://${pf.status.helper.podIP}:10080/`;
  });
  after(async () => Promise.all([home?.remove(), other?.remove()]));

  it('a pod in the PortForward\'s namespace does, through the Service and at the helper', async () => {
    assert.match(await homeClient.curl(service), /hello from web/);
    assert.match(await homeClient.curl(helperUrl), /hello from web/);
  });

  it('a pod in another namespace does not: neither the Service nor the helper\'s pod IP answers', async () => {
    await blocked(other.name, 'client', service);
    await blocked(other.name, 'client', helperUrl);
  });

  it('nor does another pod of the operator\'s namespace or of the helpers\' namespace', async () => {
    const intruder = `e2e-iso-${home.name.slice(-6)}`;
    for (const [ns, restricted] of [[OPERATOR_NS, true], [HELPER_NS, false]] as const) {
      await apply(toolboxPod(ns, intruder, 'exec sleep infinity', { restricted }));
      try {
        await waitRunning(ns, intruder);
        await blocked(ns, intruder, helperUrl);
      } finally {
        await kubectl(['delete', 'pod', '-n', ns, intruder, '--wait=false']);
      }
    }
  });

  it('a namespace named in spec.clients does, once the operator widened the helper\'s policy', async () => {
    await apply(
      portForward(home.name, 'web', {
        target: { pod: 'web' },
        ports: [{ port: 10080, targetPort: 8080 }],
        clients: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': other.name } }, podSelector: { matchLabels: { app: 'client' } } }],
      }),
    );
    assert.match(await otherClient.curl(service), /hello from web/);
    assert.match(await otherClient.curl(helperUrl), /hello from web/);
    const policies = JSON.parse(await kubectl(['get', 'networkpolicy', '-n', HELPER_NS, `pf-${(await getPf(home.name, 'web')).metadata.uid}`, '-o', 'json']));
    assert.equal(policies.spec.ingress[0].from.length, 2, 'the own namespace and the one client');
  });

  it('the tunnel API\'s gateway still reaches the helper', async () => {
    const path = `/apis/connect.portforward.io/v1alpha1/namespaces/${home.name}/portforwards/web/proxy/10080/`;
    assert.match(await kubectl(['get', '--raw', path]), /hello from web/);
  });
});

describe('clients of a PortForward into another namespace', () => {
  let home: Ns;
  let target: Ns;

  before(async () => {
    home = await testNamespace('e2e-iso-from');
    target = await testNamespace('e2e-iso-db', { 'portforward.io/allow-from': home.name });
    await apply(loopbackTarget(target.name, 'web'));
    await waitRunning(target.name, 'web');
  });
  after(async () => Promise.all([home?.remove(), target?.remove()]));

  it('are refused with ClientsNotAllowed when they reach beyond the target namespace\'s opt-in', async () => {
    await apply(
      portForward(home.name, 'db', {
        target: { namespace: target.name, pod: 'web' },
        ports: [{ port: 10080, targetPort: 8080 }],
        clients: [{ namespaceSelector: { matchLabels: { team: 'anyone' } } }],
      }),
    );
    const pf = await waitReason(home.name, 'db', 'ClientsNotAllowed');
    assert.equal(pf.status.phase, 'Failed');
    assert.match(pf.status.conditions[0].message, new RegExp(`spec\\.clients\\[0\\]\\.namespaceSelector does not name its namespaces .*lets only ${home.name}`));
  });

  it('work once they stay within it', async () => {
    await apply(
      portForward(home.name, 'db', {
        target: { namespace: target.name, pod: 'web' },
        ports: [{ port: 10080, targetPort: 8080 }],
        clients: [{ podSelector: { matchLabels: { app: 'client' } } }],
      }),
    );
    await waitReady(home.name, 'db');
  });
});
