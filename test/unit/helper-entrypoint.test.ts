// The helper image's entrypoint (images/helper/rootfs/usr/local/bin/pf-helper), run with sh against
// fake /proc trees shaped like real nodes: every runtime, cgroup driver and cgroup version we support.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const SCRIPT = resolve(import.meta.dirname, '../../images/helper/rootfs/usr/local/bin/pf-helper');
const UID = '5b1f3c2e-8d4a-4e6f-9a0b-1c2d3e4f5a6b';
const OTHER = '5b1f3c2e-8d4a-4e6f-9a0b-1c2d3e4f5a6c'; // differs in the last character only
const CID = 'a3f5c0d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1';
const us = (uid: string) => uid.replaceAll('-', '_');

const tmp = mkdtempSync(join(tmpdir(), 'pf-helper-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function helper(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('sh', [SCRIPT, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
  });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

let trees = 0;
/** A fake proc root: PID -> content of /proc/PID/cgroup, plus the entries every real /proc has. */
function procTree(procs: Record<number, string>): string {
  const root = join(tmp, `proc${trees++}`);
  mkdirSync(join(root, 'self'), { recursive: true });
  mkdirSync(join(root, 'sys'), { recursive: true });
  mkdirSync(join(root, '77')); // a process that exited between listing and reading: no cgroup file
  for (const [pid, cgroup] of Object.entries(procs)) {
    mkdirSync(join(root, pid), { recursive: true });
    writeFileSync(join(root, pid, 'cgroup'), cgroup);
  }
  return root;
}

/** cgroup v1: one line per hierarchy, all with the same path (plus the empty v2 line of hybrid hosts). */
const v1 = (path: string) =>
  ['12:pids', '11:memory', '7:cpu,cpuacct', '4:devices', '1:name=systemd'].map((h) => `${h}:${path}\n`).join('') + '0::/\n';
const v2 = (path: string) => `0::${path}\n`;

