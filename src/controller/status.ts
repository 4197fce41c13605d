// The status a pass writes: built in full from what the pass observed (but for the connections
// poll's status.connections), conditions keeping their lastTransitionTime while their status holds,
// and compared canonically so an unchanged status is not written again.
import type { Condition, PortForwardStatus } from '../api/index.js';
import { isReady, phaseOf, type Readiness } from './reasons.js';
import { canonical } from '../util/canonical.js';
import { TARGET_NODE_READY, type NodeHealth } from './node-health.js';

export const READY = 'Ready';

/**
 * Sets a condition in a list. lastTransitionTime moves only when the status flips: a new reason
 * or message alone is not a transition.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
  now: string,
): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === next.type);
  const previous = index >= 0 ? list[index] : undefined;
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : now;
  const condition: Condition = { ...next, lastTransitionTime };
  if (index >= 0) list[index] = condition;
  else list.push(condition);
  return list;
}

export function readyCondition(status: PortForwardStatus | undefined): Condition | undefined {
  return status?.conditions?.find((c) => c.type === READY);
}

export function targetNodeCondition(status: PortForwardStatus | undefined): Condition | undefined {
  return status?.conditions?.find((c) => c.type === TARGET_NODE_READY);
}

export function sameStatus(a: PortForwardStatus | undefined, b: PortForwardStatus | undefined): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}

/** What a pass observed, turned into the full status to write. */
export interface Observed {
  generation: number | undefined;
  readiness: Readiness;
  ports?: string;
  target?: PortForwardStatus['target'];
  helper?: PortForwardStatus['helper'];
  service?: PortForwardStatus['service'];
  access?: PortForwardStatus['access'];
  expiresAt?: string;
  /** The target's node, when there is a target. */
  targetNode?: NodeHealth;
}

export function composeStatus(previous: PortForwardStatus | undefined, observed: Observed, now: string): PortForwardStatus {
  const { readiness, generation } = observed;
  const ready = setCondition(
    previous?.conditions,
    {
      type: READY,
      status: isReady(readiness) ? 'True' : 'False',
      reason: readiness.reason,
      message: readiness.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    },
    now,
  );
  const node = observed.targetNode;
  const conditions = node
    ? setCondition(ready, { type: TARGET_NODE_READY, status: node.ok ? 'True' : 'False', reason: node.reason, message: node.message }, now)
    : ready.filter((c) => c.type !== TARGET_NODE_READY);
  const status: PortForwardStatus = {
    phase: phaseOf(readiness.reason),
    observedGeneration: generation,
    conditions,
    ports: observed.ports,
    target: observed.target,
    helper: observed.helper,
    service: observed.service,
    access: observed.access,
    expiresAt: observed.expiresAt,
    // the connections poll's, not the pass's: kept while they describe the same helper
    connections: observed.helper?.pod !== undefined && observed.helper.pod === previous?.helper?.pod ? previous.connections : undefined,
  };
  // drop absent fields so the canonical comparison and the stored object agree
  return JSON.parse(canonical(status)) as PortForwardStatus;
}
