// The PortForward resource as the operator handles it.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { specSchema, type PortForwardSpec } from './schema.js';
import type { PortForwardStatus } from './status.js';

export * from './schema.js';
export * from './status.js';
export * from './duration.js';
export * from './refs.js';

/** A PortForward as read from the API server: the spec is not trusted until parsed. */
export interface PortForward {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: unknown;
  status?: PortForwardStatus;
}

export type SpecResult = { ok: true; spec: PortForwardSpec } | { ok: false; message: string };

/** Validates a spec as the operator sees it; problems come back as one sentence a person can act on. */
export function parseSpec(spec: unknown): SpecResult {
  const result = specSchema.safeParse(spec);
  if (result.success) return { ok: true, spec: result.data };
  const problems = result.error.issues.map((i) => (i.path.length ? `spec.${i.path.join('.')}: ${i.message}` : `spec: ${i.message}`));
  return { ok: false, message: problems.join('; ') };
}
