// `kubectl pf create NAME (--pod P | --selector k=v,...) --port [PORT:]TARGETPORT[/udp] ...`:
// builds a PortForward (pure: buildPortForward), validates it with the operator's own schema, and
// applies it with server-side apply (field manager kubectl-pf), so running it again updates the spec.
import { CustomObjectsApi, PatchStrategy, dumpYaml, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, DNS_SUBDOMAIN, GROUP, KIND, PLURAL, TTL_PATTERN, VERSION, parseSpec, type LabelSelector, type PortForward, type WorkloadKind } from '../api/index.js';
import { UsageError } from './args.js';
import type { Output } from './connect.js';
import { apiErrorMessage, getPortForward } from './kube.js';
import { parseTarget, type ForwardTarget } from './forward-target.js';
import { parseTunnelPort, type TunnelPort } from './ports.js';
import { canonical } from '../util/canonical.js';

export const FIELD_MANAGER = 'kubectl-pf';
/** How kubectl names the object in its messages: kind.group/name, e.g. deployment.apps/web. */
export const RESOURCE = `${KIND.toLowerCase()}.${GROUP}`;

export interface CreateInput {
  name: string | undefined;
  namespace: string;
  pod?: string;
  selector?: string;
  /** pod/NAME, svc/NAME, deploy/NAME, sts/NAME, ds/NAME or rs/NAME, as kubectl names them. */
  target?: string;
  ports: string[];
  ttl?: string;
  targetNamespace?: string;
}

export interface ManifestSpec {
  target: { pod?: string; selector?: LabelSelector; service?: string; workload?: { kind: WorkloadKind; name: string }; namespace?: string };
  ports: TunnelPort[];
  ttl?: string;
}

export interface PortForwardManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  spec: ManifestSpec;
}

/** The spec as it is, once the operator's own schema accepts it; else a UsageError in the schema's words. */
export function checkedSpec(spec: ManifestSpec): ManifestSpec {
  const checked = parseSpec(spec);
  if (!checked.ok) throw new UsageError(checked.message);
  return spec;
}

/** --ttl as the API takes it; the message speaks of the flag. */
export function checkTtl(ttl: string | undefined): void {
  if (ttl !== undefined && !new RegExp(TTL_PATTERN).test(ttl)) {
    throw new UsageError(`invalid --ttl "${ttl}": use a duration like 90s, 30m, 2h, 1h30m or 7d`);
  }
}

/** `app=web,tier=front` -> matchLabels. Only equality: for expressions, write a manifest. */
export function parseSelector(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pairs = text.split(',').map((p) => p.trim());
  for (const pair of pairs) {
    const m = /^([^=!\s]+)\s*==?\s*([^=!\s]*)$/.exec(pair);
    if (!m) {
      throw new UsageError(
        `invalid --selector "${text}": "${pair}" is not key=value; write key=value pairs separated by commas, e.g. app=web,tier=frontend`,
      );
    }
    const [, key, value] = m as unknown as [string, string, string];
    if (key in labels && labels[key] !== value) throw new UsageError(`invalid --selector "${text}": "${key}" is given twice`);
    labels[key] = value;
  }
  return labels;
}

/** The PortForward the flags describe; throws a UsageError saying what is wrong, in terms of the flags. */
export function buildPortForward(input: CreateInput): PortForwardManifest {
  const { name } = input;
  if (!name) throw new UsageError('NAME is required: kubectl pf create NAME (--pod POD | --selector k=v | --target svc/NAME) --port PORT');
  if (name.length > 253 || !new RegExp(DNS_SUBDOMAIN).test(name)) {
    throw new UsageError(`invalid name "${name}": use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`);
  }
  if ([input.pod, input.selector, input.target].filter((t) => t !== undefined).length !== 1) {
    throw new UsageError('set exactly one of --pod (a pod name), --selector (labels of the pods to reach) or --target (svc/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME or pod/NAME)');
  }
  if (input.ports.length === 0) throw new UsageError('at least one --port is required, e.g. --port 8080 or --port 10080:80');
  checkTtl(input.ttl);
  const target: ManifestSpec['target'] = {};
  if (input.pod !== undefined) target.pod = input.pod;
  if (input.selector !== undefined) target.selector = { matchLabels: parseSelector(input.selector) };
  if (input.target !== undefined) Object.assign(target, manifestTarget(parseTarget(input.target)));
  if (input.targetNamespace !== undefined) target.namespace = input.targetNamespace;
  const spec: ManifestSpec = { target, ports: input.ports.map(parseTunnelPort) };
  if (input.ttl !== undefined) spec.ttl = input.ttl;
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace: input.namespace }, spec: checkedSpec(spec) };
}

