// What a user sees from `kubectl pf` when asking for help or getting the arguments wrong.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

async function run(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { io: { out: (l) => out.push(l), err: (l) => err.push(l) } });
  return { code, out, err };
}

/** Bad arguments: exit 2 and exactly one line on stderr, nothing on stdout. */
async function rejects(argv: string[], line: string | RegExp): Promise<void> {
  const r = await run(...argv);
  assert.equal(r.code, 2, `exit code of kubectl pf ${argv.join(' ')}`);
  assert.deepEqual(r.out, []);
  assert.equal(r.err.length, 1, r.err.join('\n'));
  if (typeof line === 'string') assert.equal(r.err[0], line);
  else assert.match(r.err[0] as string, line);
}

describe('kubectl pf help', () => {
  it('with no arguments or --help, lists the commands and exits 0', async () => {
    for (const argv of [[], ['--help'], ['-h'], ['help']]) {
      const r = await run(...argv);
      assert.equal(r.code, 0);
      assert.match(r.out.join('\n'), /connect +Forward local ports/);
      assert.match(r.out.join('\n'), /create +Create or update a PortForward/);
      assert.match(r.out.join('\n'), /forward +Forward local ports to a pod, Service or workload/);
      assert.match(r.out.join('\n'), /list +List PortForwards/);
      assert.match(r.out.join('\n'), /version +Print the plugin's version/);
      assert.match(r.out.join('\n'), /completion +Print a shell completion script/);
      assert.doesNotMatch(r.out.join('\n'), /__complete/);
    }
  });

  it('every command has --help with examples', async () => {
    for (const command of ['connect', 'forward', 'create', 'list', 'version', 'completion']) {
      for (const argv of [[command, '--help'], [command, '-h'], ['help', command], ['-n', 'x', command, 'web', '--help']]) {
        const r = await run(...argv);
        assert.equal(r.code, 0, argv.join(' '));
        const text = r.out.join('\n');
        assert.match(text, /Examples:/);
        assert.match(text, new RegExp(`kubectl pf ${command} `));
        assert.match(text, /-n, --namespace/);
        assert.match(text, /--kubeconfig/);
        assert.match(text, /--context/);
      }
    }
  });
});

describe('kubectl pf with bad arguments: exit 2 and one clear line', () => {
  it('an unknown command', () => rejects(['portforward'], /^error: unknown command "portforward" for "kubectl pf"/));
  it('an unknown flag', () => rejects(['connect', 'web', '--bogus'], 'error: unknown flag: --bogus'));
  it('a flag without its value', () => rejects(['connect', 'web', '-n'], 'error: flag needs an argument: -n'));
  it('connect without a name', () => rejects(['connect'], 'error: NAME is required: kubectl pf connect NAME [LOCAL:]REMOTE ...'));
  it('connect with a bad port', async () => {
    await rejects(['connect', 'web', 'abc'], /^error: invalid port "abc": "abc" is not a number/);
    await rejects(['connect', 'web', '0'], 'error: invalid port "0": the port must be 1-65535, not 0');
    await rejects(['connect', 'web', '70000'], 'error: invalid port "70000": the port must be 1-65535, not 70000');
    await rejects(['connect', 'web', '1:2:3'], /^error: invalid port "1:2:3": too many ':'/);
    await rejects(['connect', 'web', '-5'], /^error: invalid port "-5": "-5" is not a number/);
    await rejects(['connect', 'web', ''], /^error: invalid port "": empty/);
    await rejects(['connect', 'web', ':'], /^error: invalid port ":": the remote port is missing/);
  });
  it('help for something that is not a command, even an Object property', () => rejects(['help', 'constructor'], /^error: unknown command "constructor": use connect, forward, create, list, version or completion$/));
  it('forward without a target or ports, or with a bad one', async () => {
    await rejects(['forward'], /^error: TARGET is required: kubectl pf forward TARGET/);
    await rejects(['forward', 'svc/web'], 'error: at least one port is required: kubectl pf forward TARGET [LOCAL:]REMOTE[/udp] ...');
    await rejects(['forward', 'job/x', '80'], /^error: invalid TARGET "job\/x"/);
    await rejects(['forward', 'svc/web', '-l', 'app=web', '80'], 'error: give TARGET or -l/--selector, not both');
    await rejects(['forward', 'svc/web', '80/sctp'], 'error: invalid port "80/sctp": protocol must be tcp or udp, not "sctp"');
    await rejects(['forward', 'svc/web', '80', '--ttl', 'forever'], 'error: invalid --ttl "forever": use a duration above zero like 90s, 30m, 2h, 1h30m or 7d');
  });
  it('connect with a bad --address', () => rejects(['connect', 'web', '8080', '--address', 'my-laptop'], /^error: invalid --address "my-laptop"/));
  it('a --ready-timeout that is not a duration', async () => {
    for (const bad of ['soon', '10', '0s', '1.5m']) {
      await rejects(['connect', 'web', '--ready-timeout', bad], `error: invalid --ready-timeout "${bad}": use a duration above zero like 30s, 5m or 1h`);
    }
  });
  it('a kubeconfig file that does not exist', () =>
    rejects(['connect', 'web', '--kubeconfig', fileURLToPath(new URL('./no-such-kubeconfig', import.meta.url))], /^error: cannot load --kubeconfig /));
  it('create without a target', () =>
    rejects(['create', 'web', '--port', '80', '--dry-run'], 'error: set exactly one of --pod (a pod name), --selector (labels of the pods to reach) or --target (svc/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME or pod/NAME)'));
  it('create with a spec the operator would refuse', () =>
    rejects(['create', 'web', '--pod', 'nginx', '-p', '80,80', '--dry-run'], 'error: spec.ports: each port may appear only once per protocol'));
  it('list with a NAME, or an output it does not print', async () => {
    await rejects(['list', 'web'], 'error: unexpected argument "web": list takes no NAME (use kubectl get portforward NAME)');
    await rejects(['list', '-o', 'wide'], 'error: invalid --output "wide": use yaml, json or name');
    await rejects(['list', '--watch'], 'error: unknown flag: --watch');
  });
  it('the hidden completion command is no help topic', () => rejects(['help', '__complete'], /^error: unknown command "__complete"/));
  it('create with an unknown output format', () =>
    rejects(['create', 'web', '--pod', 'nginx', '-p', '80', '--dry-run', '-o', 'wide'], 'error: invalid --output "wide": use yaml, json or name'));
});

describe('kubectl pf create --dry-run=client', () => {
  it('prints the PortForward as YAML in the -n namespace, without a cluster', async () => {
    const r = await run('create', 'web', '-n', 'team-a', '--pod', 'nginx', '--port', '10080:80', '--ttl', '2h', '--dry-run=client', '-o', 'yaml');
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.equal(
      r.out.join('\n'),
      `apiVersion: portforward.io/v1alpha1
kind: PortForward
metadata:
  name: web
  namespace: team-a
spec:
  target:
    pod: nginx
  ports:
    - port: 10080
      targetPort: 80
      protocol: TCP
  ttl: 2h`,
    );
  });

  it('says what it would do without -o', async () => {
    const r = await run('create', 'web', '-n', 'team-a', '--selector', 'app=web', '--port', '8080', '--dry-run');
    assert.deepEqual(r.out, ['portforward.portforward.io/web created (dry run)']);
  });
});

describe('the kubectl-pf process', () => {
  const entry = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
  const node = (...argv: string[]) => spawnSync(process.execPath, ['--import', 'tsx', entry, ...argv], { encoding: 'utf8', timeout: 30_000 });

  it('exits 2 with one line on stderr for bad arguments', () => {
    const r = node('connect', 'web', '1:2:3');
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'error: invalid port "1:2:3": too many \':\'; use [LOCAL:]REMOTE[/udp], e.g. 5000, 8888:5000, :5000 or 5353/udp\n');
  });

  it('exits 0 after printing help', () => {
    const r = node('create', '--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Create a PortForward/);
  });
});
