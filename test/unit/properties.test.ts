// For any valid spec the builders produce valid objects: they never throw, names are DNS labels
// (even for PortForward names of 253 characters), the Services expose exactly the spec's ports
// under unique names, and the helper's PF_PORTS says the same ports back, also to the helper's own
// parser.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { it } from 'node:test';
import fc from 'fast-check';
import { parseSpec } from '../../src/api/index.js';
import { helperSettingsOf } from '../../src/controller/reconciler.js';
import { helperPodFor } from '../../src/resources/helper-pod.js';
import { serviceFor, endpointSliceFor } from '../../src/resources/service.js';
import { config } from './support/fixtures.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HELPER = resolve(import.meta.dirname, '../../images/helper/rootfs/usr/local/bin/pf-helper');
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
/** A PortForward's own name is a DNS subdomain: up to 253 characters, dots allowed. */
const subdomain = fc
  .array(label, { minLength: 1, maxLength: 6 })
  .map((parts) => parts.join('.').slice(0, 253).replace(/[-.]+$/, ''))
  .filter((n) => n.length > 0);
/** Port names, including hostile ones that look like another port's default name (tcp-80). */
const portName = fc.oneof(
  { arbitrary: label, weight: 30 },
  { arbitrary: fc.tuple(fc.constantFrom('tcp', 'udp'), fc.integer({ min: 1, max: 65535 })).map(([p, n]) => `${p}-${n}`), weight: 1 },
);

const specs = fc
  .record({
    ports: fc.uniqueArray(
      fc.record({
        port: fc.integer({ min: 1, max: 65535 }),
        protocol: fc.option(fc.constantFrom('TCP', 'UDP'), { nil: undefined }),
        targetPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        name: fc.option(portName, { nil: undefined, freq: 3 }),
      }),
      { minLength: 1, maxLength: 64, selector: (p) => `${p.port}/${p.protocol ?? 'TCP'}` },
    ),
    pod: label,
    ttl: fc.option(fc.constantFrom('30s', '15m', '2h', '1h30m', '7d', '999999d'), { nil: undefined }),
    /** Sometimes one port takes the default name (tcp-81) of the next one, which has no name. */
    steal: fc.option(fc.nat(), { nil: undefined, freq: 4 }),
  })
  .map(({ ports, pod, ttl, steal }) => {
    // drop duplicate names: the schema refuses those, which is a different property
    let list = ports.map((p, i) => (p.name && ports.findIndex((q) => q.name === p.name) !== i ? { ...p, name: undefined } : p));
    if (steal !== undefined && list.length > 1) {
      const thief = steal % list.length;
      const victim = { ...list[(thief + 1) % list.length]!, name: undefined };
      const stolen = `${(victim.protocol ?? 'TCP').toLowerCase()}-${victim.port}`;
      list = list.map((p, i) => (i === thief ? { ...p, name: stolen } : i === (thief + 1) % list.length ? victim : p.name === stolen ? { ...p, name: undefined } : p));
    }
    return { target: { pod }, ports: list, ...(ttl ? { ttl } : {}) };
  });

const settings = helperSettingsOf(config);