/** A TARGET as kubectl names it, as the PortForward's target. */
export function manifestTarget(t: ForwardTarget): ManifestSpec['target'] {
  switch (t.kind) {
    case 'pod':
      return { pod: t.name };
    case 'service':
      return { service: t.name };
    case 'workload':
      return { workload: { kind: t.workload, name: t.name } };
    case 'selector':
      return { selector: t.selector };
  }
}

export type DryRun = 'none' | 'client' | 'server';
export type OutputFormat = 'yaml' | 'json' | 'name';

export function parseDryRun(value: string | undefined): DryRun {
  if (value === undefined || value === 'none') return 'none';
  if (value === 'client' || value === 'server') return value;
  throw new UsageError(`invalid --dry-run "${value}": use client, server or none`);
}

export function parseOutput(value: string | undefined): OutputFormat | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'yaml' || value === 'json' || value === 'name') return value;
  throw new UsageError(`invalid --output "${value}": use yaml, json or name`);
}

export function render(obj: unknown, format: OutputFormat, name: string): string {
  if (format === 'name') return `${RESOURCE}/${name}`;
  if (format === 'json') return JSON.stringify(obj, null, 4);
  return dumpYaml(obj).trimEnd();
}

/** A stable form of a spec for comparison: the operator's parsed view, keys sorted. */
function normalized(spec: unknown): string {
  const parsed = parseSpec(spec);
  return canonical(parsed.ok ? parsed.spec : spec);
}

export interface CreateOptions {
  /** Not needed for a client dry run. */
  kc: KubeConfig | undefined;
  manifest: PortForwardManifest;
  dryRun: DryRun;
  output?: OutputFormat;
  io: Output;
}

export async function runCreate(o: CreateOptions): Promise<number> {
  const { manifest, io } = o;
  const { name, namespace } = manifest.metadata;
  if (o.dryRun === 'client') {
    io.out(o.output ? render(manifest, o.output, name) : `${RESOURCE}/${name} created (dry run)`);
    return 0;
  }
  const kc = o.kc;
  if (!kc) throw new Error('no kubeconfig loaded');
  const existing = await getPortForward(kc, namespace, name);
  if (!existing.found && existing.missingType) {
    io.err(`error: ${existing.message}`);
    return 1;
  }
  const api = kc.makeApiClient(CustomObjectsApi);
  const dryRun = o.dryRun === 'server' ? 'All' : undefined;
  const where = { group: GROUP, version: VERSION, namespace, plural: PLURAL, name };
  let result: PortForward;
  try {
    result = (await api.patchNamespacedCustomObject(
      { ...where, body: manifest, fieldManager: FIELD_MANAGER, force: true, dryRun },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    )) as PortForward;
    // Fields another manager set (say, a selector from `kubectl apply`) survive an apply; the
    // user asked for exactly this spec, so replace it when the merge left something else.
    if (normalized(result.spec) !== normalized(manifest.spec)) {
      result = (await api.replaceNamespacedCustomObject({
        ...where,
        body: { ...result, spec: manifest.spec },
        fieldManager: FIELD_MANAGER,
        dryRun,
      })) as PortForward;
    }
  } catch (err) {
    io.err(`error: cannot apply PortForward ${namespace}/${name}: ${apiErrorMessage(err)}`);
    return 1;
  }
  const verb = !existing.found ? 'created' : normalized(existing.pf.spec) === normalized(manifest.spec) ? 'unchanged' : 'configured';
  const suffix = o.dryRun === 'server' ? ' (server dry run)' : '';
  io.out(o.output ? render(result, o.output, name) : `${RESOURCE}/${name} ${verb}${suffix}`);
  return 0;
}
