// What a user may write in a PortForward's spec, and what they are told when it is wrong.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSpec } from '../../src/api/index.js';

const target = { pod: 'nginx' };

function problems(spec: unknown): string {
  const result = parseSpec(spec);
  assert.equal(result.ok, false, `expected ${JSON.stringify(spec)} to be refused`);
  return result.ok ? '' : result.message;
}

describe('a valid spec', () => {
  it('needs only a target and a port; protocol defaults to TCP', () => {
    const result = parseSpec({ target, ports: [{ port: 8080 }] });
    assert.ok(result.ok);
    assert.deepEqual(result.spec.ports, [{ port: 8080, protocol: 'TCP' }]);
  });

  it('may relay TCP and UDP on the same port number', () => {
    assert.ok(parseSpec({ target, ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] }).ok);
  });

  it('may select a pod by labels, in another namespace, with a ttl', () => {
    const result = parseSpec({
      target: { namespace: 'other', selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] } },
      ports: [{ port: 1, targetPort: 65535, name: 'edge' }],
      ttl: '1h30m',
    });
    assert.ok(result.ok, result.ok ? '' : result.message);
  });
});

describe('an invalid spec is refused with the field at fault', () => {
  it('port 0 and 65536 are out of range', () => {
    assert.match(problems({ target, ports: [{ port: 0 }] }), /spec\.ports\.0\.port/);
    assert.match(problems({ target, ports: [{ port: 65536 }] }), /spec\.ports\.0\.port/);
    assert.match(problems({ target, ports: [{ port: 80, targetPort: 0 }] }), /targetPort/);
  });

  it('a port written as a string is not a port', () => {
    assert.match(problems({ target, ports: [{ port: '80' }] }), /spec\.ports\.0\.port/);
  });

  it('no ports at all', () => {
    assert.match(problems({ target, ports: [] }), /spec\.ports/);
  });

  it('the same port twice for one protocol', () => {
    assert.match(problems({ target, ports: [{ port: 80 }, { port: 80, protocol: 'TCP' }] }), /only once per protocol/);
  });

  it('two ports with one name', () => {
    assert.match(problems({ target, ports: [{ port: 80, name: 'web' }, { port: 81, name: 'web' }] }), /names must be unique/);
  });

  it('both a pod and a selector, or neither', () => {
    assert.match(problems({ target: { pod: 'a', selector: { matchLabels: { app: 'a' } } }, ports: [{ port: 1 }] }), /exactly one/);
    assert.match(problems({ target: {}, ports: [{ port: 1 }] }), /exactly one/);
  });

  it('an empty selector, which would match every pod', () => {
    assert.match(problems({ target: { selector: {} }, ports: [{ port: 1 }] }), /every pod/);
    assert.match(problems({ target: { selector: { matchLabels: {} } }, ports: [{ port: 1 }] }), /every pod/);
  });

  it('a lower-case protocol', () => {
    assert.match(problems({ target, ports: [{ port: 53, protocol: 'udp' }] }), /spec\.ports\.0\.protocol/);
  });

  it('a ttl that is not a duration, with what a duration looks like', () => {
    for (const ttl of ['2 hours', '1.5h', '-1h', '10', 'h', '1w', '1y', '1000000d']) {
      assert.match(problems({ target, ports: [{ port: 1 }], ttl }), /spec\.ttl: ttl must be a duration like 90s, 30m, 2h/, ttl);
    }
  });

  it("a port name that is another port's default name, which would clash in the Service", () => {
    // port 81 has no name, so its Service port is called tcp-81: port 80 may not take that name
    assert.match(problems({ target, ports: [{ port: 80, name: 'tcp-81' }, { port: 81 }] }), /default name/);
    assert.match(problems({ target, ports: [{ port: 80, name: 'udp-53' }, { port: 53, protocol: 'UDP' }] }), /default name/);
    // its own default name is fine, as are names that merely look alike
    assert.ok(parseSpec({ target, ports: [{ port: 80, name: 'tcp-80' }, { port: 81 }] }).ok);
    assert.ok(parseSpec({ target, ports: [{ port: 53, protocol: 'UDP', name: 'udp-53' }, { port: 53 }] }).ok);
    assert.ok(parseSpec({ target, ports: [{ port: 80, name: 'tcp-web' }, { port: 81 }] }).ok);
  });

  it('an idleTimeout that is not a duration', () => {
    assert.match(problems({ target, ports: [{ port: 1 }], idleTimeout: '10' }), /spec\.idleTimeout: idleTimeout must be a duration/);
    assert.ok(parseSpec({ target, ports: [{ port: 1 }], idleTimeout: '0s' }).ok, '0s: never');
  });

  it('a selector with more labels than any pod needs, which would only weigh on the operator', () => {
    const labels = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`l${i}`, 'v']));
    assert.match(problems({ target: { selector: { matchLabels: labels(33) } }, ports: [{ port: 1 }] }), /spec\.target\.selector\.matchLabels: at most 32 labels/);
    assert.ok(parseSpec({ target: { selector: { matchLabels: labels(32) } }, ports: [{ port: 1 }] }).ok);
  });

  it('a pod name that is not a DNS name', () => {
    assert.match(problems({ target: { pod: 'Not_A_Pod' }, ports: [{ port: 1 }] }), /spec\.target\.pod/);
  });

  it('no spec at all', () => {
    assert.match(problems(undefined), /spec/);
  });
});
