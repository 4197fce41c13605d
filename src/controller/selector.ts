// Label selector matching (metav1.LabelSelector semantics) and a readable form for messages.
import type { V1LabelSelector } from '@kubernetes/client-node';
import type { LabelSelector } from '../api/index.js';

export function matchesSelector(labels: Record<string, string> | undefined, selector: LabelSelector): boolean {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (have[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(have, key);
    switch (operator) {
      case 'In':
        if (!present || !values.includes(have[key]!)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(have[key]!)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}

/** kubectl's notation: app=web,tier in (a,b),!legacy */
export function formatSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    if (operator === 'In') parts.push(`${key} in (${values.join(',')})`);
    else if (operator === 'NotIn') parts.push(`${key} notin (${values.join(',')})`);
    else if (operator === 'Exists') parts.push(key);
    else parts.push(`!${key}`);
  }
  return parts.join(',');
}

/** A Kubernetes selector (a workload's, or a Service's as matchLabels) in the PortForward's form; undefined when it is empty. */
export function fromKubeSelector(s: V1LabelSelector | undefined): LabelSelector | undefined {
  const result: LabelSelector = {};
  if (s?.matchLabels && Object.keys(s.matchLabels).length) result.matchLabels = { ...s.matchLabels };
  const expressions = (s?.matchExpressions ?? []).map((e) => ({
    key: e.key,
    operator: e.operator as 'In' | 'NotIn' | 'Exists' | 'DoesNotExist',
    ...(e.values?.length ? { values: [...e.values] } : {}),
  }));
  if (expressions.length) result.matchExpressions = expressions;
  return result.matchLabels || result.matchExpressions ? result : undefined;
}
