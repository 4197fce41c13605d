// The tunnel API's HTTPS server, behind kube-apiserver's aggregation layer. Each request is, in
// order: routed, checked to come from the front proxy, authorized for its user, resolved to the
// PortForward's helper, then carried (a WebSocket tunnel, or one proxied HTTP request).
import { createServer, type Server } from 'node:https';
import { DEFAULT_CIPHERS } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AuthorizationV1Api } from '@kubernetes/client-node';
import { WebSocketServer } from 'ws';
import type { Logger } from 'winston';
import { GROUP as PORTFORWARD_GROUP, PLURAL } from '../api/index.js';
import { describeError } from '../kube/errors.js';
import { API_GROUP, MAX_MESSAGE_BYTES, TUNNEL_PROTOCOL, type TunnelProtocol } from '../tunnel/protocol.js';
import { authorize, type Access } from './authorize.js';
import type { GatewayConfig } from './config.js';
import { identify, withoutIdentityHeaders, type FrontProxySettings, type User } from './front-proxy.js';
import { proxyHttp, redirectPage } from './proxy.js';
import { readPortForward, Refusal, resolveEndpoint, type ResolveApis } from './resolve.js';
import { route, tunnelView, type Route } from './routes.js';
import { serveTunnel } from './tunnel.js';
import { UserTunnels } from './user-tunnels.js';

export interface GatewayApis extends ResolveApis {
  authorization: AuthorizationV1Api;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  /** The front proxy's CA: client certificates are checked against it. */
  clientCa: string;
}

