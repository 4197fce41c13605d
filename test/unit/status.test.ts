// The status a person reads: conditions that say since when, short port lists, ways to connect.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accessFor, portsSummary } from '../../src/controller/access.js';
import { composeStatus, sameStatus, setCondition } from '../../src/controller/status.js';
import { validSpec } from './support/fixtures.js';

const T1 = '2030-01-01T00:00:00Z';
const T2 = '2030-01-01T00:05:00Z';

describe('the Ready condition', () => {
  it('keeps its lastTransitionTime while its status holds, even when the reason changes', () => {
    const first = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'HelperStarting', message: 'starting' }, T1);
    const second = setCondition(first, { type: 'Ready', status: 'False', reason: 'HelperNotReady', message: 'stuck' }, T2);
    assert.equal(second[0]!.lastTransitionTime, T1);
    assert.equal(second[0]!.reason, 'HelperNotReady');
  });

  it('moves lastTransitionTime when its status flips', () => {
    const first = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'HelperStarting', message: '' }, T1);
    const second = setCondition(first, { type: 'Ready', status: 'True', reason: 'Ready', message: '' }, T2);
    assert.equal(second[0]!.lastTransitionTime, T2);
  });

  it('leaves other conditions alone', () => {
    const other = { type: 'Other', status: 'True' as const, reason: 'X', message: '', lastTransitionTime: T1 };
    const list = setCondition([other], { type: 'Ready', status: 'True', reason: 'Ready', message: '' }, T2);
    assert.deepEqual(list[0], other);
    assert.equal(list.length, 2);
  });
});

describe('the status summary', () => {
  const spec = validSpec({ target: { pod: 'x' }, ports: [{ port: 10080, targetPort: 80 }, { port: 53, protocol: 'UDP' }] });

  it('lists ports as 10080->80/TCP,53/UDP', () => {
    assert.equal(portsSummary(spec), '10080->80/TCP,53/UDP');
  });

  it('gives in-cluster addresses for every port, tunnel API paths for each, HTTP proxy paths for TCP, and the connect command', () => {
    const access = accessFor(spec, { serviceName: 'pf-web', namespace: 'team-a', name: 'web' });
    assert.deepEqual(access.inCluster, ['pf-web.team-a.svc:10080', 'pf-web.team-a.svc:53']);
    // in the PortForward's own namespace: RBAC there decides, nothing in the helpers' namespace
    assert.deepEqual(access.apiServerProxy, ['/apis/connect.portforward.io/v1alpha1/namespaces/team-a/portforwards/web/proxy/10080/']);
    assert.deepEqual(access.tunnel, [
      '/apis/connect.portforward.io/v1alpha1/namespaces/team-a/portforwards/web/portforward?port=10080&protocol=tcp',
      '/apis/connect.portforward.io/v1alpha1/namespaces/team-a/portforwards/web/portforward?port=53&protocol=udp',
    ]);
    assert.equal(access.connectCommand, 'kubectl pf connect -n team-a web 10080 53/udp');
  });

  it('is unchanged when only key order differs, as it does after a round trip through the API server', () => {
    const readiness = { reason: 'Ready' as const, message: 'up' };
    const status = composeStatus(undefined, { generation: 2, readiness, ports: '80/TCP' }, T1);
    const reverseKeys = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reverseKeys)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]))
      : v;
    const reordered = reverseKeys(status) as typeof status;
    assert.notEqual(JSON.stringify(reordered), JSON.stringify(status));
    assert.ok(sameStatus(status, reordered));
    assert.ok(sameStatus(status, composeStatus(status, { generation: 2, readiness, ports: '80/TCP' }, T2)));
    assert.ok(!sameStatus(status, composeStatus(status, { generation: 3, readiness, ports: '80/TCP' }, T2)));
  });
});

describe('status.connections', () => {
  const readiness = { reason: 'Ready' as const, message: 'up' };
  const helper = { namespace: 'portforward-helpers', pod: 'pf-team-a-web-1', podIP: '10.1.0.9' };
  const connections = { active: 1, total: 5, failed: 0, observedAt: T1 };
  const previous = { ...composeStatus(undefined, { generation: 1, readiness, helper }, T1), connections };

  it("is kept by a pass while the helper is the same: it is the poll's to write, not the pass's", () => {
    assert.deepEqual(composeStatus(previous, { generation: 1, readiness, helper }, T2).connections, connections);
  });

  it('goes with its helper: a new helper starts counting at zero, and no helper counts nothing', () => {
    assert.equal(composeStatus(previous, { generation: 1, readiness, helper: { ...helper, pod: 'pf-team-a-web-2' } }, T2).connections, undefined);
    assert.equal(composeStatus(previous, { generation: 1, readiness: { reason: 'TargetNotFound', message: 'gone' } }, T2).connections, undefined);
  });
});