it('builders accept every valid spec and produce valid names and matching, uniquely named Service ports', () => {
  let accepted = 0;
  fc.assert(
    fc.property(specs, label, subdomain, fc.uuid(), fc.uuid(), (raw, namespace, name, uid, podUid) => {
      const parsed = parseSpec(raw);
      if (!parsed.ok) {
        // the only refusal these specs can earn: a name that is another port's default name
        assert.match(parsed.message, /default name/);
        return;
      }
      accepted++;
      const owner = { namespace, name, uid };
      const target = { namespace, pod: raw.target.pod, uid: podUid, node: 'node-1', ips: ['10.0.0.9'], tolerations: [], ports: parsed.spec.ports.map((p) => Number(p.targetPort ?? p.port)), chosenBy: 'test' };
      const helper = helperPodFor(owner, parsed.spec, target, settings);
      const service = serviceFor(owner, parsed.spec);
      const slice = endpointSliceFor(owner, parsed.spec, { podName: helper.metadata!.name!, podNamespace: config.helperNamespace, podIP: '10.0.0.1', nodeName: 'node-1', ready: true });

      for (const n of [helper.metadata!.name!, service.metadata!.name!, slice.metadata!.name!]) {
        assert.ok(n.length <= 63 && DNS_LABEL.test(n), n);
      }
      const want = parsed.spec.ports.map((p) => `${p.port}/${p.protocol}`);
      for (const svc of [service]) {
        assert.deepEqual(svc.spec!.ports!.map((p) => `${p.port}/${p.protocol}`), want);
        const portNames = svc.spec!.ports!.map((p) => p.name!);
        assert.equal(new Set(portNames).size, portNames.length, `Service port names are unique: ${portNames}`);
        assert.ok(portNames.every((p) => p.length <= 63 && DNS_LABEL.test(p)));
      }
      assert.deepEqual(slice.ports!.map((p) => `${p.port}/${p.protocol}`), want);
      assert.deepEqual(slice.ports!.map((p) => p.name), service.spec!.ports!.map((p) => p.name));
      const containerPorts = helper.spec!.containers[0]!.ports!;
      assert.deepEqual(containerPorts.filter((p) => !p.name).map((p) => `${p.containerPort}/${p.protocol}`), want);
      // the health and metrics port, named for PodMonitors and NetworkPolicies, on a port no relay port takes
      const metrics = containerPorts.filter((p) => p.name === 'metrics');
      assert.equal(metrics.length, 1);
      assert.ok(!want.includes(`${metrics[0]!.containerPort}/TCP`), `metrics port ${metrics[0]!.containerPort} is free`);
    }),
    { numRuns: 500 },
  );
  // The property must not hold vacuously: about a quarter of the generated specs are valid (the
  // rest steal a default name on purpose). Fewer than 50 of 500 would be a generator gone wrong;
  // by chance it is vanishingly unlikely (a 60-of-300 run happened; the old bar was 61).
  assert.ok(accepted >= 50, `enough generated specs are valid to test the builders (${accepted} of 500)`);
});

it("the helper's PF_PORTS round-trips: it lists exactly the spec's ports, and the helper's parser reads them back", () => {
  fc.assert(
    fc.property(specs, fc.uuid(), (raw, podUid) => {
      const parsed = parseSpec(raw);
      if (!parsed.ok) return;
      const helper = helperPodFor({ namespace: 'ns', name: 'pf', uid: 'u' }, parsed.spec, { namespace: 'ns', pod: 'p', uid: podUid, node: 'n', ips: ['10.0.0.3'], tolerations: [], ports: parsed.spec.ports.map((p) => Number(p.targetPort ?? p.port)), chosenBy: 'test' }, settings);
      const env = Object.fromEntries(helper.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
      assert.equal(env.PF_TARGET_POD_UID, podUid);
      const want = parsed.spec.ports.map((p) => ({ proto: p.protocol.toLowerCase(), listen: p.port, target: p.targetPort ?? p.port }));
      const back = env.PF_PORTS!.split(' ').map((entry: string) => {
        const m = /^(\d+):(\d+)\/(tcp|udp)$/.exec(entry);
        assert.ok(m, `PF_PORTS entry ${entry}`);
        return { proto: m[3]!, listen: Number(m[1]), target: Number(m[2]) };
      });
      assert.deepEqual(back, want);

      const r = spawnSync('sh', [HELPER, 'parse-ports'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PF_PORTS: env.PF_PORTS } });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stdout.trim().split('\n').map((l) => {
        const [proto, listen, target] = l.split(' ');
        return { proto: proto!, listen: Number(listen), target: Number(target) };
      });
      assert.deepEqual(lines, want);
    }),
    { numRuns: 60 },
  );
});