const PROXY_VERBS: Record<string, string> = { GET: 'get', HEAD: 'get', OPTIONS: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

export function statusBody(code: number, reason: string, message: string): string {
  return JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

function readPortProtocol(url: URL): { port: number; protocol: TunnelProtocol } {
  const portText = url.searchParams.get('port') ?? '';
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : 0;
  if (port < 1 || port > 65535) throw new Refusal(400, 'BadRequest', `query parameter port must be a port number of the PortForward, not "${portText}"`);
  const protocol = (url.searchParams.get('protocol') ?? 'tcp').toLowerCase();
  if (protocol !== 'tcp' && protocol !== 'udp') throw new Refusal(400, 'BadRequest', `query parameter protocol must be tcp or udp, not "${protocol}"`);
  return { port, protocol };
}

/** The rights a request needs (the contract): its verb here, and reading the PortForward itself. */
function rightsFor(r: { namespace: string; name: string }, verb: string, subresource?: 'portforward' | 'proxy'): Access[] {
  return [
    { verb, group: API_GROUP, resource: 'portforwards', subresource, namespace: r.namespace, name: r.name },
    { verb: 'get', group: PORTFORWARD_GROUP, resource: PLURAL, namespace: r.namespace, name: r.name },
  ];
}

/**
 * Node's default list with AES-128-GCM first. A Node server picks by its own order, which puts
 * AES-256 first; the API server (Go, the only client) prefers AES-128, which takes fewer AES rounds
 * per byte on both ends of every tunnel.
 */
export const SERVER_CIPHERS = ['TLS_AES_128_GCM_SHA256', ...DEFAULT_CIPHERS.split(':').filter((c) => c !== 'TLS_AES_128_GCM_SHA256')].join(':');

export class Gateway {
  readonly server: Server;
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_MESSAGE_BYTES,
    handleProtocols: (offered) => (offered.has(TUNNEL_PROTOCOL) ? TUNNEL_PROTOCOL : false),
  });
  private readonly userTunnels: UserTunnels;
  private frontProxy: FrontProxySettings;

  constructor(
    private readonly config: GatewayConfig,
    private readonly apis: GatewayApis,
    private readonly log: Logger,
    tls: TlsMaterial,
    frontProxy: FrontProxySettings,
  ) {
    this.frontProxy = frontProxy;
    this.userTunnels = new UserTunnels(config.maxTunnelsPerUser);
    this.server = createServer({ ...this.secureOptions(tls), requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    this.server.headersTimeout = 30_000;
    this.server.requestTimeout = 0; // proxied requests and tunnels may last
    this.server.on('request', (req, res) => void this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => void this.onUpgrade(req, socket, head));
    this.server.on('tlsClientError', (err) => this.log.debug('TLS handshake failed', { error: err.message }));
  }

  get openTunnels(): number {
    return this.userTunnels.total;
  }

  /** New certificate or front-proxy CA: new connections use it, open ones keep theirs. */
  update(tls: TlsMaterial, frontProxy: FrontProxySettings): void {
    this.frontProxy = frontProxy;
    this.server.setSecureContext(this.secureOptions(tls));
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops taking requests and ends open tunnels; clients open their next connection elsewhere. */
  close(): void {
    this.server.close();
    for (const ws of this.wss.clients) ws.close(1001, 'gateway shutting down');
  }

  private secureOptions(tls: TlsMaterial) {
    return { cert: tls.cert, key: tls.key, ca: tls.clientCa, ciphers: SERVER_CIPHERS };
  }

  /** Routes and authenticates; throws a Refusal the caller turns into a Status. */
  private admit(req: IncomingMessage): { url: URL; route: Exclude<Route, { kind: 'notFound' }>; user: User | undefined } {
    const url = new URL(req.url ?? '/', 'https://gateway.invalid');
    const r = route(url.pathname);
    const who = identify(req, this.frontProxy);
    if (!who.ok && !(r.kind === 'discovery' && who.why.startsWith('the front proxy sent no user'))) {
      throw new Refusal(401, 'Unauthorized', who.why);
    }
    if (r.kind === 'notFound') throw new Refusal(404, 'NotFound', `the tunnel API serves no ${url.pathname}`);
    return { url, route: r, user: who.ok ? who.user : undefined };
  }

  private async check(user: User | undefined, rights: Access[]): Promise<User> {
    if (!user) throw new Refusal(401, 'Unauthorized', 'the front proxy sent no user name');
    const decision = await authorize(this.apis.authorization, user, rights);
    if (!decision.allowed) throw new Refusal(403, 'Forbidden', decision.message);
    return user;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fail = (code: number, reason: string, message: string): void => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(statusBody(code, reason, message));
    };
    try {
      const { url, route: r, user } = this.admit(req);
      if (r.kind === 'discovery') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify(r.body));
      }
      if (r.kind === 'object') {
        if (req.method !== 'GET') throw new Refusal(405, 'MethodNotAllowed', 'PortForwards are changed through portforward.io; this API only reads them');
        await this.check(user, rightsFor(r, 'get'));
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify(tunnelView(await readPortForward(this.apis, r.namespace, r.name))));
      }
      if (r.kind === 'portforward') {
        throw new Refusal(400, 'BadRequest', `the portforward subresource is a WebSocket (sub-protocol ${TUNNEL_PROTOCOL}): use kubectl pf connect`);
      }
      if (r.port === undefined) {
        throw new Refusal(404, 'NotFound', `name the port in the path: .../portforwards/${r.name}/proxy/PORT/`);
      }
      if (r.rest === '/' && !url.pathname.endsWith('/') && (req.headers.accept ?? '').includes('text/html')) {
        // A browser at .../proxy/8080 moves to .../proxy/8080/, so the page's relative links keep the port.
        return redirectPage(res, 301, `${url.pathname.split('/').pop()}/${url.search}`);
      }
      const verb = PROXY_VERBS[req.method ?? ''];
      if (!verb) throw new Refusal(405, 'MethodNotAllowed', `method ${req.method} is not proxied`);
      await this.check(user, rightsFor(r, verb, 'proxy'));
      const endpoint = await resolveEndpoint(this.apis, this.config.helperNamespace, { namespace: r.namespace, name: r.name, port: r.port, protocol: 'tcp' });
      const basePath = url.pathname.slice(0, url.pathname.length - r.rest.length + 1);
      const headers = withoutIdentityHeaders(req.headers, this.frontProxy);
      proxyHttp(req, res, { endpoint, path: r.rest, query: url.search, basePath, headers }, (m) => fail(502, 'BadGateway', m));
    } catch (err) {
      const refusal = this.asRefusal(err, req);
      fail(refusal.code, refusal.reason, refusal.message);
    }
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    let release: (() => void) | undefined;
    try {
      const { url, route: r, user: claimed } = this.admit(req);
      if (r.kind !== 'portforward') throw new Refusal(400, 'BadRequest', `only the portforward subresource upgrades to a WebSocket`);
      const { port, protocol } = readPortProtocol(url);
      const user = await this.check(claimed, rightsFor(r, 'create', 'portforward'));
      release = this.userTunnels.take(user.name);
      const endpoint = await resolveEndpoint(this.apis, this.config.helperNamespace, { namespace: r.namespace, name: r.name, port, protocol });
      const what = { user: user.name, namespace: r.namespace, portforward: r.name, port, protocol, helper: endpoint.helper };
      const done = release;
      release = undefined;
      // ws drops an upgrade whose client left while it was authorized and resolved (or a malformed
      // one) without calling back, so the user's slot goes with the socket, not only with the tunnel.
      if (socket.destroyed) return done();
      socket.once('close', done);
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.log.info('tunnel opened', what);
        serveTunnel(ws, {
          endpoint,
          protocol,
          maxStreams: this.config.maxStreamsPerTunnel,
          onClose: (why) => {
            done();
            this.log.info('tunnel closed', { ...what, why });
          },
        });
      });
    } catch (err) {
      release?.();
      const refusal = this.asRefusal(err, req);
      const body = statusBody(refusal.code, refusal.reason, refusal.message);
      socket.end(
        `HTTP/1.1 ${refusal.code} ${refusal.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
  }

  private asRefusal(err: unknown, req: IncomingMessage): Refusal {
    if (err instanceof Refusal) {
      if (err.code === 401) this.log.warn('request refused: not from the front proxy', { path: req.url, why: err.message, from: req.socket.remoteAddress });
      return err;
    }
    const described = describeError(err);
    this.log.error('request failed', { path: req.url, error: described });
    return new Refusal(500, 'InternalError', `the tunnel gateway could not serve this: ${described.message}`);
  }
}
