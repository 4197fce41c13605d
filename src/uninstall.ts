// helm uninstall's pre-delete step (charts/portforward-operator/templates/uninstall.yaml): deletes
// every PortForward while the operator still runs, then waits a bounded time for it to remove
// their helpers. Helm keeps CRDs on uninstall, so without this the PortForwards, and the Services
// they own in tenants' namespaces, would outlive the install. Best effort by design: it always
// exits 0, so that uninstalling always finishes (what is left is logged, and the namespaces that
// Helm deletes next take the helpers with them).
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type PortForward } from './api/index.js';
import { describeError } from './kube/errors.js';
import { MANAGED_SELECTOR } from './resources/names.js';

const HELPER_WAIT_MS = 30_000;
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const helperNamespace = process.env.HELPER_NAMESPACE ?? 'portforward-helpers';

  const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: PortForward[] };
  say(`deleting ${list.items.length} PortForward(s)`);
  for (const pf of list.items) {
    const { namespace = '', name = '' } = pf.metadata;
    try {
      await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name });
    } catch (err) {
      say(`could not delete PortForward ${namespace}/${name}: ${describeError(err).message}`);
    }
  }

  const deadline = Date.now() + HELPER_WAIT_MS;
  for (;;) {
    const left = (await core.listNamespacedPod({ namespace: helperNamespace, labelSelector: MANAGED_SELECTOR })).items.length;
    if (left === 0) {
      say('every helper is gone');
      return;
    }
    if (Date.now() > deadline) {
      say(`${left} helper(s) still there after ${HELPER_WAIT_MS / 1000} s; deleting ${helperNamespace} removes them`);
      return;
    }
    await sleep(500);
  }
}

main().catch((err) => say(`uninstall step failed, continuing: ${describeError(err).message}`));
