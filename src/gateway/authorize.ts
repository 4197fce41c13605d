// Every tunnel is authorized again here, with a SubjectAccessReview for the user the front proxy
// named: kube-apiserver checked the request's own verb, this checks what a tunnel is (and that the
// user may read the PortForward it uses), so a tunnel never rests on one check alone.
import type { AuthorizationV1Api } from '@kubernetes/client-node';
import type { User } from './front-proxy.js';

export interface Access {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace: string;
  name: string;
}

/** How the right reads in a message: `create portforwards/portforward (connect.portforward.io)`. */
export function describeAccess(a: Access): string {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return `"${a.verb}" on ${resource} (API group ${a.group}) in namespace ${a.namespace}`;
}

export type Decision = { allowed: true } | { allowed: false; message: string };

export async function authorize(api: AuthorizationV1Api, user: User, wanted: readonly Access[]): Promise<Decision> {
  for (const a of wanted) {
    const review = await api.createSubjectAccessReview({
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.name,
          groups: user.groups,
          extra: user.extra,
          resourceAttributes: {
            verb: a.verb,
            group: a.group,
            resource: a.resource,
            subresource: a.subresource,
            namespace: a.namespace,
            name: a.name,
          },
        },
      },
    });
    if (!review.status?.allowed) {
      const why = review.status?.reason ? ` (${review.status.reason})` : '';
      return { allowed: false, message: `user "${user.name}" may not use PortForward ${a.namespace}/${a.name}: it needs ${describeAccess(a)}${why}` };
    }
  }
  return { allowed: true };
}
