// The PortForward status, written only by the operator. Described in zod so the CRD documents it
// (kubectl explain portforward.status) from the same source as the TypeScript type.
import { z } from 'zod';

export const PHASES = ['Pending', 'Ready', 'Failed', 'Expired'] as const;
export type Phase = (typeof PHASES)[number];

const conditionSchema = z.object({
  type: z.string().describe('Ready is the one to watch: True when the tunnel carries traffic.'),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().describe('A CamelCase word saying why, e.g. TargetNotFound, HelperStarting, Ready.'),
  message: z.string().describe('What happened and what to do about it, for a person.'),
  lastTransitionTime: z.string().describe('When status last changed (RFC 3339).'),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.output<typeof conditionSchema>;

const connectionsSchema = z
  .object({
    active: z.number().int().describe('TCP connections and UDP sessions (client address:port) open through the helper now.'),
    total: z
      .number()
      .int()
      .describe("TCP connections and UDP sessions the helper has accepted since it started, failed ones and the operator's own checks included."),
    failed: z
      .number()
      .int()
      .optional()
      .describe("Of total, those not relayed: the target's port did not accept them, or a limit of the helper refused them."),
    lastError: z
      .object({
        message: z.string().describe('Which port, and why, e.g. "port 10080/TCP: cannot connect to target port 8080 (...connection refused)".'),
        time: z.string().describe('When (RFC 3339).'),
      })
      .optional()
      .describe('The last connection the helper refused or could not relay to the target.'),
    observedAt: z.string().optional().describe('When the operator saw these numbers change (RFC 3339); it reads them every CONNECTIONS_POLL.'),
  })
  .describe("What the helper's relay counts (its /metrics), read by the operator while the helper is ready and written when it changes.");
export type Connections = z.output<typeof connectionsSchema>;

export const statusSchema = z
  .object({
    phase: z.enum(PHASES).optional().describe('Pending, Ready, Failed (needs a change to the spec or the cluster) or Expired (ttl ran out).'),
    observedGeneration: z.number().int().optional().describe('The spec generation this status describes.'),
    conditions: z.array(conditionSchema).optional(),
    ports: z.string().optional().describe('The relayed ports in short form, e.g. 10080->80/TCP.'),
    target: z
      .object({
        namespace: z.string(),
        pod: z.string(),
        uid: z.string(),
        node: z.string(),
        chosenBy: z.string().describe('Why this pod: named by the spec, or which of the ready pods of the selector, Service or workload.'),
      })
      .partial()
      .optional()
      .describe('The pod the tunnel currently enters.'),
    helper: z
      .object({ namespace: z.string(), pod: z.string(), podIP: z.string() })
      .partial()
      .optional()
      .describe('The helper pod that relays the traffic.'),
    service: z
      .object({ namespace: z.string(), name: z.string(), clusterIP: z.string() })
      .partial()
      .optional()
      .describe('The Service in front of the helper.'),
    access: z
      .object({
        inCluster: z.array(z.string()).describe('Addresses for clients inside the cluster, SERVICE.NAMESPACE.svc:PORT.'),
        apiServerProxy: z
          .array(z.string())
          .describe('HTTP through the API server, one path per TCP port (kubectl get --raw PATH, or under kubectl proxy).'),
        tunnel: z.array(z.string()).describe('The tunnel API path of each port (a WebSocket; what kubectl pf connect opens).'),
        connectCommand: z.string().describe('The command that reaches every port from a workstation.'),
      })
      .partial()
      .optional()
      .describe('The ways to reach the tunnel. From outside the cluster they need rights in this namespace only (ClusterRole portforward-tunnel-user, part of edit and admin).'),
    expiresAt: z.string().optional().describe('When the ttl runs out (RFC 3339).'),
    connections: connectionsSchema.optional(),
  })
  .describe('What the operator observed and did, rewritten on every pass.');

export type PortForwardStatus = z.output<typeof statusSchema>;
