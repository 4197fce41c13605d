// Versions before 0.2 held every PortForward with a finalizer until its helper was gone. That made
// uninstalling hang (nobody left to remove it once the operator was deleted), so PortForwards no
// longer carry one; the operator takes it off those that still do.
import type { PortForward } from '../api/index.js';
import type { KubeApi } from '../kube/api.js';

export const LEGACY_FINALIZER = 'portforward.io/cleanup';

export function hasLegacyFinalizer(pf: PortForward): boolean {
  return (pf.metadata.finalizers ?? []).includes(LEGACY_FINALIZER);
}

/** Removes the old finalizer; returns the object as it now is (with its new resourceVersion). */
export async function removeLegacyFinalizer(api: KubeApi, pf: PortForward): Promise<PortForward> {
  if (!hasLegacyFinalizer(pf)) return pf;
  return api.replacePortForward({
    ...pf,
    metadata: { ...pf.metadata, finalizers: (pf.metadata.finalizers ?? []).filter((f) => f !== LEGACY_FINALIZER) },
  });
}
