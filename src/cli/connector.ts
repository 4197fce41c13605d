// How `connect` reaches a port of the helper pod for one local connection: a stream pair of one
// SPDY session shared with every other connection (kubectl's way, Kubernetes 1.31 and later), or,
// when the API server cannot tunnel SPDY, a WebSocket of its own (v4.channel.k8s.io).
import type { Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { openPodPort, pipeConnection, type PodRef } from './pod-port.js';
import { PortForwardSession, TunnelUnsupportedError } from './spdy-session.js';

export interface Way {
  /** Carries the local connection until it is over; rejects with one line when it broke. */
  carry(local: Socket): Promise<void>;
  /** Frees what was opened, when the local connection went away before carry(). */
  abandon(): void;
}

export class Connector {
  private tunnelling = true;
  private current: { key: string; opening: Promise<PortForwardSession>; session?: PortForwardSession } | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly notice: (line: string) => void,
  ) {}

  /** Opens the way to `port` of the helper; rejects with the API server's HandshakeError. */
  async open(helper: PodRef, port: number): Promise<Way> {
    if (this.tunnelling) {
      try {
        const session = await this.session(helper);
        return { carry: (local) => session.forward(port, local), abandon: () => undefined };
      } catch (err) {
        if (!(err instanceof TunnelUnsupportedError)) throw err;
        this.tunnelling = false;
        this.notice(`the API server does not tunnel SPDY over WebSocket (${err.message}); using one WebSocket per connection`);
      }
    }
    const ws = await openPodPort(this.kc, helper, port);
    return { carry: (local) => pipeConnection(ws, local), abandon: () => ws.destroy() };
  }

  /** Ends every session once its connections are over. */
  closeAll(): void {
    this.current?.session?.retire();
    this.current = undefined;
  }

  /** The session with this helper: reused while it works, replaced when it broke or the helper changed. */
  private session(helper: PodRef): Promise<PortForwardSession> {
    const key = `${helper.namespace}/${helper.pod}`;
    const current = this.current;
    if (current?.key === key && (!current.session || current.session.usable)) return current.opening;
    current?.session?.retire();
    const next: NonNullable<Connector['current']> = {
      key,
      opening: PortForwardSession.open(this.kc, helper).then(
        (session) => {
          next.session = session;
          return session;
        },
        (err: unknown) => {
          if (this.current === next) this.current = undefined;
          throw err;
        },
      ),
    };
    this.current = next;
    return next.opening;
  }
}
