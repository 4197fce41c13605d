// The API server's side of shell completion: PortForward names in a namespace, and namespaces.
// Each lookup gives up after a short time, so a slow or unreachable cluster never hangs the shell.
import { CoreV1Api } from '@kubernetes/client-node';
import type { Lookups } from './complete.js';
import { loadKube } from './kube.js';
import { listPortForwards } from './list.js';

const TIMEOUT_MS = 3000;

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS / 1000}s`)), TIMEOUT_MS);
    timer.unref();
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

const names = (items: { metadata?: { name?: string } }[]): string[] => items.flatMap((i) => (i.metadata?.name ? [i.metadata.name] : []));

export const apiLookups: Lookups = {
  async portForwards(flags) {
    const { kc, namespace } = loadKube(flags);
    return names(await withTimeout(listPortForwards(kc, namespace)));
  },
  async namespaces(flags) {
    const { kc } = loadKube(flags);
    return names((await withTimeout(kc.makeApiClient(CoreV1Api).listNamespace())).items);
  },
};
