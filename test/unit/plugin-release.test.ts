// The plugin as users install it: the bundle, one file that runs with Node.js alone, and the krew
// release built from it (archive and manifest).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { bundlePlugin } from '../../scripts/bundle.js';
import { buildKrewRelease } from '../../scripts/krew.js';
import { ARCHIVE_FILES } from '../../scripts/lib/krew-manifest.js';
import { tarGz } from '../../scripts/lib/tar.js';
import { kubeconfigFor } from './support/read-only-api.js';
import { HelperPod, NAMESPACE, readyPortForward, StandInTunnelApi } from './support/stand-in-tunnel-api.js';
import { exchange } from './support/wire.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Runs an executable as a user's shell would, in its own folder, with no module search path from here. */
function run(file: string, ...args: string[]) {
  const { NODE_OPTIONS: _o, NODE_PATH: _p, ...env } = process.env;
  return spawnSync(file, args, { cwd: dirname(file), env, encoding: 'utf8', timeout: 30_000 });
}

function packageJsonAbove(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'package.json'))) return join(d, 'package.json');
    if (dirname(d) === d) return undefined;
  }
}

describe('the bundle, dist/kubectl-pf', () => {
  let dir = '';
  let bundle = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubectl-pf-bundle-'));
    bundle = join(dir, 'kubectl-pf');
    await bundlePlugin(bundle);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is an executable with a node shebang', () => {
    assert.equal(readFileSync(bundle, 'utf8').split('\n')[0], '#!/usr/bin/env node');
    assert.equal(statSync(bundle).mode & 0o777, 0o755);
  });

  it('runs alone in an empty folder, no node_modules or package.json above it, with its version built in', () => {
    assert.equal(packageJsonAbove(dir), undefined, 'the test needs a temp folder outside any package');
    const help = run(bundle, '--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^kubectl pf: use PortForwards/);
    assert.equal(help.stderr, '');
    const version = run(bundle, 'version', '--client');
    assert.deepEqual([version.status, version.stdout, version.stderr], [0, `Client Version: v${VERSION}\n`, '']);
  });

  describe('against a stand-in tunnel API', () => {
    const api = new StandInTunnelApi();
    let helper: HelperPod;
    let kubeconfig: ReturnType<typeof kubeconfigFor>;
    let child: ReturnType<typeof spawn> | undefined;
    before(async () => {
      await api.start();
      helper = await HelperPod.start('helper-1');
      api.helpers.set('helper-1', helper);
      api.pf = readyPortForward('web', 'helper-1', [{ port: 10080, targetPort: 80 }]);
      kubeconfig = kubeconfigFor(`http://127.0.0.1:${api.port}`, NAMESPACE);
    });
    // here, not in the test: a test that times out must not leave the plugin or the servers running
    after(() => {
      child?.kill('SIGKILL');
      api.stop();
      helper.stop();
      kubeconfig.remove();
    });

    it('connects, with everything the tunnel needs inside the bundle', { timeout: 30_000 }, async () => {
      const session = spawn(bundle, ['connect', 'web', ':10080', '--address', '127.0.0.1', '--kubeconfig', kubeconfig.file], { cwd: dir });
      child = session;
      let out = '';
      session.stdout.on('data', (d) => (out += d));
      session.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((resolve) => session.on('exit', resolve));
      const forwarding = await Promise.race([
        new Promise<RegExpExecArray>((resolve) => session.stdout.on('data', () => {
          const m = /^Forwarding from 127\.0\.0\.1:(\d+) -> 10080$/m.exec(out);
          if (m) resolve(m);
        })),
        exited.then((code) => assert.fail(`kubectl-pf exited with ${code}: ${out}`)),
      ]);
      assert.equal(await exchange(Number(forwarding[1]), 'hello'), 'helper-1:hello');
      assert.deepEqual(api.tunnels.map((t) => [t.port, t.helper]), [[10080, 'helper-1']]);
      session.kill('SIGINT');
      assert.equal(await exited, 0, out);
    });
  });
});

describe('the krew release', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kubectl-pf-krew-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('is an archive of the plugin and a manifest naming its sha256 and the version', async () => {
    const release = await buildKrewRelease(join(dir, 'out'), 'https://downloads.example/pf/');
    const manifest = parse(readFileSync(release.manifest, 'utf8'));
    assert.equal(release.manifest, join(dir, 'out', 'pf.yaml'));
    assert.equal(manifest.apiVersion, 'krew.googlecontainertools.github.com/v1alpha2');
    assert.equal(manifest.kind, 'Plugin');
    assert.equal(manifest.metadata.name, 'pf');
    assert.equal(manifest.spec.version, `v${VERSION}`);
    assert.ok(manifest.spec.shortDescription && manifest.spec.description);
    assert.equal(manifest.spec.platforms.length, 1);
    const [platform] = manifest.spec.platforms;
    assert.deepEqual(platform.selector, { matchExpressions: [{ key: 'os', operator: 'In', values: ['darwin', 'linux'] }] });
    assert.equal(platform.uri, `https://downloads.example/pf/kubectl-pf-v${VERSION}.tar.gz`);
    assert.equal(platform.sha256, createHash('sha256').update(readFileSync(release.archive)).digest('hex'));
    assert.equal(platform.bin, 'kubectl-pf');
    assert.deepEqual(platform.files, ARCHIVE_FILES.map((from) => ({ from, to: '.' })));

    // what krew unpacks: every file the manifest names, and a plugin that runs from there
    const unpacked = join(dir, 'unpacked');
    mkdirSync(unpacked);
    const tar = spawnSync('tar', ['-xzf', release.archive, '-C', unpacked], { encoding: 'utf8' });
    assert.equal(tar.status, 0, tar.stderr);
    for (const file of ARCHIVE_FILES) assert.ok(existsSync(join(unpacked, file)), file);
    assert.equal(statSync(join(unpacked, 'kubectl_complete-pf')).mode & 0o111, 0o111);
    const version = run(join(unpacked, 'kubectl-pf'), 'version', '--client');
    assert.deepEqual([version.status, version.stdout], [0, `Client Version: v${VERSION}\n`]);
  });

  it('archives the same files to the same bytes, so a sha256 names one content', () => {
    const entries = [{ name: 'a', mode: 0o755, data: Buffer.from('#!/bin/sh\n') }, { name: 'b', mode: 0o644, data: Buffer.alloc(513, 1) }];
    assert.deepEqual(tarGz(entries), tarGz(entries.map((e) => ({ ...e, data: Buffer.from(e.data) }))));
    const listed = spawnSync('tar', ['-tvzf', '-'], { input: tarGz(entries), encoding: 'utf8' });
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /^-rwxr-xr-x 0\/0 +10 .* a$/m);
    assert.match(listed.stdout, /^-rw-r--r-- 0\/0 +513 .* b$/m);
  });
});
