// Generates manifests/crd.yaml, and the Helm chart's copy in its crds/, from the zod schemas in
// src/api, so the API server validates with the same rules as the operator (npm run crd). A unit
// test keeps the committed files in step.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { z } from 'zod';
import { GROUP, KIND, PLURAL, VERSION, specSchema, statusSchema } from '../src/api/index.js';

export const CRD_PATH = fileURLToPath(new URL('../manifests/crd.yaml', import.meta.url));
export const CHART_CRD_PATH = fileURLToPath(new URL('../charts/portforward-operator/crds/portforwards.yaml', import.meta.url));

type JsonSchema = { [key: string]: unknown };

/** Keywords a structural CRD schema cannot hold, or that would change meaning there. */
const UNSUPPORTED = ['$ref', '$defs', 'definitions', 'oneOf', 'anyOf', 'allOf', 'not', 'const', 'patternProperties'];

/**
 * JSON Schema from zod -> OpenAPI v3 as structural CRD schemas allow it: drops $schema,
 * propertyNames (keys of a map cannot be constrained there), additionalProperties: false
 * (unknown fields are pruned anyway) and the ±2^53 bounds zod puts on every integer; keeps
 * descriptions, defaults, enums, bounds, patterns and x-kubernetes-validations.
 */
export function toStructural(node: unknown, path = '$'): unknown {
  if (Array.isArray(node)) return node.map((item, i) => toStructural(item, `${path}[${i}]`));
  if (typeof node !== 'object' || node === null) return node;
  const out: JsonSchema = {};
  const intOrString = (node as JsonSchema)['x-kubernetes-int-or-string'] === true;
  for (const [key, value] of Object.entries(node as JsonSchema)) {
    // IntOrString: the one anyOf a structural schema allows, of a bare integer and a bare string
    // branch; the branches' bounds move up (minimum applies to numbers only, pattern to strings).
    if (intOrString && key === 'anyOf') {
      const branches = value as JsonSchema[];
      out[key] = branches.map((branch) => ({ type: branch.type }));
      for (const branch of branches) {
        for (const [k, v] of Object.entries(branch)) if (k !== 'type') out[k] = v;
      }
      continue;
    }
    if (key === '$schema' || key === 'propertyNames') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if ((key === 'minimum' || key === 'maximum') && Math.abs(value as number) === Number.MAX_SAFE_INTEGER) continue;
    if (UNSUPPORTED.includes(key)) throw new Error(`${path}: "${key}" is not allowed in a structural CRD schema`);
    // x-kubernetes-validations and enum hold data, not schemas: copy them as they are
    out[key] = key === 'x-kubernetes-validations' || key === 'enum' || key === 'default' ? value : toStructural(value, `${path}.${key}`);
  }
  return out;
}

function openApi(schema: z.ZodType): JsonSchema {
  return toStructural(z.toJSONSchema(schema, { io: 'input' })) as JsonSchema;
}

export function crdManifest(): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${PLURAL}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'portforward-operator', 'app.kubernetes.io/part-of': 'portforward-operator' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind: KIND, listKind: `${KIND}List`, plural: PLURAL, singular: 'portforward', shortNames: ['pf'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Target', type: 'string', jsonPath: '.status.target.pod', description: 'The pod the tunnel enters.' },
            { name: 'Node', type: 'string', jsonPath: '.status.target.node', description: 'Node of the target pod.' },
            { name: 'Ports', type: 'string', jsonPath: '.status.ports', description: 'Relayed ports.' },
            { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Pending, Ready, Failed or Expired.' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
            { name: 'Helper', type: 'string', jsonPath: '.status.helper.pod', priority: 1, description: 'The helper pod.' },
            { name: 'Service', type: 'string', jsonPath: '.status.service.name', priority: 1, description: 'The Service in front of the helper.' },
            { name: 'Connections', type: 'integer', jsonPath: '.status.connections.active', priority: 1, description: 'Connections open through the tunnel now.' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                "A declarative, long-lived tunnel into a pod's network namespace: the operator runs a helper on the pod's node and a Service in front of it.",
              required: ['spec'],
              properties: {
                apiVersion: { type: 'string', description: 'portforward.io/v1alpha1' },
                kind: { type: 'string', description: 'PortForward' },
                metadata: { type: 'object' },
                spec: openApi(specSchema),
                status: openApi(statusSchema),
              },
            },
          },
        },
      ],
    },
  };
}

export function renderCrd(): string {
  const header = '# Generated by scripts/gen-crd.ts from src/api (npm run crd). Do not edit by hand.\n';
  return header + stringify(crdManifest(), { lineWidth: 0 });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const path of [CRD_PATH, CHART_CRD_PATH]) {
    writeFileSync(path, renderCrd());
    process.stdout.write(`wrote ${path}\n`);
  }
}
