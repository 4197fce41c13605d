// A stand-in API server with the tunnel API: GET and watch of one PortForward, discovery of
// connect.portforward.io, and its portforward WebSocket served by the gateway's own serveTunnel
// (the real StreamMux and UDP relay) towards per-helper "pods": a TCP server and a UDP echo socket
// on this machine. Plain HTTP; refusals are the gateway's Status bodies.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { KubeConfig, type V1Pod, type V1Service } from '@kubernetes/client-node';
import { WebSocket, WebSocketServer } from 'ws';
import type { PortForward } from '../../../src/api/index.js';
import { statusBody } from '../../../src/gateway/server.js';
import { serveTunnel } from '../../../src/gateway/tunnel.js';
import { MAX_MESSAGE_BYTES, TUNNEL_PROTOCOL, type TunnelProtocol } from '../../../src/tunnel/protocol.js';

export const NAMESPACE = 'team-a';
const PF_PATH = `/apis/portforward.io/v1alpha1/namespaces/${NAMESPACE}/portforwards`;
const TUNNEL_PATH = new RegExp(`^/apis/connect\\.portforward\\.io/v1alpha1/namespaces/${NAMESPACE}/portforwards/([^/]+)/portforward$`);

export function readyPortForward(name: string, helperPod: string, ports: unknown[]): PortForward {
  return {
    apiVersion: 'portforward.io/v1alpha1',
    kind: 'PortForward',
    metadata: { name, namespace: NAMESPACE, resourceVersion: '1', uid: `uid-${name}` },
    spec: { target: { pod: 'nginx' }, ports },
    status: {
      phase: 'Ready',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'tunnel is up', lastTransitionTime: '2025-01-01T00:00:00Z' }],
      helper: { namespace: 'portforward-helpers', pod: helperPod, podIP: '10.0.0.9' },
    },
  };
}

/**
 * A helper pod's ports. TCP: reads until the client half-closes, then answers "<helper>:<all it
 * got>" and closes, so an answer proves the FIN went through; "reset" in the data resets the
 * connection instead. UDP: every datagram comes back as it was, to its sender.
 */
export class HelperPod {
  readonly tcp: net.Server;
  readonly udp: UdpSocket;

  private constructor(readonly name: string) {
    this.tcp = net.createServer({ allowHalfOpen: true }, (s) => {
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => {
        got.push(d);
        if (d.toString().includes('reset')) s.resetAndDestroy();
      });
      s.on('end', () => s.end(`${name}:${Buffer.concat(got).toString()}`));
      s.on('error', () => undefined);
    });
    this.udp = createSocket('udp4');
    this.udp.on('message', (m, from) => this.udp.send(m, from.port, from.address));
  }

  static async start(name: string): Promise<HelperPod> {
    const pod = new HelperPod(name);
    await new Promise<void>((r) => pod.tcp.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => pod.udp.bind(0, '127.0.0.1', r));
    return pod;
  }

  port(protocol: TunnelProtocol): number {
    return protocol === 'tcp' ? (this.tcp.address() as net.AddressInfo).port : this.udp.address().port;
  }

  stop(): void {
    this.tcp.close();
    this.udp.close();
  }
}

export interface OpenedTunnel {
  helper: string;
  port: number;
  protocol: TunnelProtocol;
  ws: WebSocket;
  closed: boolean;
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString() || 'null')));
  });
}

