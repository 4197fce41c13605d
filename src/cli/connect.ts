// `kubectl pf connect NAME [LOCAL:]REMOTE ...`: local listeners whose connections go, through the
// API server's pods/portforward, to the PortForward's current helper pod. The PortForward is
// watched; every new connection uses the helper the status names at that moment, so a replaced
// helper is picked up without a restart. A failed connection is one line on stderr, never the end.
import { createServer, type Server, type Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { PortForward } from '../api/index.js';
import { UsageError } from './args.js';
import { getPortForward } from './kube.js';
import { Connector } from './connector.js';
import { closeGently, type PodRef } from './pod-port.js';
import { hostPort, type ForwardedPort, type ListenAddress } from './ports.js';
import { sameHelper, snapshotOf, transitionLine, TunnelState, type Snapshot } from './tunnel-state.js';
import { PortForwardWatch } from './watch.js';
import { HandshakeError } from './websocket.js';

export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface ConnectOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  /** As given on the command line; empty means every TCP port of the PortForward. */
  ports: ForwardedPort[];
  addresses: ListenAddress[];
  /** How long a new connection waits for the PortForward to be Ready before it is closed. */
  readyTimeoutMs: number;
  io: Output;
  /** Resolves when the session should end (Ctrl-C); main wires SIGINT and SIGTERM to it. */
  stopSignal: Promise<void>;
}

/** Checks the requested ports against the PortForward's; no ports means all of its TCP ports. */
export function resolvePorts(requested: readonly ForwardedPort[], snapshot: Snapshot, name: string): ForwardedPort[] {
  const tcp = snapshot.tcpPorts ?? [];
  const udp = snapshot.udpPorts ?? [];
  if (requested.length === 0) {
    if (tcp.length === 0) {
      throw new UsageError(`PortForward ${name} has no TCP ports${udp.length ? ` (only UDP ${udp.join(', ')})` : ''}; connect forwards TCP only`);
    }
    return tcp.map((p) => ({ local: p, remote: p }));
  }
  for (const p of requested) {
    if (tcp.includes(p.remote)) continue;
    if (udp.includes(p.remote)) throw new UsageError(`port ${p.remote} of PortForward ${name} is UDP; connect forwards TCP only`);
    const have = tcp.length ? `its TCP ports are ${tcp.join(', ')}` : 'it has no TCP ports';
    throw new UsageError(`PortForward ${name} has no port ${p.remote}; ${have} (REMOTE is a PortForward port, not the target's)`);
  }
  return [...requested];
}

function listen(address: ListenAddress, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    server.once('error', reject);
    server.listen({ host: address.host, port, ipv6Only: address.family === 6, exclusive: true }, () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  });
}

function boundPort(server: Server): number {
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

function handshakeProblem(err: unknown, helper: PodRef): string {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof HandshakeError && err.status === 403) {
    return `${message} (connect needs "get" and "create" on pods/portforward in namespace ${helper.namespace}, where the helper pods run)`;
  }
  return message;
}

export async function runConnect(o: ConnectOptions): Promise<number> {
  const { io } = o;
  const ref = `${o.namespace}/${o.name}`;
  const got = await getPortForward(o.kc, o.namespace, o.name);
  if (!got.found) {
    io.err(`error: ${got.message}`);
    return got.missingType ? 1 : 2;
  }
  const first = snapshotOf(ref, got.pf);
  if (!first.tcpPorts) {
    io.err(`error: PortForward ${o.name} has an invalid spec (${first.why}); fix it before connecting`);
    return 2;
  }
  const forwards = resolvePorts(o.ports, first, o.name);
  const state = new TunnelState(first);
  const connector = new Connector(o.kc, (line) => io.err(`note: ${line}`));

  // Listen first, as kubectl does: a port already in use is reported at once.
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let stopping = false;
  let listening = 0;
  for (const fp of forwards) {
    let port = fp.local;
    const errors: string[] = [];
    let required = false;
    let ok = 0;
    for (const address of o.addresses) {
      try {
        const server = await listen(address, port);
        port = boundPort(server);
        servers.push(server);
        ok++;
        io.out(`Forwarding from ${hostPort(address.host, port)} -> ${fp.remote}`);
        server.on('error', (e) => io.err(`listener ${hostPort(address.host, port)}: ${e.message}`));
        const localPort = port;
        server.on('connection', (socket: Socket) => {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
          if (stopping) {
            socket.destroy();
            return;
          }
          handle(socket, fp.remote, localPort).catch((e: unknown) => {
            io.err(`an error occurred forwarding ${localPort} -> ${fp.remote}: ${e instanceof Error ? e.message : String(e)}`);
            closeGently(socket);
          });
        });
      } catch (e) {
        const msg = `listen tcp${address.family} ${hostPort(address.host, port)}: ${(e as Error).message}`;
        errors.push(msg);
        if (address.required) required = true;
        io.err(`Unable to create listener: ${msg}`);
      }
    }
    if (ok === 0 || required) {
      io.err(`Unable to listen on port ${fp.local}: ${errors.join('; ')}`);
    } else {
      listening++;
    }
  }
  if (listening === 0) {
    io.err('error: unable to listen on any of the requested ports');
    for (const s of servers) s.close();
    return 1;
  }

  async function handle(local: Socket, remote: number, localPort: number): Promise<void> {
    io.out(`Handling connection for ${localPort}`);
    for (let attempt = 0; ; attempt++) {
      const helper = await state.readyHelper(o.readyTimeoutMs);
      if (stopping || local.destroyed) {
        local.destroy();
        return;
      }
      const now = state.current;
      if (!helper) {
        const why = now.deleted ? 'the PortForward was deleted' : `PortForward ${ref} is not Ready after ${o.readyTimeoutMs / 1000}s (${now.why})`;
        throw new Error(why);
      }
      if (!now.tcpPorts?.includes(remote)) throw new Error(`PortForward ${ref} no longer has TCP port ${remote}`);
      let way;
      try {
        way = await connector.open(helper, remote);
      } catch (err) {
        // A helper that was just replaced answers 404 (or 400/500 while it terminates): give the
        // operator a moment to report the new one, then try there.
        const status = err instanceof HandshakeError ? err.status : undefined;
        if (attempt < 2 && status !== undefined && status >= 400 && status !== 401 && status !== 403) {
          if (sameHelper(state.current.helper, helper)) await state.nextUpdate(5000);
          if (!sameHelper(state.current.helper, helper)) continue;
        }
        throw new Error(handshakeProblem(err, helper));
      }
      if (stopping || local.destroyed) {
        way.abandon();
        local.destroy();
        return;
      }
      await way.carry(local);
      return;
    }
  }

  let finish: (code: number) => void = () => undefined;
  const ended = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const watch = new PortForwardWatch(o.kc, o.namespace, o.name, {
    changed: (pf: PortForward | undefined) => {
      const next = snapshotOf(ref, pf);
      const line = transitionLine(state.current, next);
      state.update(next);
      if (line) io.out(line);
      if (next.deleted) finish(1);
    },
    warn: (line) => io.err(`warning: ${line}`),
  });
  const firstLine = transitionLine(undefined, first);
  if (firstLine) io.out(firstLine);
  watch.start(got.pf);
  void o.stopSignal.then(() => finish(0));

  const code = await ended;
  stopping = true;
  watch.stop();
  state.wakeAll();
  for (const s of servers) s.close();
  for (const s of sockets) s.destroy();
  connector.closeAll();
  return code;
}
