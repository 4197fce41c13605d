// The CRD the API server validates with is generated from the same schema the operator uses.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CHART_CRD_PATH, CRD_PATH, renderCrd, toStructural } from '../../scripts/gen-crd.js';

describe('manifests/crd.yaml', () => {
  it('is what npm run crd generates from src/api (run it after changing the schema)', () => {
    assert.equal(readFileSync(CRD_PATH, 'utf8'), renderCrd());
  });

  it('is what the Helm chart installs, too', () => {
    assert.equal(readFileSync(CHART_CRD_PATH, 'utf8'), renderCrd());
  });

  const crd = parse(renderCrd());
  const version = crd.spec.versions[0];

  it('defines PortForward (pf), namespaced, with a status subresource', () => {
    assert.equal(crd.metadata.name, 'portforwards.portforward.io');
    assert.deepEqual(crd.spec.names.shortNames, ['pf']);
    assert.equal(crd.spec.names.categories, undefined);
    assert.equal(crd.spec.scope, 'Namespaced');
    assert.deepEqual(version.subresources, { status: {} });
    assert.equal(version.name, 'v1alpha1');
  });

  it('shows TARGET, NODE, PORTS, PHASE, AGE, and HELPER, SERVICE, CONNECTIONS in wide output', () => {
    const columns = version.additionalPrinterColumns.map((c: { name: string; priority?: number }) => [c.name.toUpperCase(), c.priority ?? 0]);
    assert.deepEqual(columns, [['TARGET', 0], ['NODE', 0], ['PORTS', 0], ['PHASE', 0], ['AGE', 0], ['HELPER', 1], ['SERVICE', 1], ['CONNECTIONS', 1]]);
    const connections = version.additionalPrinterColumns.find((c: { name: string }) => c.name === 'Connections');
    assert.equal(connections.jsonPath, '.status.connections.active');
  });

  it('documents status.connections for kubectl explain, with active and total required', () => {
    const connections = version.schema.openAPIV3Schema.properties.status.properties.connections;
    assert.deepEqual(connections.required, ['active', 'total']);
    for (const field of ['active', 'total', 'failed', 'lastError', 'observedAt']) assert.ok(connections.properties[field].description, field);
    assert.deepEqual(Object.keys(connections.properties.lastError.properties).sort(), ['message', 'time']);
  });

  it('keeps descriptions, defaults, bounds and CEL rules, and nothing a structural schema forbids', () => {
    const text = JSON.stringify(version.schema);
    for (const forbidden of ['$schema', 'propertyNames', '"additionalProperties":false', '9007199254740991']) {
      assert.ok(!text.includes(forbidden), forbidden);
    }
    const port = version.schema.openAPIV3Schema.properties.spec.properties.ports;
    assert.equal(port.items.properties.protocol.default, 'TCP');
    assert.equal(port.items.properties.port.maximum, 65535);
    assert.ok(port['x-kubernetes-validations'].length >= 1);
    assert.ok(version.schema.openAPIV3Schema.properties.spec.properties.target.description);
  });

  it('refuses schema constructs a CRD cannot express', () => {
    assert.throws(() => toStructural({ anyOf: [{ type: 'string' }] }), /anyOf/);
  });
});
