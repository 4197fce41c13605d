// Flags typed the way kubectl users type them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GLOBAL_FLAGS, parseArgs, UsageError, type FlagSpec } from '../../src/cli/args.js';

const SPECS: FlagSpec[] = [
  ...GLOBAL_FLAGS,
  { name: 'port', short: 'p', type: 'string', list: true },
  { name: 'dry-run', type: 'string', bareValue: 'client' },
  { name: 'output', short: 'o', type: 'string' },
];

describe('flag parsing', () => {
  it('reads -n NS, -nNS, -n=NS, --namespace NS and --namespace=NS alike', () => {
    for (const argv of [['-n', 'team-a'], ['-nteam-a'], ['-n=team-a'], ['--namespace', 'team-a'], ['--namespace=team-a']]) {
      assert.equal(parseArgs(argv, SPECS).flags.namespace, 'team-a', argv.join(' '));
    }
  });

  it('takes flags before and after the arguments', () => {
    const args = parseArgs(['web', '--context', 'kind', '8080:80', '--kubeconfig=/tmp/kc'], SPECS);
    assert.deepEqual(args.positionals, ['web', '8080:80']);
    assert.equal(args.flags.context, 'kind');
    assert.equal(args.flags.kubeconfig, '/tmp/kc');
  });

  it('collects a list flag from repeats and commas', () => {
    const args = parseArgs(['-p', '80', '--port=443,8443:8443', '-p5353/udp'], SPECS);
    assert.deepEqual(args.flags.port, ['80', '443', '8443:8443', '5353/udp']);
  });

  it('gives --dry-run its value or, bare, "client"', () => {
    assert.equal(parseArgs(['--dry-run'], SPECS).flags['dry-run'], 'client');
    assert.equal(parseArgs(['--dry-run=server'], SPECS).flags['dry-run'], 'server');
  });

  it('treats a negative number as an argument, so the port parser can explain it', () => {
    assert.deepEqual(parseArgs(['web', '-5'], SPECS).positionals, ['web', '-5']);
  });

  it('stops reading flags at --', () => {
    assert.deepEqual(parseArgs(['--', '--help'], SPECS).positionals, ['--help']);
  });

  it('says which flag is unknown or lacks its value', () => {
    assert.throws(() => parseArgs(['--bogus'], SPECS), new UsageError('unknown flag: --bogus'));
    assert.throws(() => parseArgs(['-x'], SPECS), new UsageError("unknown shorthand flag: 'x' in -x"));
    assert.throws(() => parseArgs(['web', '-n'], SPECS), new UsageError('flag needs an argument: -n'));
    assert.throws(() => parseArgs(['--output'], SPECS), new UsageError('flag needs an argument: --output'));
    assert.throws(() => parseArgs(['--help=maybe'], SPECS), new UsageError('invalid value "maybe" for --help: use true or false'));
  });
});
