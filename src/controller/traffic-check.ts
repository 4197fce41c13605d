// Ready means traffic flows: before a PortForward is reported Ready, its helper confirms that each
// target port takes traffic, and a connection through the Service's cluster IP reaches the helper
// (kube-proxy has programmed it). What each failure means, in words a person can act on.
import type { PortForwardSpec, ResolvedTarget } from '../api/index.js';
import type { Reason, Readiness } from './reasons.js';

/** One relayed port as the helper reports it (pf-relay's GET /ports). */
export interface PortState {
  protocol: 'tcp' | 'udp';
  port: number;
  targetPort: number;
  /** Something in the target takes traffic there, at an address the relay reaches. */
  open: boolean;
}

/** The network checks, behind an interface so that the decision is testable without a network. */
export interface TunnelProbe {
  /** Which target ports are open, as the helper at ip reports it on its health port. */
  targetPorts(ip: string, healthPort: number): Promise<PortState[]>;
  /** Whether a TCP connection to ip:port is accepted. */
  connects(ip: string, port: number): Promise<boolean>;
}

/** How soon a tunnel whose target port is closed, or whose helper did not answer, looks again. */
export const CLOSED_PORT_RECHECK_MS = 5000;
/** How soon a tunnel whose Service does not route yet looks again (kube-proxy takes up to a second). */
export const ROUTE_RECHECK_MS = 250;

/** The helper's answer to GET /ports, or why there was none. */
export type HelperAnswer = { ports: PortState[] } | { error: string };

/**
 * Asks the helper which target ports are open. pf-relay serves this only once every listener is
 * up, so an answer also means the relay relays now: a second or so before the kubelet's next
 * readiness probe would say so.
 */
export async function askHelper(probe: TunnelProbe, helperIP: string, healthPort: number): Promise<HelperAnswer> {
  try {
    return { ports: await probe.targetPorts(helperIP, healthPort) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export interface TrafficInputs {
  spec: PortForwardSpec;
  target: ResolvedTarget;
  helperName: string;
  helperIP: string;
  /** The helper's answer on its health port; undefined for data paths without pf-relay. */
  answer: { healthPort: number; answer: HelperAnswer } | undefined;
  clusterIP: string | undefined;
}

export interface TrafficVerdict {
  /** Undefined: traffic flows, the tunnel is Ready. */
  notReady?: Readiness;
  recheckMs?: number;
}

/** For a helper that relays: are the target's ports open, and does the Service reach the helper? */
export async function checkTraffic(probe: TunnelProbe, at: TrafficInputs): Promise<TrafficVerdict> {
  if (at.answer) {
    const { healthPort, answer } = at.answer;
    if ('error' in answer) {
      return {
        notReady: pending(
          'TunnelCheckFailed',
          `Could not ask helper pod ${at.helperName} (${at.helperIP}:${healthPort}) whether the target's ports are open: ${answer.error}. ` +
            'The operator must reach helper pods on their health port; checking again in 5 s.',
        ),
        recheckMs: CLOSED_PORT_RECHECK_MS,
      };
    }
    // Only TCP gates Ready: a UDP server may bind only when a session starts (iperf3 does), and a
    // datagram has no handshake to confirm through the Service either.
    const closed = answer.ports.filter((p) => p.protocol === 'tcp' && !p.open);
    if (closed.length) return { notReady: closedPorts(closed, at.target), recheckMs: CLOSED_PORT_RECHECK_MS };
  }
  const tcp = at.spec.ports.find((p) => p.protocol === 'TCP');
  // UDP has no handshake: a datagram through the Service cannot be confirmed without the application's reply.
  if (!tcp || !at.clusterIP || at.clusterIP === 'None') return {};
  if (await probe.connects(at.clusterIP, tcp.port)) return {};
  return {
    notReady: pending(
      'WaitingForService',
      `The helper is up, but a connection to the Service address ${at.clusterIP}:${tcp.port} does not reach it yet (kube-proxy has not programmed the new endpoint); checking again.`,
    ),
    recheckMs: ROUTE_RECHECK_MS,
  };
}

function closedPorts(closed: readonly PortState[], target: ResolvedTarget): Readiness {
  const which = closed.map((p) => `${p.targetPort}/${p.protocol.toUpperCase()} (tunnel port ${p.port})`).join(', ');
  const one = closed.length === 1;
  return pending(
    'TargetPortClosed',
    `Nothing in pod ${target.namespace}/${target.pod} listens on port${one ? '' : 's'} ${which} at 127.0.0.1, [::1] or a wildcard address. ` +
      `Start the server there, or set targetPort to the port it listens on; this is checked again every 5 s.`,
  );
}

function pending(reason: Reason, message: string): Readiness {
  return { reason, message };
}
