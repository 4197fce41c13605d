// `kubectl pf connect NAME [LOCAL:]REMOTE[/udp] ...`: local listeners whose traffic goes to the
// PortForward's current helper pod, through the API server: by the tunnel API
// (connect.portforward.io) where the cluster serves it, else by pods/portforward to the helper.
// The PortForward is watched; every new connection uses the helper the status names at that
// moment, so a replaced helper is picked up without a restart. A failed connection is one line on
// stderr, never the end.
import { createServer, type Server, type Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import type { PortForward } from '../api/index.js';
import { UsageError } from './args.js';
import { Connector } from './connector.js';
import type { TcpPath } from './forward-path.js';
import { getPortForward } from './kube.js';
import { closeGently } from './pod-port.js';
import { hostPort, type ForwardedPort, type ListenAddress } from './ports.js';
import { TunnelConnector } from './tunnel-connector.js';
import { discoverTunnelApi, tunnelApiLine, type TunnelApi } from './tunnel-discovery.js';
import { TunnelSession } from './tunnel-session.js';
import { openWhenReady, snapshotOf, transitionLine, TunnelState, type Snapshot } from './tunnel-state.js';
import { UdpForward } from './udp-forward.js';
import { PortForwardWatch } from './watch.js';
import { widenHeapGrowth } from '../util/heap-growth.js';

export interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface ConnectOptions {
  kc: KubeConfig;
  namespace: string;
  name: string;
  /** As given on the command line; empty means every port of the PortForward (TCP only without the tunnel API). */
  ports: ForwardedPort[];
  addresses: ListenAddress[];
  /** How long a new connection waits for the PortForward to be Ready before it is closed. */
  readyTimeoutMs: number;
  io: Output;
  /** Resolves when the session should end (Ctrl-C); main wires SIGINT and SIGTERM to it. */
  stopSignal: Promise<void>;
  /** What discovery said, when the caller asked already (and printed its line); else connect asks. */
  tunnelApi?: TunnelApi;
}

const UDP_NEEDS_TUNNEL_API = 'UDP needs the tunnel API (connect.portforward.io), which this cluster does not serve';

/** Checks the requested ports against the PortForward's; no ports means all of them (TCP only without the tunnel API). */
export function resolvePorts(requested: readonly ForwardedPort[], snapshot: Snapshot, name: string, tunnelApi: boolean): ForwardedPort[] {
  const tcp = snapshot.tcpPorts ?? [];
  const udp = snapshot.udpPorts ?? [];
  if (requested.length === 0) {
    const all: ForwardedPort[] = [
      ...tcp.map((p) => ({ local: p, remote: p, protocol: 'tcp' as const })),
      ...(tunnelApi ? udp.map((p) => ({ local: p, remote: p, protocol: 'udp' as const })) : []),
    ];
    if (all.length === 0) throw new UsageError(`PortForward ${name} has no TCP ports (only UDP ${udp.join(', ')}); ${UDP_NEEDS_TUNNEL_API}`);
    return all;
  }
  for (const p of requested) {
    if (p.protocol === 'udp' && !tunnelApi) throw new UsageError(`cannot forward ${p.remote}/udp: ${UDP_NEEDS_TUNNEL_API}`);
    const [mine, other] = p.protocol === 'tcp' ? [tcp, udp] : [udp, tcp];
    if (mine.includes(p.remote)) continue;
    if (other.includes(p.remote)) {
      if (p.protocol === 'udp') throw new UsageError(`port ${p.remote} of PortForward ${name} is TCP; leave out /udp`);
      throw new UsageError(`port ${p.remote} of PortForward ${name} is UDP; ${tunnelApi ? `write ${p.remote}/udp` : UDP_NEEDS_TUNNEL_API}`);
    }
    const kind = p.protocol === 'tcp' ? '' : 'UDP ';
    const have = mine.length ? `its ${p.protocol.toUpperCase()} ports are ${mine.join(', ')}` : `it has no ${p.protocol.toUpperCase()} ports`;
    throw new UsageError(`PortForward ${name} has no ${kind}port ${p.remote}; ${have} (REMOTE is a PortForward port, not the target's)`);
  }
  return [...requested];
}

function listenTcp(address: ListenAddress, port: number): Promise<Server> {
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

export async function runConnect(o: ConnectOptions): Promise<number> {
  widenHeapGrowth(); // a tunnel's throughput is otherwise spent marking client-node's heap
  const { io } = o;
  const ref = `${o.namespace}/${o.name}`;
  const [got, tunnelApi] = await Promise.all([getPortForward(o.kc, o.namespace, o.name), o.tunnelApi ?? discoverTunnelApi(o.kc)]);
  if (!got.found) {
    io.err(`error: ${got.message}`);
    return got.missingType ? 1 : 2;
  }
  if (!o.tunnelApi) {
    const line = tunnelApiLine(tunnelApi);
    if (line) io.err(line);
  }
  const first = snapshotOf(ref, got.pf);
  if (!first.tcpPorts) {
    io.err(`error: PortForward ${o.name} has an invalid spec (${first.why}); fix it before connecting`);
    return 2;
  }
  const forwards = resolvePorts(o.ports, first, o.name, tunnelApi.served);
  const state = new TunnelState(first);
  const pf = { namespace: o.namespace, name: o.name };
  const tcpPath: TcpPath = tunnelApi.served ? new TunnelConnector(o.kc, pf) : new Connector(o.kc, (line) => io.err(`note: ${line}`));
  const retryAfterUpdate = (err: unknown): boolean => tcpPath.retryAfterUpdate(err);

  // Listen first, as kubectl does: a port already in use is reported at once.
  const servers: Server[] = [];
  const udpForwards: UdpForward[] = [];
  const sockets = new Set<Socket>();
  let stopping = false;
  let listening = 0;

  const serveTcp = (server: Server, fp: ForwardedPort, localPort: number, address: ListenAddress): void => {
    servers.push(server);
    server.on('error', (e) => io.err(`listener ${hostPort(address.host, localPort)}: ${e.message}`));
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
  };

  for (const fp of forwards) {
    const udp =
      fp.protocol === 'udp'
        ? new UdpForward({
            remote: fp.remote,
            state,
            readyTimeoutMs: o.readyTimeoutMs,
            open: (helper) => TunnelSession.open(o.kc, { ...pf, port: fp.remote, protocol: 'udp' }, helper),
            retryAfterUpdate,
            io,
          })
        : undefined;
    let port = fp.local;
    const errors: string[] = [];
    let required = false;
    let ok = 0;
    for (const address of o.addresses) {
      try {
        if (udp) {
          port = await udp.bind(address, port);
        } else {
          const server = await listenTcp(address, port);
          port = boundPort(server);
          serveTcp(server, fp, port, address);
        }
        ok++;
        io.out(`Forwarding from ${hostPort(address.host, port)} -> ${fp.remote}${udp ? '/udp' : ''}`);
      } catch (e) {
        const msg = `listen ${fp.protocol}${address.family} ${hostPort(address.host, port)}: ${(e as Error).message}`;
        errors.push(msg);
        if (address.required) required = true;
        io.err(`Unable to create listener: ${msg}`);
      }
    }
    if (udp) udpForwards.push(udp);
    if (ok === 0 || required) {
      io.err(`Unable to listen on port ${fp.local}: ${errors.join('; ')}`);
    } else {
      listening++;
    }
  }
  if (listening === 0) {
    io.err('error: unable to listen on any of the requested ports');
    for (const s of servers) s.close();
    for (const u of udpForwards) u.close();
    return 1;
  }

  async function handle(local: Socket, remote: number, localPort: number): Promise<void> {
    io.out(`Handling connection for ${localPort}`);
    const way = await openWhenReady(state, o.readyTimeoutMs, {
      open: (helper) => tcpPath.open(helper, remote),
      refuse: (now) => (now.tcpPorts?.includes(remote) ? undefined : `PortForward ${ref} no longer has TCP port ${remote}`),
      retryAfterUpdate,
      describe: (err, helper) => tcpPath.describe(err, helper),
      abandoned: () => stopping || local.destroyed,
    });
    if (!way || stopping || local.destroyed) {
      way?.abandon();
      local.destroy();
      return;
    }
    await way.carry(local);
  }

  let finish: (code: number) => void = () => undefined;
  const ended = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const follow = (): void => {
    tcpPath.follow(state.current.ready ? state.current.helper : undefined);
    for (const u of udpForwards) u.follow();
  };
  const watch = new PortForwardWatch(o.kc, o.namespace, o.name, {
    changed: (next: PortForward | undefined) => {
      const snapshot = snapshotOf(ref, next);
      const line = transitionLine(state.current, snapshot);
      state.update(snapshot);
      if (line) io.out(line);
      follow();
      if (snapshot.deleted) finish(1);
    },
    warn: (line) => io.err(`warning: ${line}`),
  });
  const firstLine = transitionLine(undefined, first);
  if (firstLine) io.out(firstLine);
  watch.start(got.pf);
  follow();
  void o.stopSignal.then(() => finish(0));

  const code = await ended;
  stopping = true;
  watch.stop();
  state.wakeAll();
  for (const s of servers) s.close();
  for (const s of sockets) s.destroy();
  for (const u of udpForwards) u.close();
  tcpPath.closeAll();
  return code;
}
