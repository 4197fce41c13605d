// Shell completion: the answers of `kubectl pf __complete WORDS...` in cobra's format (what kubectl
// reads from kubectl_complete-pf), and the bash script for kubectl-pf run by itself.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundlePlugin } from '../../scripts/bundle.js';
import type { KubeFlags } from '../../src/cli/kube.js';
import { complete, DIRECTIVE, type Lookups } from '../../src/cli/complete.js';
import { completionScript } from '../../src/cli/completion-scripts.js';
import { closedServer, kubeconfigFor, readOnlyApi, runMain } from './support/read-only-api.js';

/** Lookups that answer from tables and remember what they were asked with. */
function lookups(names: string[] = ['web', 'db'], namespaces: string[] = ['team-a', 'team-b']) {
  const asked: KubeFlags[] = [];
  const l: Lookups = {
    portForwards: async (kube) => (asked.push(kube), names),
    namespaces: async (kube) => (asked.push(kube), namespaces),
  };
  return { l, asked };
}

const candidates = async (...words: string[]) => (await complete(words, lookups().l)).candidates;

describe('kubectl pf __complete', () => {
  it('offers the commands first, with help, and only those matching what is typed', async () => {
    assert.deepEqual(await candidates(''), ['connect', 'forward', 'create', 'list', 'version', 'completion', 'help']);
    assert.deepEqual(await candidates('c'), ['connect', 'create', 'completion']);
    assert.deepEqual(await candidates('-n', 'team-a', 'l'), ['list'], 'global flags before the command');
    assert.deepEqual(await candidates('help', 'v'), ['version']);
  });

  it("offers each command's own flags from its table", async () => {
    assert.ok((await candidates('list', '--')).includes('--all-namespaces'));
    assert.ok(!(await candidates('connect', '--')).includes('--all-namespaces'));
    assert.deepEqual(await candidates('forward', '--k'), ['--kubeconfig', '--keep']);
    assert.deepEqual(await candidates('version', '--c'), ['--context', '--client']);
    assert.deepEqual(await candidates('list', '-'), ['--namespace', '--kubeconfig', '--context', '--help', '--all-namespaces', '--output', '-n', '-h', '-A', '-o']);
  });

  it('offers the values a flag takes, in either form', async () => {
    assert.deepEqual(await candidates('list', '-o', ''), ['yaml', 'json', 'name']);
    assert.deepEqual(await candidates('version', '--output', 'j'), ['json']);
    assert.deepEqual(await candidates('create', '--dry-run=s'), ['--dry-run=server']);
    assert.deepEqual(await candidates('connect', '-n', 'team-'), ['team-a', 'team-b']);
    assert.deepEqual(await candidates('completion', ''), ['bash', 'zsh']);
  });

  it('offers the PortForwards of the namespace and context given, for connect NAME only', async () => {
    for (const words of [['connect', '-n', 'team-b', ''], ['connect', '-nteam-b', ''], ['--namespace=team-b', 'connect', '']]) {
      const { l, asked } = lookups();
      assert.deepEqual((await complete(words, l)).candidates, ['web', 'db'], words.join(' '));
      assert.deepEqual(asked, [{ namespace: 'team-b' }]);
    }
    const { l, asked } = lookups();
    assert.deepEqual((await complete(['connect', '--context', 'prod', '--kubeconfig', '/k', 'w'], l)).candidates, ['web']);
    assert.deepEqual(asked, [{ context: 'prod', kubeconfig: '/k' }]);
    assert.deepEqual(await candidates('connect', 'web', ''), [], 'ports come after NAME');
    assert.deepEqual(await candidates('list', ''), []);
  });

  it('says NoFileComp (:4) but for --kubeconfig, which takes a file', async () => {
    assert.equal((await complete(['connect', ''], lookups().l)).directive, DIRECTIVE.noFileComp);
    assert.equal(DIRECTIVE.noFileComp, 4);
    assert.equal((await complete(['connect', '--kubeconfig', ''], lookups().l)).directive, DIRECTIVE.default);
  });

  it('offers nothing, quietly, when the API server cannot be asked', async () => {
    const failing: Lookups = { portForwards: () => Promise.reject(new Error('down')), namespaces: () => Promise.reject(new Error('down')) };
    assert.deepEqual(await complete(['connect', ''], failing), { candidates: [], directive: DIRECTIVE.noFileComp });
  });
});

