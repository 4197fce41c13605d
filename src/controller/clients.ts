// Whether a PortForward's spec.clients stay within what its target's namespace agreed to. A target
// in another namespace opts in with portforward.io/allow-from (namespaces, or '*'); creating a
// PortForward there must not open that pod's loopback to anyone beyond them. So, unless the
// target namespace allows '*', every client's namespaceSelector must name its namespaces (by the
// label Kubernetes sets to each namespace's name) among the allowed ones: a selector on any other
// label could match a namespace created tomorrow.
import type { V1Namespace } from '@kubernetes/client-node';
import { NAMESPACE_NAME_LABEL, type ClientPeer, type LabelSelector } from '../api/index.js';
import { allowedFrom } from './target.js';

/** The namespace names a selector can match, when it pins them by name; undefined when it does not. */
export function namedNamespaces(selector: LabelSelector | { matchLabels?: Record<string, string> }): string[] | undefined {
  const candidates: string[][] = [];
  const byLabel = selector.matchLabels?.[NAMESPACE_NAME_LABEL];
  if (byLabel !== undefined) candidates.push([byLabel]);
  for (const e of (selector as LabelSelector).matchExpressions ?? []) {
    if (e.key === NAMESPACE_NAME_LABEL && e.operator === 'In') candidates.push(e.values ?? []);
  }
  if (candidates.length === 0) return undefined;
  // requirements are ANDed: the names every one of them allows
  return candidates.reduce((acc, names) => acc.filter((n) => names.includes(n)));
}

/**
 * Why spec.clients go beyond the target namespace's opt-in, or undefined when they do not. A
 * podSelector alone picks pods in the PortForward's own namespace, which the opt-in already allows.
 */
export function clientsRefusal(
  clients: readonly ClientPeer[] | undefined,
  pfNamespace: string,
  targetNamespace: string,
  targetNs: V1Namespace | undefined,
): string | undefined {
  if (targetNamespace === pfNamespace || !clients?.length) return undefined;
  const allowed = allowedFrom(targetNs);
  if (allowed.includes('*')) return undefined;
  for (const [i, client] of clients.entries()) {
    if (!client.namespaceSelector) continue;
    const names = namedNamespaces(client.namespaceSelector);
    const outside = names?.filter((n) => !allowed.includes(n));
    if (names && outside!.length === 0) continue;
    const what = names ? `names namespace(s) ${outside!.join(', ')}` : `does not name its namespaces by the label ${NAMESPACE_NAME_LABEL}`;
    return (
      `spec.clients[${i}].namespaceSelector ${what}, but namespace "${targetNamespace}" (the target's) lets only ` +
      `${allowed.join(', ')} reach its pods (annotation portforward.io/allow-from). Name allowed namespaces with ` +
      `matchLabels {${NAMESPACE_NAME_LABEL}: NAME}, or ask the owners of "${targetNamespace}" to allow more.`
    );
  }
  return undefined;
}
