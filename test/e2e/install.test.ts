// Installing, upgrading and uninstalling, both ways: `kubectl apply -k manifests/` and the Helm
// chart. Uninstalling finishes with PortForwards present and leaves nothing behind. Every test here
// takes the install away; the last step puts the kustomize install back for the files after this.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { apply, eventually, exec, getJson, KUBECONFIG, kubectl, kubectlBackground, testNamespace } from './lib/kube.js';
import { HELPER_NS, OPERATOR_NS, clientPod, loopbackTarget, portForward, waitReady } from './lib/portforward.js';

const execFileP = promisify(execFile);
const CHART = 'charts/portforward-operator';
const RELEASE = 'pf-e2e';
const APISERVICE = 'v1alpha1.connect.portforward.io';
const MANAGED = 'app.kubernetes.io/managed-by=portforward-operator';
const OURS = 'app.kubernetes.io/name=portforward-operator';
const COUNT = 20;

async function helm(args: string[], timeoutMs = 240_000): Promise<string> {
  try {
    return (await execFileP('helm', ['--kubeconfig', KUBECONFIG, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** Objects keyed kind/namespace/name, with the env of each container sorted (the chart's comes from a map). */
function objectsOf(yamlText: string): Map<string, any> {
  const objects = new Map<string, any>();
  for (const doc of parseAllDocuments(yamlText)) {
    const o = doc.toJS();
    if (!o?.kind) continue;
    if (o.metadata?.annotations?.['helm.sh/hook']) continue; // the chart's own uninstall step
    for (const c of o.spec?.template?.spec?.containers ?? []) c.env?.sort((a: any, b: any) => a.name.localeCompare(b.name));
    objects.set(`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o);
  }
  return objects;
}

/** Namespaces with COUNT PortForwards between them, all Ready; returns the namespaces' names. */
async function portForwardsInTwoNamespaces(prefix: string): Promise<string[]> {
  const namespaces = [await testNamespace(`${prefix}-a`), await testNamespace(`${prefix}-b`)];
  const names = namespaces.map((n) => n.name);
  for (const ns of names) await apply(loopbackTarget(ns, 'web'));
  const pfs = Array.from({ length: COUNT }, (_, i) => ({ ns: names[i % 2]!, name: `pf-${i}` }));
  await apply(...pfs.map(({ ns, name }) => portForward(ns, name, { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] })));
  for (const { ns, name } of pfs) await waitReady(ns, name, 240);
  return names;
}

async function listNames(args: string[]): Promise<string[]> {
  try {
    return (await getJson(args)).items.map((o: any) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  } catch (err) {
    // the resource type itself is gone (the CRD, the APIService's group): nothing of it is left
    if (/doesn't have a resource type|not found|NotFound/.test((err as Error).message)) return [];
    throw err;
  }
}

/** Everything an install or its PortForwards made that still exists, object by object. */
async function leftovers(tenantNamespaces: string[]): Promise<string[]> {
  const left: string[] = [];
  left.push(...(await listNames(['portforwards.portforward.io', '-A'])));
  for (const ns of tenantNamespaces) {
    left.push(...(await listNames(['services,endpointslices,networkpolicies', '-n', ns, '-l', MANAGED])));
  }
  left.push(...(await listNames(['pods,networkpolicies', '-A', '-l', MANAGED])));
  left.push(...(await listNames(['deployments,services,networkpolicies,serviceaccounts,poddisruptionbudgets', '-A', '-l', OURS])));
  left.push(...(await listNames(['clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings,priorityclasses', '-l', OURS])));
  left.push(...(await listNames(['apiservices', '--field-selector', `metadata.name=${APISERVICE}`])));
  left.push(...(await listNames(['namespaces', '--field-selector', `metadata.name=${OPERATOR_NS}`])));
  left.push(...(await listNames(['namespaces', '--field-selector', `metadata.name=${HELPER_NS}`])));
  return left;
}

async function assertNothingLeft(tenantNamespaces: string[]): Promise<void> {
  // The tenants' Services and EndpointSlices go by garbage collection, a moment after their PortForward.
  await eventually('nothing of the install left', async () => {
    const left = await leftovers(tenantNamespaces);
    if (left.length) throw new Error(`still there: ${left.join(', ')}`);
    return true;
  }, 30_000);
}

async function assertNamespacesDelete(names: string[]): Promise<void> {
  for (const ns of names) await kubectl(['delete', 'namespace', ns, '--timeout=60s'], { timeoutMs: 70_000 });
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = Date.now();
  await run();
  return (Date.now() - start) / 1000;
}

describe('install and uninstall', () => {
  before(async () => {
    await kubectl(['get', 'deployment', '-n', OPERATOR_NS, 'portforward-operator']); // the kustomize install is there
  });

  after(async () => {
    // Whatever happened above, leave the cluster installed as deploy.sh installs it.
    const uninstall = (...flags: string[]) => helm(['uninstall', RELEASE, '--ignore-not-found', '--wait', '--timeout', '90s', ...flags]);
    await uninstall().catch(() => uninstall('--no-hooks')).catch(() => '');
    await execFileP('bash', ['scripts/deploy.sh'], { timeout: 600_000 });
  });

  it('the chart with its default values renders the objects that manifests/ holds', async () => {
    const server = JSON.parse(await kubectl(['version', '-o', 'json'])).serverVersion.gitVersion as string;
    const chart = objectsOf(await helm(['template', RELEASE, CHART, '--include-crds', '--kube-version', server]));
    const kustomize = objectsOf(await kubectl(['kustomize', 'manifests']));
    assert.deepEqual([...chart.keys()].sort(), [...kustomize.keys()].sort(), 'the same objects');
    for (const [key, object] of kustomize) assert.deepEqual(chart.get(key), object, `${key} is the same`);

    // monitoring on: the optional files' objects, and PodMonitors only where their CRD is served
    const monitoring = ['template', RELEASE, CHART, '--kube-version', server, '--set', 'monitoring.enabled=true', '--show-only', 'templates/monitoring.yaml'];
    const withCrd = objectsOf(await helm([...monitoring, '--api-versions', 'monitoring.coreos.com/v1/PodMonitor']));
    const optional = objectsOf(readdirSync('manifests/optional').map((f) => readFileSync(`manifests/optional/${f}`, 'utf8')).join('\n---\n'));
    assert.deepEqual(withCrd, optional);
    assert.deepEqual([...objectsOf(await helm(monitoring)).keys()], ['NetworkPolicy/portforward-helpers/helper-metrics-from-monitoring']);
  });

  it('kubectl delete -k finishes within 60 s with 20 PortForwards present, and leaves nothing', async (t) => {
    const tenants = await portForwardsInTwoNamespaces('uninstall-k');
    const seconds = await timed(() => kubectl(['delete', '-k', 'manifests', '--timeout=60s'], { timeoutMs: 70_000 }));
    t.diagnostic(`kubectl delete -k with ${COUNT} PortForwards: ${seconds.toFixed(1)} s`);
    await assertNothingLeft(tenants);
    await assertNamespacesDelete(tenants);
  });

  it('helm install serves; an upgrade with a changed setting keeps a held connection and applies the setting; helm uninstall leaves nothing', async (t) => {
    await helm(['install', RELEASE, CHART, '--wait', '--timeout', '180s']);
    await kubectl(['wait', '--for=condition=Available', `apiservice/${APISERVICE}`, '--timeout=60s'], { timeoutMs: 70_000 });

    const tenants = await portForwardsInTwoNamespaces('helm');
    const ns = tenants[0]!;
    const client = await clientPod(ns);
    assert.match(await client.curl('http://pf-pf-0:10080/'), /hello from web/);

    // One connection opened before the upgrade, its request sent after it.
    const held = kubectlBackground(['exec', '-n', ns, 'client', '--', 'python3', '-c',
      'import socket,os,time\n' +
        's=socket.create_connection(("pf-pf-0",10080),timeout=120);print("connected",flush=True)\n' +
        'while not os.path.exists("/tmp/go"): time.sleep(0.2)\n' +
        's.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n");answer=b""\n' +
        'while (d := s.recv(4096)): answer += d\n' + // the headers and the body may come in separate reads
        'print(answer.decode(),flush=True)']);
    try {
      await eventually('the held connection is open', async () => held.output().includes('connected'), 30_000);
      await helm(['upgrade', RELEASE, CHART, '--set', 'operator.settings.LOG_LEVEL=debug', '--wait', '--timeout', '180s']);
      await exec(ns, 'client', ['touch', '/tmp/go']);
      await eventually('an answer on the connection held through the upgrade', async () => {
        if (/hello from web/.test(held.output())) return true;
        throw new Error(`its output: ${JSON.stringify(held.output())}; helpers now: ${(await getJson(['pods', '-n', HELPER_NS])).items.map((p: any) => `${p.metadata.name} ${p.metadata.creationTimestamp}`).join(', ')}`);
      }, 30_000);
    } finally {
      held.stop();
    }
    const env = (await getJson(['deployment', '-n', OPERATOR_NS, 'portforward-operator'])).spec.template.spec.containers[0].env;
    assert.ok(env.some((e: any) => e.name === 'LOG_LEVEL' && e.value === 'debug'), 'the upgrade set LOG_LEVEL=debug');
    await eventually('the upgraded operator logs at debug level', async () =>
      (await kubectl(['logs', '-n', OPERATOR_NS, 'deployment/portforward-operator'])).includes('"level":"debug"'), 60_000);
    assert.match(await client.curl('http://pf-pf-2:10080/'), /hello from web/, 'tunnels serve after the upgrade');

    const seconds = await timed(() => helm(['uninstall', RELEASE, '--wait', '--timeout', '60s'], 70_000));
    t.diagnostic(`helm uninstall with ${COUNT} PortForwards: ${seconds.toFixed(1)} s`);
    await assertNothingLeft(tenants);
    await assertNamespacesDelete(tenants);
  });
});
