// kubectl pf version: the plugin's version, and what it learns of the cluster without ever failing for it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { pluginVersion } from '../../src/cli/plugin-version.js';
import { closedServer, kubeconfigFor, readOnlyApi, runMain, type Route } from './support/read-only-api.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const KUBERNETES: Route = { body: { major: '1', minor: '34', gitVersion: 'v1.34.1' } };

describe('kubectl pf version', () => {
  it("is package.json's version, read beside the sources", () => {
    assert.equal(pluginVersion(), VERSION);
  });

  it('--client asks no server, and needs no kubeconfig', async () => {
    assert.deepEqual(await runMain('version', '--client', '--kubeconfig', '/nonexistent'), { code: 0, out: [`Client Version: v${VERSION}`], err: [] });
  });

  it('refuses an output format it does not print, and arguments', async () => {
    assert.deepEqual(await runMain('version', '-o', 'name'), { code: 2, out: [], err: ['error: invalid --output "name": use json or yaml'] });
    assert.deepEqual(await runMain('version', 'now'), { code: 2, out: [], err: ['error: unexpected argument "now": version takes none'] });
  });
});

describe('kubectl pf version against an API server', () => {
  const servers: Awaited<ReturnType<typeof readOnlyApi>>[] = [];
  const api = async (routes: Record<string, Route>) => {
    const server = await readOnlyApi(routes);
    servers.push(server);
    return server.kubeconfig;
  };
  after(() => servers.forEach((s) => s.close()));

  it('says which of PortForwards and the tunnel API the cluster serves', async () => {
    const both = await api({ '/version': KUBERNETES, '/apis/portforward.io/v1alpha1': { body: {} }, '/apis/connect.portforward.io/v1alpha1': { body: {} } });
    assert.deepEqual((await runMain('version', '--kubeconfig', both)).out, [
      `Client Version: v${VERSION}`,
      'Server Version: v1.34.1',
      'PortForwards (portforward.io/v1alpha1): served',
      'Tunnel API (connect.portforward.io/v1alpha1): served',
    ]);
    const neither = await api({ '/version': KUBERNETES });
    assert.deepEqual((await runMain('version', '--kubeconfig', neither)).out.slice(2), [
      'PortForwards (portforward.io/v1alpha1): not served: is the PortForward operator installed?',
      'Tunnel API (connect.portforward.io/v1alpha1): not installed (connect uses pods/portforward to the helper pods)',
    ]);
    const down = await api({
      '/version': KUBERNETES,
      '/apis/connect.portforward.io/v1alpha1': { status: 503, body: { kind: 'Status', code: 503, message: 'service unavailable' } },
    });
    assert.equal((await runMain('version', '--kubeconfig', down)).out.at(-1), 'Tunnel API (connect.portforward.io/v1alpha1): registered, but not answering: service unavailable');
  });

  it('prints the same as JSON with -o json', async () => {
    const kubeconfig = await api({ '/version': KUBERNETES, '/apis/portforward.io/v1alpha1': { body: {} } });
    const r = await runMain('version', '-o', 'json', '--kubeconfig', kubeconfig);
    assert.deepEqual(JSON.parse(r.out.join('\n')), { clientVersion: `v${VERSION}`, server: { kubernetes: 'v1.34.1', portForwards: true, tunnelApi: 'not installed' } });
  });

  it('exits 0 with the client version and one line about a server it cannot reach or use', async () => {
    const unreachable = kubeconfigFor(await closedServer());
    try {
      const r = await runMain('version', '--kubeconfig', unreachable.file);
      assert.equal(r.code, 0);
      assert.equal(r.out[0], `Client Version: v${VERSION}`);
      assert.match(r.out[1] as string, /^Server: cannot reach the API server at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
      assert.equal(r.out.length, 2);
    } finally {
      unreachable.remove();
    }
    const refusing = await api({ '/version': { status: 401, body: { kind: 'Status', code: 401, message: 'Unauthorized' } } });
    assert.deepEqual((await runMain('version', '--kubeconfig', refusing)).out.slice(1), ['Server: Unauthorized']);
    const missing = await runMain('version', '--kubeconfig', '/nonexistent');
    assert.equal(missing.code, 0);
    assert.match(missing.out[1] as string, /^Server: cannot load --kubeconfig \/nonexistent/);
  });
});
