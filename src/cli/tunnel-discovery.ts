// Does the API server serve the tunnel API? Asked once when connect starts: without it, connect
// falls back to pods/portforward to the helper pods.
import type { KubeConfig } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from '../tunnel/protocol.js';
import { apiGet, refusalMessage } from './api-request.js';

export type TunnelApi = { served: true; problem?: string } | { served: false };

export async function discoverTunnelApi(kc: KubeConfig, timeoutMs?: number): Promise<TunnelApi> {
  const { status, body } = await apiGet(kc, `/apis/${API_GROUP}/${API_VERSION}`, timeoutMs);
  if (status >= 200 && status < 300) return { served: true };
  // 404: no APIService for the group. Anything else (503 while the gateway is down, say) means it
  // is registered: use it, and let each tunnel report what is wrong.
  if (status === 404) return { served: false };
  return { served: true, problem: refusalMessage(status, body) };
}

/** The line connect prints about its choice: the note for the fallback, a warning for an odd answer. */
export function tunnelApiLine(api: TunnelApi): string | undefined {
  if (!api.served) {
    return `note: the tunnel API (${API_GROUP}) is not installed; using pods/portforward to the helper pods (needs rights in their namespace)`;
  }
  if (api.problem) return `warning: the tunnel API (${API_GROUP}) did not answer discovery (${api.problem}); using it anyway`;
  return undefined;
}