// [description, cgroup file content for a process of the pod]
const shapes: Array<[string, (uid: string) => string]> = [
  ['containerd, cgroup v2, systemd driver', (u) => v2(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${us(u)}.slice/cri-containerd-${CID}.scope`)],
  ['containerd, cgroup v2, cgroupfs driver', (u) => v2(`/kubepods/besteffort/pod${u}/${CID}`)],
  ['containerd, cgroup v1, cgroupfs driver', (u) => v1(`/kubepods/burstable/pod${u}/${CID}`)],
  ['containerd, cgroup v1, systemd driver', (u) => v1(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${us(u)}.slice/cri-containerd-${CID}.scope`)],
  ['CRI-O, cgroup v2, systemd driver', (u) => v2(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${us(u)}.slice/crio-${CID}.scope`)],
  ['CRI-O, cgroup v1, systemd driver', (u) => v1(`/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${us(u)}.slice/crio-${CID}.scope`)],
  ['CRI-O, cgroup v1, cgroupfs driver', (u) => v1(`/kubepods/besteffort/pod${u}/crio-${CID}`)],
  ['guaranteed QoS (no QoS level), systemd driver', (u) => v2(`/kubepods.slice/kubepods-pod${us(u)}.slice/cri-containerd-${CID}.scope`)],
  ['guaranteed QoS (no QoS level), cgroupfs driver', (u) => v1(`/kubepods/pod${u}/${CID}`)],
  ['seen through a cgroup namespace, systemd driver', (u) => v2(`/../../kubepods-besteffort-pod${us(u)}.slice/cri-containerd-${CID}.scope`)],
  ['seen through a cgroup namespace, cgroupfs driver', (u) => v2(`/../pod${u}/${CID}`)],
  ['kind-style nested kubelet.slice', (u) => v2(`/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${us(u)}.slice/cri-containerd-${CID}.scope`)],
  ['pod-level cgroup (no container level)', (u) => v1(`/kubepods/besteffort/pod${u}`)],
];

describe('pf-helper find-pid', () => {
  for (const [name, cgroup] of shapes) {
    test(name, () => {
      const proc = procTree({
        1: v2('/init.scope'),
        50: v2('/system.slice/containerd.service'),
        120: cgroup(OTHER), // another pod, with a lower PID: must not match
        987: cgroup(UID), // lowest PID of the pod (globbing order would list 10234 first)
        10234: cgroup(UID),
      });
      const r = helper(['find-pid', UID], { PF_PROC_ROOT: proc });
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, '987');
      assert.equal(helper(['find-pid', OTHER], { PF_PROC_ROOT: proc }).out, '120');
    });
  }

  test('skips CRI-O conmon, which sits in the pod cgroup but in the host network namespace', () => {
    const slice = `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${us(UID)}.slice`;
    const proc = procTree({
      300: v2(`${slice}/crio-conmon-${CID}.scope`),
      301: v2(`${slice}/crio-${CID}.scope`),
    });
    const r = helper(['find-pid', UID], { PF_PROC_ROOT: proc });
    assert.equal(r.out, '301', r.err);
  });

  test('does not match a UID that is only a prefix or a part of another path', () => {
    const proc = procTree({
      10: v2(`/kubepods/besteffort/pod${UID}0/${CID}`),
      11: v2(`/kubepods/besteffort/xpod${UID}/${CID}`),
      12: v2(`/system.slice/${UID}.service`),
    });
    const r = helper(['find-pid', UID], { PF_PROC_ROOT: proc });
    assert.equal(r.code, 1, r.out);
  });

  test('a pod that is not on this node: non-zero exit and a clear message', () => {
    const proc = procTree({ 1: v2('/init.scope'), 120: v2(`/kubepods/besteffort/pod${OTHER}/${CID}`) });
    const r = helper(['find-pid', UID], { PF_PROC_ROOT: proc });
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, new RegExp(`no process of pod ${UID} found in ${proc}`));
  });

  test('rejects a malformed UID (it becomes part of a regular expression)', () => {
    const r = helper(['find-pid', 'pod.*'], { PF_PROC_ROOT: procTree({}) });
    assert.equal(r.code, 2);
    assert.match(r.err, /bad pod UID 'pod\.\*'/);
  });
});

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
    const base = { PF_TARGET_POD_UID: UID, PF_NETNS_DIR: netnsDir(), PF_PROC_ROOT: procTree({}) };
    assert.match(helper(['run'], { ...base, PF_PORTS: '80/icmp' }).err, /protocol must be tcp or udp/);
    const r = helper(['run'], { ...base, PF_PORTS: '80/tcp', PF_DATA_PATH: 'socat' });
    assert.equal(r.code, 2);
    assert.match(r.err, /PF_DATA_PATH must be splice, netns, unix or exec, not 'socat'/);
    const idle = helper(['run'], { ...base, PF_PORTS: '80/udp', PF_UDP_IDLE_TIMEOUT: '10s' });
    assert.equal(idle.code, 2);
    assert.match(idle.err, /PF_UDP_IDLE_TIMEOUT must be a number of seconds/);
  });

  test('run for a pod not on this node exits 1 and says so', () => {
    const r = helper([], { PF_TARGET_POD_UID: UID, PF_PORTS: '80/tcp', PF_NETNS_DIR: netnsDir(), PF_PROC_ROOT: procTree({ 1: v2('/init.scope') }) });
    assert.equal(r.code, 1);
    assert.match(r.err, /no process of pod .* \(is the pod running on this node, and hostPID set\?\)/);
  });

  test('ready fails while no namespace is pinned', () => {
    const r = helper(['ready'], { PF_NETNS_DIR: netnsDir() });
    assert.equal(r.code, 1);
    assert.match(r.out, /not ready: no network namespace mounted/);
  });

  test('an unknown command exits 2 with the usage', () => {
    const r = helper(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command 'frobnicate' \(run \| ready \| find-pid UID \| parse-ports \| print-relays\)/);
  });
});

describe('pf-helper print-relays: the relay processes run starts, per data path', () => {
  const PORTS = '10080:80/tcp 5353:53/udp 8080/tcp';
  const relays = (env: Record<string, string>) => {
    const r = helper(['print-relays'], { PF_PORTS: PORTS, ...env });
    assert.equal(r.code, 0, r.err);
    return r.out.split('\n');
  };

  test('splice, the default: one pf-relay for every port, in the pinned namespace', () => {
    const expected = ['pf-relay --netns=/run/netns/target tcp:10080:80 udp:5353:53 tcp:8080:8080'];
    assert.deepEqual(relays({}), expected);
    assert.deepEqual(relays({ PF_DATA_PATH: 'splice' }), expected);
  });

  test('splice passes PF_UDP_IDLE_TIMEOUT and PF_NETNS_DIR on, and keeps its own idle default otherwise', () => {
    assert.deepEqual(relays({ PF_UDP_IDLE_TIMEOUT: '5', PF_NETNS_DIR: '/tmp/ns' }), [
      'pf-relay --netns=/tmp/ns/target --udp-idle=5s tcp:10080:80 udp:5353:53 tcp:8080:8080',
    ]);
  });

  test('netns: one socat per port, entering the namespace per connection with netns=', () => {
    const out = relays({ PF_DATA_PATH: 'netns' });
    assert.equal(out.length, 3);
    const [tcp = '', udp = '', tcp2 = ''] = out;
    assert.match(tcp, /^socat --experimental .* TCP[46]-LISTEN:10080,fork,reuseaddr\S* TCP:localhost:80,netns=target,ai-addrconfig=0$/);
    assert.match(udp, /^socat --experimental .* -T 10 UDP[46]-LISTEN:5353,\S* UDP:127\.0\.0\.1:53,netns=target$/);
    assert.match(tcp2, /TCP[46]-LISTEN:8080,.* TCP:localhost:8080,netns=target/);
  });

  test('unix: per TCP port a socat in the target namespace on a Unix socket and one here bridging to it; UDP as netns', () => {
    const out = relays({ PF_DATA_PATH: 'unix' });
    assert.equal(out.length, 5);
    const [inside = '', bridge = '', udp = '', inside2 = '', bridge2 = ''] = out;
    assert.match(inside, /^nsenter --net=\/run\/netns\/target socat .* UNIX-LISTEN:\/run\/netns\/p10080\.sock,fork,unlink-early,backlog=256 TCP:localhost:80,ai-addrconfig=0$/);
    assert.match(bridge, /^socat .* TCP[46]-LISTEN:10080,fork,\S* UNIX-CONNECT:\/run\/netns\/p10080\.sock$/);
    assert.match(udp, /^socat --experimental .* UDP[46]-LISTEN:5353,\S* UDP:127\.0\.0\.1:53,netns=target$/);
    assert.match(inside2, /UNIX-LISTEN:\/run\/netns\/p8080\.sock,.* TCP:localhost:8080,/);
    assert.match(bridge2, /UNIX-CONNECT:\/run\/netns\/p8080\.sock$/);
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
