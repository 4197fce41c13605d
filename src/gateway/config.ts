// Gateway settings, read once from the environment at start (the README lists them).
import { z } from 'zod';

const envSchema = z.object({
  POD_NAMESPACE: z.string().default('portforward-system'),
  /** The Service in front of the gateway: its DNS names go into the serving certificate. */
  GATEWAY_SERVICE: z.string().default('portforward-gateway'),
  GATEWAY_PORT: z.coerce.number().int().min(1).max(65535).default(8443),
  HTTP_PORT: z.coerce.number().int().min(1).max(65535).default(8081),
  /** Where the serving certificate lives (keys tls.crt, tls.key, ca.crt, as cert-manager writes them). */
  GATEWAY_CERT_SECRET: z.string().default('portforward-gateway-tls'),
  /**
   * self: the gateway makes and renews the certificate and writes the APIService's caBundle.
   * external: something else (cert-manager and its CA injector) does; the gateway only reads it.
   */
  GATEWAY_CERT_MODE: z.enum(['self', 'external']).default('self'),
  GATEWAY_APISERVICE: z.string().default('v1alpha1.connect.portforward.io'),
  /** The namespace whose helper pods tunnels may reach. */
  HELPER_NAMESPACE: z.string().default('portforward-helpers'),
  /** Open tunnels (WebSockets) one user may hold on one gateway replica. */
  MAX_TUNNELS_PER_USER: z.coerce.number().int().min(1).max(100_000).default(32),
  /** Connections (or UDP senders) one tunnel may carry at once. */
  MAX_STREAMS_PER_TUNNEL: z.coerce.number().int().min(1).max(100_000).default(256),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
});

export type GatewayConfig = Readonly<{
  namespace: string;
  serviceName: string;
  port: number;
  httpPort: number;
  certSecret: string;
  certMode: 'self' | 'external';
  apiServiceName: string;
  helperNamespace: string;
  maxTunnelsPerUser: number;
  maxStreamsPerTunnel: number;
  logLevel: string;
}>;

export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = envSchema.parse(env);
  return {
    namespace: e.POD_NAMESPACE,
    serviceName: e.GATEWAY_SERVICE,
    port: e.GATEWAY_PORT,
    httpPort: e.HTTP_PORT,
    certSecret: e.GATEWAY_CERT_SECRET,
    certMode: e.GATEWAY_CERT_MODE,
    apiServiceName: e.GATEWAY_APISERVICE,
    helperNamespace: e.HELPER_NAMESPACE,
    maxTunnelsPerUser: e.MAX_TUNNELS_PER_USER,
    maxStreamsPerTunnel: e.MAX_STREAMS_PER_TUNNEL,
    logLevel: e.LOG_LEVEL,
  };
}
