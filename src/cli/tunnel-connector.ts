// The tunnel API's way for TCP: one TunnelSession per PortForward port and current helper pod,
// shared by every local connection to that port. A session that broke, or whose helper is no
// longer the PortForward's, takes no new connections; the next one opens a fresh session.
import type { KubeConfig } from '@kubernetes/client-node';
import type { TcpPath, Way } from './forward-path.js';
import type { PodRef } from './pod-port.js';
import { sameHelper } from './tunnel-state.js';
import { TunnelSession } from './tunnel-session.js';
import { TunnelRefused } from './tunnel-websocket.js';

interface Entry {
  helper: PodRef;
  opening: Promise<TunnelSession>;
  session?: TunnelSession;
}

export class TunnelConnector implements TcpPath {
  /** By PortForward port. */
  private readonly sessions = new Map<number, Entry>();

  constructor(
    private readonly kc: KubeConfig,
    private readonly pf: { namespace: string; name: string },
  ) {}

  async open(helper: PodRef, port: number): Promise<Way> {
    const session = await this.session(helper, port);
    return { carry: (local) => session.forward(local), abandon: () => undefined };
  }

  /** 503: the PortForward is not Ready or its helper is being replaced, as the gateway sees it. */
  retryAfterUpdate(err: unknown): boolean {
    return err instanceof TunnelRefused && err.status === 503;
  }

  /** The server's sentence as is: a 403 names the right that is missing. */
  describe(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
  }

  follow(helper: PodRef | undefined): void {
    for (const [port, entry] of this.sessions) {
      if (sameHelper(entry.helper, helper)) continue;
      entry.session?.retire();
      this.sessions.delete(port);
    }
  }

  closeAll(): void {
    for (const entry of this.sessions.values()) entry.session?.retire();
    this.sessions.clear();
  }

  private session(helper: PodRef, port: number): Promise<TunnelSession> {
    const current = this.sessions.get(port);
    if (current && sameHelper(current.helper, helper) && (!current.session || current.session.usable)) return current.opening;
    current?.session?.retire();
    const entry: Entry = {
      helper,
      opening: TunnelSession.open(this.kc, { ...this.pf, port, protocol: 'tcp' }, helper).then(
        (session) => {
          entry.session = session;
          // Replaced or asked to stop while it opened: it still carries the connections that were
          // waiting for it (they start their streams in this turn), then closes.
          if (this.sessions.get(port) !== entry) setImmediate(() => session.retire());
          return session;
        },
        (err: unknown) => {
          if (this.sessions.get(port) === entry) this.sessions.delete(port);
          throw err;
        },
      ),
    };
    this.sessions.set(port, entry);
    return entry.opening;
  }
}
