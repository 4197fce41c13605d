// What connect needs from a way to the PortForward's helper, one local TCP connection at a time.
// Two ways: the tunnel API (TunnelConnector), and pods/portforward to the helper pod (Connector)
// where the tunnel API is not installed.
import type { Socket } from 'node:net';
import type { PodRef } from './pod-port.js';

export interface Way {
  /** Carries the local connection until it is over; rejects with one line when it broke. */
  carry(local: Socket): Promise<void>;
  /** Frees what was opened, when the local connection went away before carry(). */
  abandon(): void;
}

export interface TcpPath {
  /** Opens the way to PortForward port `port` through `helper`. */
  open(helper: PodRef, port: number): Promise<Way>;
  /** The error means the helper is being replaced: wait for the PortForward's next update and try again. */
  retryAfterUpdate(err: unknown): boolean;
  /** One line for a failed open(). */
  describe(err: unknown, helper: PodRef): string;
  /** The PortForward names this helper now: what serves another one takes no new connections. */
  follow(helper: PodRef | undefined): void;
  /** Ends everything once its connections are over. */
  closeAll(): void;
}