export class StandInTunnelApi {
  private readonly server = http.createServer((req, res) => this.request(req, res));
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE_BYTES,
    handleProtocols: (offered) => (offered.has(TUNNEL_PROTOCOL) ? TUNNEL_PROTOCOL : false),
  });
  private readonly watchers = new Set<http.ServerResponse>();
  private rv = 1;
  pf: PortForward | undefined;
  readonly helpers = new Map<string, HelperPod>();
  /** Every WebSocket the gateway accepted, in order. */
  readonly tunnels: OpenedTunnel[] = [];
  /** When set, answers discovery of connect.portforward.io with 404 (not installed). */
  tunnelApiMissing = false;
  /** Refusals for the next upgrades, taken one each, as the gateway would answer them. */
  readonly refusals: { code: number; reason: string; message: string }[] = [];
  /** Services and pods by name, for forward's reads. */
  readonly services = new Map<string, V1Service>();
  readonly pods = new Map<string, V1Pod>();
  /** PortForwards created (as POSTed), deleted (names) and patched (bodies), in order. */
  readonly created: PortForward[] = [];
  readonly deleted: string[] = [];
  readonly patched: unknown[] = [];
  /** The Authorization header of each upgrade. */
  readonly authorizations: (string | undefined)[] = [];
  port = 0;

  async start(): Promise<void> {
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  stop(): void {
    for (const w of this.watchers) w.end();
    for (const t of this.tunnels) t.ws.terminate();
    this.server.closeAllConnections();
    this.server.close();
  }

  /** A kubeconfig for this server, built in memory as the brief for these tests asks. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'stand-in', server: `http://127.0.0.1:${this.port}`, skipTLSVerify: true }],
      users: [{ name: 'me', token: 'secret-token' }],
      contexts: [{ name: 'stand-in', cluster: 'stand-in', user: 'me', namespace: NAMESPACE }],
      currentContext: 'stand-in',
    });
    return kc;
  }

  /** Changes the PortForward and tells the watchers, as the operator's status writes would. */
  change(edit: (pf: PortForward) => void): void {
    const pf = this.pf as PortForward;
    edit(pf);
    pf.metadata.resourceVersion = String(++this.rv);
    for (const w of this.watchers) w.write(`${JSON.stringify({ type: 'MODIFIED', object: pf })}\n`);
  }

  get watching(): boolean {
    return this.watchers.size > 0;
  }

  private request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (code: number, body: string): void => void res.writeHead(code, { 'Content-Type': 'application/json' }).end(body);
    if (url.pathname === '/apis/connect.portforward.io/v1alpha1') {
      if (this.tunnelApiMissing) return json(404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      return json(200, JSON.stringify({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'connect.portforward.io/v1alpha1', resources: [] }));
    }
    if (url.pathname === PF_PATH && url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      this.watchers.add(res);
      res.on('close', () => this.watchers.delete(res));
      return;
    }
    const name = this.pf?.metadata.name;
    if (name && url.pathname === `${PF_PATH}/${name}`) {
      if (req.method === 'GET') return json(200, JSON.stringify(this.pf));
      if (req.method === 'DELETE') {
        this.deleted.push(name);
        const gone = this.pf;
        this.pf = undefined;
        for (const w of this.watchers) w.write(`${JSON.stringify({ type: 'DELETED', object: gone })}\n`);
        return json(200, statusBody(200, 'Success', 'deleted'));
      }
      if (req.method === 'PATCH') return void readJson(req).then((body) => (this.patched.push(body), json(200, JSON.stringify(this.pf))));
    }
    if (url.pathname === PF_PATH && req.method === 'POST') {
      return void readJson(req).then((body) => {
        const pf = body as PortForward;
        this.created.push(structuredClone(pf));
        pf.metadata.name = `${pf.metadata.generateName}x7k2p`;
        pf.metadata.resourceVersion = String(++this.rv);
        pf.metadata.uid = 'uid-created';
        this.pf = pf;
        json(201, JSON.stringify(pf));
      });
    }
    const core = /^\/api\/v1\/namespaces\/team-a\/(services|pods)(?:\/([^/]+))?$/.exec(url.pathname);
    if (core && req.method === 'GET') {
      const [, kind, objName] = core;
      const store: Map<string, unknown> = kind === 'services' ? this.services : this.pods;
      if (objName === undefined) return json(200, JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: {}, items: [...store.values()] }));
      const obj = store.get(objName);
      if (obj) return json(200, JSON.stringify(obj));
      return json(404, JSON.stringify({ kind: 'Status', code: 404, status: 'Failure', reason: 'NotFound', message: `${kind} "${objName}" not found`, details: { name: objName, kind } }));
    }
    json(404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
  }

  /** The portforward subresource, as the gateway serves it: the helper is resolved once, at the upgrade. */
  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const refuse = (code: number, reason: string, message: string): void => {
      const body = statusBody(code, reason, message);
      socket.end(`HTTP/1.1 ${code} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    this.authorizations.push(req.headers.authorization);
    const m = TUNNEL_PATH.exec(url.pathname);
    if (!m || !this.pf || m[1] !== this.pf.metadata.name) return refuse(404, 'NotFound', `PortForward "${m?.[1]}" not found in namespace "${NAMESPACE}"`);
    const refusal = this.refusals.shift();
    if (refusal) return refuse(refusal.code, refusal.reason, refusal.message);
    const port = Number(url.searchParams.get('port'));
    const protocol = url.searchParams.get('protocol') as TunnelProtocol;
    const helper = this.helpers.get(this.pf.status?.helper?.pod ?? '');
    if (!helper) return refuse(503, 'ServiceUnavailable', `PortForward ${NAMESPACE}/${this.pf.metadata.name}: its helper pod is gone or being replaced; try again in a moment`);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const tunnel: OpenedTunnel = { helper: helper.name, port, protocol, ws, closed: false };
      this.tunnels.push(tunnel);
      serveTunnel(ws, {
        endpoint: { host: '127.0.0.1', port: helper.port(protocol), helper: helper.name },
        protocol,
        maxStreams: 100,
        onClose: () => {
          tunnel.closed = true;
        },
      });
    });
  }
}
