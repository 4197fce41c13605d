// For any valid spec the builders produce valid objects: they never throw, names are DNS labels,
// and the Service exposes exactly the spec's ports.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { parseSpec } from '../../src/api/index.js';
import { helperPodFor } from '../../src/resources/helper-pod.js';
import { serviceFor, endpointsFor } from '../../src/resources/service.js';
import { config } from './support/fixtures.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);

const specs = fc
  .record({
    ports: fc.uniqueArray(
      fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('TCP', 'UDP'), targetPort: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }) }),
      { minLength: 1, maxLength: 64, selector: (p) => `${p.port}/${p.protocol}` },
    ),
    pod: label,
    ttl: fc.option(fc.constantFrom('30s', '15m', '2h', '1h30m', '7d'), { nil: undefined }),
  })
  .map(({ ports, pod, ttl }) => ({ target: { pod }, ports, ...(ttl ? { ttl } : {}) }));

it('builders accept every valid spec and produce valid names and matching Service ports', () => {
  fc.assert(
    fc.property(specs, label, label, fc.uuid(), fc.uuid(), (raw, namespace, name, uid, podUid) => {
      const parsed = parseSpec(raw);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
      const owner = { namespace, name, uid };
      const target = { namespace, pod: raw.target.pod, uid: podUid, node: 'node-1' };
      const helper = helperPodFor(owner, parsed.spec, target, {
        namespace: config.namespace,
        image: config.helperImage,
        imagePullPolicy: config.helperImagePullPolicy,
        dataPath: config.helperDataPath,
      });
      const service = serviceFor(owner, parsed.spec);
      const endpoints = endpointsFor(owner, parsed.spec, { podName: helper.metadata!.name!, podNamespace: config.namespace, podIP: '10.0.0.1', nodeName: 'node-1', ready: true });

      for (const n of [helper.metadata!.name!, service.metadata!.name!]) {
        assert.ok(n.length <= 63 && DNS_LABEL.test(n), n);
      }
      const want = parsed.spec.ports.map((p) => `${p.port}/${p.protocol}`);
      assert.deepEqual(service.spec!.ports!.map((p) => `${p.port}/${p.protocol}`), want);
      assert.deepEqual(endpoints.subsets![0]!.ports!.map((p) => `${p.port}/${p.protocol}`), want);
      const portNames = service.spec!.ports!.map((p) => p.name!);
      assert.equal(new Set(portNames).size, portNames.length, 'Service port names are unique');
      assert.ok(portNames.every((p) => p.length <= 63 && DNS_LABEL.test(p)));
    }),
    { numRuns: 200 },
  );
});
