// The work queue's keys: NAMESPACE/NAME of a PortForward, the only thing an event hands the reconciler.
import type { PortForward } from '../api/index.js';

export const keyOf = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? ''}/${name ?? ''}`;

export function keyOfPortForward(pf: PortForward): string {
  return keyOf(pf.metadata.namespace, pf.metadata.name);
}

export function splitKey(key: string): [namespace: string, name: string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}
