// The finalizer that holds a deleted PortForward until its helper is gone: the helper lives in
// another namespace, beyond ownerReferences and garbage collection.
import type { PortForward } from '../api/index.js';
import type { KubeApi } from '../kube/api.js';
import { FINALIZER } from '../resources/names.js';

export function hasFinalizer(pf: PortForward): boolean {
  return (pf.metadata.finalizers ?? []).includes(FINALIZER);
}

/** Adds the finalizer; returns the updated object (with its new resourceVersion). */
export async function addFinalizer(api: KubeApi, pf: PortForward): Promise<PortForward> {
  if (hasFinalizer(pf)) return pf;
  return api.replacePortForward({ ...pf, metadata: { ...pf.metadata, finalizers: [...(pf.metadata.finalizers ?? []), FINALIZER] } });
}

export async function removeFinalizer(api: KubeApi, pf: PortForward): Promise<void> {
  if (!hasFinalizer(pf)) return;
  await api.replacePortForward({
    ...pf,
    metadata: { ...pf.metadata, finalizers: (pf.metadata.finalizers ?? []).filter((f) => f !== FINALIZER) },
  });
}
