// The helper image's entrypoint (images/helper/rootfs/usr/local/bin/pf-helper), run with sh: its
// port parsing, its refusals, and the relay commands it starts. Finding the target pod (every runtime,
// cgroup driver and version) is pf-relay's job, tested in images/helper/relay.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(import.meta.dirname, '../../images/helper/rootfs/usr/local/bin/pf-helper');
const UID = '5b1f3c2e-8d4a-4e6f-9a0b-1c2d3e4f5a6b';

const tmp = mkdtempSync(join(tmpdir(), 'pf-helper-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function helper(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('sh', [SCRIPT, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe('pf-helper parse-ports', () => {
  const parse = (ports: string) => helper(['parse-ports'], { PF_PORTS: ports });

  test('accepts the operator format, one "proto listen target" line per entry', () => {
    const r = parse('10080:80/tcp 5353:53/udp 1:65535/tcp 53:53/tcp');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.split('\n'), ['tcp 10080 80', 'udp 5353 53', 'tcp 1 65535', 'tcp 53 53']);
  });

  test('a missing target port defaults to the listen port', () => {
    assert.equal(parse('8080/tcp').out, 'tcp 8080 8080');
  });

  const bad: Array<[string, RegExp]> = [
    ['', /PF_PORTS is empty/],
    ['10080:80/sctp', /'10080:80\/sctp': protocol must be tcp or udp/],
    ['0:80/tcp', /'0' is not a port/],
    ['70000:80/tcp', /'70000' is not a port/],
    ['10080:080/tcp', /'080' is not a port/],
    ['http:80/tcp', /'http' is not a port/],
    [':80/tcp', /'' is not a port/],
    ['1:2:3/tcp', /'2:3' is not a port/],
    ['*', /'\*' is not a port/],
    ['10080:80/tcp 10080:81/tcp', /tcp port 10080 is listed twice/],
  ];
  for (const [ports, message] of bad) {
    test(`rejects ${JSON.stringify(ports)} with a clear message and no partial output`, () => {
      const r = parse(ports);
      assert.equal(r.code, 2);
      assert.equal(r.out, '');
      assert.match(r.err, message);
    });
  }

  test('the same port may be used once per protocol', () => {
    assert.equal(parse('53:53/tcp 53:53/udp').code, 0);
  });
});

describe('pf-helper run and ready, failing before touching anything', () => {
  const netnsDir = () => mkdtempSync(join(tmp, 'netns-'));

  test('run without PF_TARGET_POD_UID exits 2', () => {
    const r = helper(['run'], { PF_PORTS: '80:80/tcp', PF_NETNS_DIR: netnsDir() });
    assert.equal(r.code, 2);
    assert.match(r.err, /PF_TARGET_POD_UID is not set/);
  });

  test('run with a bad PF_PORTS or data path exits 2', () => {
    const base = { PF_TARGET_POD_UID: UID, PF_NETNS_DIR: netnsDir() };
    assert.match(helper(['run'], { ...base, PF_PORTS: '80/icmp' }).err, /protocol must be tcp or udp/);
    const r = helper(['run'], { ...base, PF_PORTS: '80/tcp', PF_DATA_PATH: 'socat' });
    assert.equal(r.code, 2);
    assert.match(r.err, /PF_DATA_PATH must be splice or exec, not 'socat'/);
    const idle = helper(['run'], { ...base, PF_PORTS: '80/udp', PF_UDP_IDLE_TIMEOUT: '10s' });
    assert.equal(idle.code, 2);
    assert.match(idle.err, /PF_UDP_IDLE_TIMEOUT must be a number of seconds/);
  });

  test('ready fails while no namespace is pinned', () => {
    const r = helper(['ready'], { PF_NETNS_DIR: netnsDir() });
    assert.equal(r.code, 1);
    assert.match(r.out, /not ready: no network namespace mounted/);
  });

  test('an unknown command exits 2 with the usage', () => {
    const r = helper(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command 'frobnicate' \(run \| ready \| parse-ports \| print-relays\)/);
  });
});

describe('pf-helper print-relays: the relay processes run starts, per data path', () => {
  const PORTS = '10080:80/tcp 5353:53/udp 8080/tcp';
  const relays = (env: Record<string, string>) => {
    const r = helper(['print-relays'], { PF_PORTS: PORTS, ...env });
    assert.equal(r.code, 0, r.err);
    return r.out.split('\n');
  };

  const TARGET = { PF_TARGET_POD_UID: UID, PF_TARGET_POD_IPS: '10.251.0.7,fd00::7' };
  const splice = (extra: string) =>
    `pf-relay --target-pod-uid=${UID} --target-pod-ips=10.251.0.7,fd00::7 --run-as=65532:65532${extra} tcp:10080:80 udp:5353:53 tcp:8080:8080`;

  test('splice, the default: the shell becomes one pf-relay for every port, which finds the pod and drops its privileges', () => {
    assert.deepEqual(relays(TARGET), [splice('')]);
    assert.deepEqual(relays({ ...TARGET, PF_DATA_PATH: 'splice' }), [splice('')]);
  });

  test('splice passes PF_UDP_IDLE_TIMEOUT, PF_HEALTH_PORT and PF_RUN_AS on', () => {
    const out = relays({ ...TARGET, PF_UDP_IDLE_TIMEOUT: '5', PF_HEALTH_PORT: '9901', PF_RUN_AS: '1000:1000' });
    assert.deepEqual(out, [splice(' --udp-idle=5s --health=9901').replace('--run-as=65532:65532', '--run-as=1000:1000')]);
  });

  test('exec: the classic nsenter + socat per connection', () => {
    const out = relays({ PF_DATA_PATH: 'exec', PF_UDP_IDLE_TIMEOUT: '7' });
    assert.equal(out.length, 3);
    const [tcp = '', udp = ''] = out;
    assert.match(tcp, /TCP[46]-LISTEN:10080,.* EXEC:nsenter --net=\/run\/netns\/target socat -d0 -b 262144 STDIO 'TCP:localhost:80,ai-addrconfig=0'$/);
    assert.match(udp, /-T 7 UDP[46]-LISTEN:5353,.* EXEC:nsenter --net=\/run\/netns\/target socat .* -T 7 STDIO 'UDP:127\.0\.0\.1:53',socktype=2$/);
  });

  test('bad input exits 2 with no commands printed', () => {
    const bad: Array<Record<string, string>> = [{ PF_PORTS: '80/icmp' }, { PF_DATA_PATH: 'bogus' }, { PF_UDP_IDLE_TIMEOUT: '0' }];
    for (const env of bad) {
      const r = helper(['print-relays'], { PF_PORTS: PORTS, ...env });
      assert.equal(r.code, 2, JSON.stringify(env));
      assert.equal(r.out, '');
    }
  });
});
