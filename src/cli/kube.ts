// The plugin's side of the API server: kubeconfig as kubectl loads it, and API errors as one line.
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type PortForward } from '../api/index.js';
import { describeError, isApiError } from '../kube/errors.js';
import { UsageError } from './args.js';

export interface KubeTarget {
  kc: KubeConfig;
  /** -n, else the namespace of the kubeconfig context, else "default". */
  namespace: string;
}

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** Loads the kubeconfig like kubectl: --kubeconfig, else $KUBECONFIG, else ~/.kube/config, else in-cluster. */
export function loadKube(flags: KubeFlags): KubeTarget {
  const kc = new KubeConfig();
  if (flags.kubeconfig !== undefined) {
    try {
      kc.loadFromFile(flags.kubeconfig);
    } catch (err) {
      throw new UsageError(`cannot load --kubeconfig ${flags.kubeconfig}: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    kc.loadFromDefault();
    // With nothing to load, client-node falls back to an unauthenticated http://localhost:8080.
    if (kc.getCurrentContext() === 'loaded-context' && kc.getCurrentCluster()?.server === 'http://localhost:8080') {
      throw new Error('no kubeconfig found: use --kubeconfig, set $KUBECONFIG, or create ~/.kube/config');
    }
  }
  if (flags.context !== undefined) {
    if (!kc.getContextObject(flags.context)) throw new UsageError(`context "${flags.context}" does not exist in the kubeconfig`);
    kc.setCurrentContext(flags.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new UsageError('no cluster in the kubeconfig: set --kubeconfig, $KUBECONFIG or --context');
  }
  const contextNamespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return { kc, namespace: flags.namespace ?? (contextNamespace || 'default') };
}

/** One line for a failed API call: the API server's own message when there is one, else the error and its cause. */
export function apiErrorMessage(err: unknown): string {
  const { message, cause } = describeError(err);
  const line = cause && !message.includes(cause.message) ? `${message}: ${cause.message}` : message;
  return line.replace(/\s+/g, ' ').trim();
}

/** True when a 404 is about the object itself, not about the resource type missing from the server. */
function isObjectNotFound(err: unknown, name: string): boolean {
  if (!isApiError(err, 404)) return false;
  const body: unknown = (err as { body?: unknown }).body;
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { details?: { name?: string } } | undefined;
    return status?.details?.name === name;
  } catch {
    return false;
  }
}

/** What a 404 for the resource type itself means. */
export const NO_PORTFORWARD_TYPE = `the server does not know PortForwards (${PLURAL}.${GROUP}): is the PortForward operator installed?`;

export type GetResult = { found: true; pf: PortForward } | { found: false; message: string; missingType: boolean };

/** Reads a PortForward; a missing object or a missing CRD comes back as a message, other errors throw. */
export async function getPortForward(kc: KubeConfig, namespace: string, name: string): Promise<GetResult> {
  const api = kc.makeApiClient(CustomObjectsApi);
  try {
    const pf = (await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, name })) as PortForward;
    return { found: true, pf };
  } catch (err) {
    if (isObjectNotFound(err, name)) {
      return { found: false, missingType: false, message: `PortForward "${name}" not found in namespace "${namespace}"` };
    }
    if (isApiError(err, 404)) {
      return {
        found: false,
        missingType: true,
        message: NO_PORTFORWARD_TYPE,
      };
    }
    throw err;
  }
}
