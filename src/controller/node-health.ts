// Whether the target's node is fit to carry the tunnel, as the TargetNodeReady condition says it:
// a NotReady node (its kubelet is gone) or a cordoned one (kubectl drain starts so) is told in the
// status, while the tunnel stays as it is: the helper follows the target when it is rescheduled.
import type { V1Node } from '@kubernetes/client-node';

export const TARGET_NODE_READY = 'TargetNodeReady';

export interface NodeHealth {
  ok: boolean;
  reason: 'NodeReady' | 'NodeNotReady' | 'NodeCordoned' | 'NodeNotFound';
  message: string;
}

const FOLLOWS = 'When the target pod is rescheduled to another node, the helper follows it there.';

export function nodeHealth(name: string, node: V1Node | undefined): NodeHealth {
  if (!node) return { ok: false, reason: 'NodeNotFound', message: `Node ${name} of the target pod is not known to the cluster. ${FOLLOWS}` };
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True') {
    const since = ready?.lastTransitionTime ? ` since ${new Date(ready.lastTransitionTime).toISOString()}` : '';
    const why = ready?.reason ? ` (${ready.reason})` : '';
    return {
      ok: false,
      reason: 'NodeNotReady',
      message: `Node ${name} of the target pod is NotReady${why}${since}: its kubelet does not report, so the tunnel may not carry traffic. ${FOLLOWS}`,
    };
  }
  if (node.spec?.unschedulable) {
    return {
      ok: false,
      reason: 'NodeCordoned',
      message: `Node ${name} of the target pod is cordoned (unschedulable; kubectl drain starts so): its pods may be evicted soon. ${FOLLOWS}`,
    };
  }
  return { ok: true, reason: 'NodeReady', message: `Node ${name} of the target pod is Ready.` };
}
