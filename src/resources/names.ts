// Deterministic names and labels of the objects the operator creates for a PortForward.
import { createHash } from 'node:crypto';

export const LABELS = {
  /** Set on every object the operator creates; the operator touches nothing without it. */
  managedBy: 'app.kubernetes.io/managed-by',
  component: 'app.kubernetes.io/component',
  /** UID of the owning PortForward: how children are found again after a restart. */
  ownerUid: 'portforward.io/owner-uid',
} as const;
export const MANAGED_BY = 'portforward-operator';
/** The label selector for everything the operator made. */
export const MANAGED_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY}`;

export const ANNOTATIONS = {
  owner: 'portforward.io/owner', // NAMESPACE/NAME of the PortForward (names can be too long for a label)
  target: 'portforward.io/target', // NAMESPACE/POD the helper enters
  specHash: 'portforward.io/spec-hash', // a hash of the desired helper pod: drift shows without deep compares
  allowFrom: 'portforward.io/allow-from', // on a namespace: which namespaces may target its pods
} as const;


export function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 8);
}

/** A DNS label (63 chars) that starts with a letter: readable prefix, hash suffix when too long. */
function boundedName(readable: string, hashInput: string[], alwaysHash: boolean): string {
  const clean = readable.replace(/[^a-z0-9-]/g, '-');
  if (!alwaysHash && clean.length <= 63) return clean;
  const suffix = shortHash(...hashInput);
  return `${clean.slice(0, 63 - suffix.length - 1).replace(/-+$/, '')}-${suffix}`;
}

/** The Service in the PortForward's namespace: pf-NAME (hashed only when too long). */
export function serviceName(pfName: string): string {
  return boundedName(`pf-${pfName}`, [pfName], false);
}

/**
 * The helper pod, in the helpers' namespace. It holds the target pod's UID in its hash, so a
 * re-targeted tunnel gets a fresh helper at once instead of waiting for the old name to be free.
 */
export function helperPodName(pfNamespace: string, pfName: string, targetUid: string): string {
  return boundedName(`pf-${pfNamespace}-${pfName}`, [pfNamespace, pfName, targetUid], true);
}