describe('kubectl pf __complete against an API server', () => {
  let api: Awaited<ReturnType<typeof readOnlyApi>>;
  before(async () => {
    api = await readOnlyApi({
      '/apis/portforward.io/v1alpha1/namespaces/team-a/portforwards': { body: { items: [{ metadata: { name: 'web' } }, { metadata: { name: 'db' } }] } },
    });
  });
  after(() => api.close());

  it('prints the names listed, one a line, then :4, and nothing on stderr', async () => {
    const r = await runMain('__complete', 'connect', '--kubeconfig', api.kubeconfig, '-n', 'team-a', '');
    assert.deepEqual(r, { code: 0, out: ['db', 'web', ':4'], err: [] });
  });

  it('prints only the directive when the server is unreachable or has no such resource', async () => {
    const unreachable = kubeconfigFor(await closedServer());
    try {
      assert.deepEqual(await runMain('__complete', 'connect', '--kubeconfig', unreachable.file, ''), { code: 0, out: [':4'], err: [] });
    } finally {
      unreachable.remove();
    }
    assert.deepEqual(await runMain('__complete', 'connect', '--kubeconfig', api.kubeconfig, '-n', 'other', ''), { code: 0, out: [':4'], err: [] });
  });
});

describe('the completion executables', () => {
  const repo = fileURLToPath(new URL('../..', import.meta.url));
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kubectl-pf-completion-'));
    // kubectl-pf as the shell finds it on PATH: the bundle (it starts in a fraction of tsx's time)
    await bundlePlugin(join(dir, 'kubectl-pf'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = () => ({ ...process.env, PATH: `${dir}:${process.env.PATH}` });

  it('kubectl_complete-pf answers for kubectl with kubectl-pf __complete', () => {
    const r = spawnSync(join(repo, 'bin/kubectl_complete-pf'), ['list', '--all'], { env: env(), cwd: repo, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '--all-namespaces\n:4\n');
  });

  it('the bash script completes commands, flag values, and file names only where cobra allows them', () => {
    writeFileSync(join(dir, 'some-kubeconfig'), '');
    const compreply = (...words: string[]) => {
      const script = `${completionScript('bash')}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}\n_kubectl_pf\nprintf '%s\\n' "\${COMPREPLY[@]}"`;
      const r = spawnSync('bash', ['-c', script], { env: env(), cwd: dir, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    assert.deepEqual(compreply('kubectl-pf', 'li'), ['list']);
    assert.deepEqual(compreply('kubectl-pf', 'list', '-o', 'j'), ['json']);
    assert.deepEqual(compreply('kubectl-pf', 'connect', '--kubeconfig', 'some-'), ['some-kubeconfig']);
    assert.deepEqual(compreply('kubectl-pf', 'connect', 'web', 'some-'), [], 'NoFileComp: no file names for a port');
  });

  const zsh = spawnSync('zsh', ['--version']).status === 0;
  it('the zsh script offers the candidates, and file names only where cobra allows them', { skip: !zsh && 'no zsh here' }, () => {
    // compadd and _files exist only inside zsh's completion system: stand-ins that print what they get
    const complete = (...words: string[]) => {
      const script = `compdef() { :; }\ncompadd() { print -l -- "$@" }\n_files() { print -- FILES }\n${completionScript('zsh')}\n` +
        `words=(${words.map((w) => `'${w}'`).join(' ')}); CURRENT=${words.length}\n_kubectl_pf`;
      const r = spawnSync('zsh', ['-f', '-c', script], { env: env(), cwd: dir, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    assert.deepEqual(complete('kubectl-pf', 'li'), ['--', 'list']);
    assert.deepEqual(complete('kubectl-pf', 'list', '-o', ''), ['--', 'yaml', 'json', 'name']);
    assert.deepEqual(complete('kubectl-pf', 'connect', '--kubeconfig', ''), ['FILES']);
    assert.deepEqual(complete('kubectl-pf', 'connect', 'web', ''), []);
  });

  it('completion prints a script for bash or zsh, and refuses other shells', async () => {
    assert.match((await runMain('completion', 'zsh')).out.join('\n'), /^compdef _kubectl_pf kubectl-pf$/m);
    assert.deepEqual(await runMain('completion', 'fish'), { code: 2, out: [], err: ['error: unsupported shell "fish": use bash or zsh'] });
    assert.deepEqual(await runMain('completion'), { code: 2, out: [], err: ['error: a shell is required: kubectl pf completion bash|zsh'] });
  });
});
