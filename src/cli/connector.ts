// How `connect` reaches a port of the helper pod for one local connection: a stream pair of one
// SPDY session shared with every other connection (kubectl's way, Kubernetes 1.31 and later), or,
// when the API server cannot tunnel SPDY, a WebSocket of its own (v4.channel.k8s.io).
import type { KubeConfig } from '@kubernetes/client-node';
import type { TcpPath, Way } from './forward-path.js';
import { openPodPort, pipeConnection, type PodRef } from './pod-port.js';
import { PortForwardSession, TunnelUnsupportedError } from './spdy-session.js';
import { HandshakeError } from './websocket.js';

export class Connector implements TcpPath {
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

  /**
   * A helper that was just replaced answers 404 (or 400/500 while it terminates): the operator
   * reports the new one in a moment. A refusal of the user's rights is final.
   */
  retryAfterUpdate(err: unknown): boolean {
    const status = err instanceof HandshakeError ? err.status : undefined;
    return status !== undefined && status >= 400 && status !== 401 && status !== 403;
  }

  describe(err: unknown, helper: PodRef): string {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof HandshakeError && err.status === 403) {
      return `${message} (connect needs "get" and "create" on pods/portforward in namespace ${helper.namespace}, where the helper pods run)`;
    }
    return message;
  }

  /** Nothing to do: the next open() replaces a session whose helper changed. */
  follow(): void {}

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
