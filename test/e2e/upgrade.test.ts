// An operator upgrade that changes the helper's pod template: every helper is replaced, a few at a
// time per node (never more than the start limit being replaced at once), and every PortForward
// is Ready again afterwards. The "upgrade" here is an operator restart with a changed setting
// that the template carries (the helper's image pull policy).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { apply, eventually, kubectl, KUBECONFIG, testNamespace } from './lib/kube.js';
import { HELPER_NS, getPf, namespaceWithTarget, portForward, restartOperatorWith, waitReady } from './lib/portforward.js';

const LIMIT = 2;
const COUNT = 6;
const readyOf = (pf: any) => (pf.status?.conditions ?? []).find((c: any) => c.type === 'Ready');

/**
 * Watches this namespace's helpers and records, at every change, how many are being replaced on
 * each node: terminating, or created and not yet Ready.
 */
function watchReplacements(ownerPrefix: string) {
  const template =
    '{.type}|{.object.metadata.name}|{.object.metadata.annotations.portforward\\.io/owner}|{.object.spec.nodeName}|' +
    '{.object.metadata.deletionTimestamp}|{.object.status.conditions[?(@.type=="Ready")].status}{"\\n"}';
  const child = spawn('kubectl', ['--kubeconfig', KUBECONFIG, 'get', 'pods', '-n', HELPER_NS, '--watch', '--output-watch-events', '-o', `jsonpath=${template}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pods = new Map<string, { node: string; replacing: boolean }>();
  let most = 0;
  let buffer = '';
  child.stdout.on('data', (chunk) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      const [type, name, owner, node, deleting, ready] = line.split('|');
      if (!name || !owner?.startsWith(ownerPrefix)) continue;
      if (type === 'DELETED') pods.delete(name);
      else pods.set(name, { node: node ?? '', replacing: deleting !== '' || ready !== 'True' });
      const perNode = new Map<string, number>();
      for (const p of pods.values()) if (p.replacing) perNode.set(p.node, (perNode.get(p.node) ?? 0) + 1);
      most = Math.max(most, ...perNode.values(), 0);
    }
  });
  return { most: () => most, stop: () => child.kill() };
}

describe('an operator upgrade that changes the helper template', () => {
  let ns: Awaited<ReturnType<typeof testNamespace>>;
  const names = Array.from({ length: COUNT }, (_, i) => `pf-${i}`);
  before(async () => {
    ns = await namespaceWithTarget('e2e-upgrade');
    await apply(...names.map((n) => portForward(ns.name, n, { target: { pod: 'web' }, ports: [{ port: 10080, targetPort: 8080 }] })));
    for (const n of names) await waitReady(ns.name, n);
  });
  after(async () => {
    await restartOperatorWith('HELPER_IMAGE_PULL_POLICY-', 'HELPER_MAX_STARTING_PER_NODE-');
    await ns?.remove();
  });

  it(`replaces every helper, at most ${LIMIT} at a time on the node, and every PortForward is Ready again`, async () => {
    const hashes = async () =>
      JSON.parse(await kubectl(['get', 'pods', '-n', HELPER_NS, '-o', 'json'])).items
        .filter((p: any) => p.metadata.annotations?.['portforward.io/owner']?.startsWith(`${ns.name}/`) && !p.metadata.deletionTimestamp)
        .map((p: any) => p.metadata.annotations['portforward.io/spec-hash']);
    const oldHashes = new Set(await hashes());

    const watch = watchReplacements(`${ns.name}/`);
    try {
      await restartOperatorWith('HELPER_IMAGE_PULL_POLICY=Never', `HELPER_MAX_STARTING_PER_NODE=${LIMIT}`);
      await eventually('every helper replaced and every PortForward Ready', async () => {
        const current = await hashes();
        if (current.length !== COUNT || current.some((h: string) => oldHashes.has(h))) return false;
        const pfs = await Promise.all(names.map((n) => getPf(ns.name, n)));
        return pfs.every((pf) => readyOf(pf)?.status === 'True');
      }, 240_000);
    } finally {
      watch.stop();
    }
    assert.ok(watch.most() >= 1, 'the watch saw the replacements');
    assert.ok(watch.most() <= LIMIT, `at most ${LIMIT} helpers were being replaced at once on the node, saw ${watch.most()}`);
    const helpers = JSON.parse(await kubectl(['get', 'pods', '-n', HELPER_NS, '-o', 'json'])).items.filter(
      (p: any) => p.metadata.annotations?.['portforward.io/owner']?.startsWith(`${ns.name}/`),
    );
    assert.ok(helpers.every((p: any) => p.spec.containers[0].imagePullPolicy === 'Never'), 'the new template is in place');
  });
});
