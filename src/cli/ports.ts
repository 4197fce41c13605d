// Port and address syntax of the plugin. Pure: errors are UsageErrors with one line for the user.
//
//   connect:  [LOCAL:]REMOTE[/tcp|/udp]   as kubectl/oc port-forward: 5000, 8888:5000, :5000, 0:5000, 5353/udp
//   forward:  the same, REMOTE may also be a port's name         8080:http, 53/udp
//   create:   [PORT:]TARGETPORT[/tcp|/udp]                      8080, 10080:80, 5353/udp
//   --address localhost | IP[,IP...]                             as kubectl port-forward --address
import { isIP } from 'node:net';
import type { TunnelProtocol } from '../tunnel/protocol.js';
import { UsageError } from './args.js';
import { PORT_NAME as SPEC_PORT_NAME } from '../api/index.js';

/** A local port (0 = let the OS choose) forwarded to a port of the PortForward. */
export interface ForwardedPort {
  local: number;
  remote: number;
  protocol: TunnelProtocol;
  /** For a Service target: the Service port that leads to `remote` (the PortForward's targetPort). */
  servicePort?: number;
}

/** A forward's port as typed, before its REMOTE (a number or a port's name) is resolved on the target. */
export interface TargetForwardPort {
  /** undefined: the same as REMOTE once it is a number (kubectl's rule for named ports). */
  local?: number;
  remote: number | string;
  protocol: TunnelProtocol;
}

/** One entry of a PortForward's spec.ports, as --port builds it. */
export interface TunnelPort {
  port: number;
  /** A number, or a port's name (a container port's, or for a Service target the Service port's). */
  targetPort?: number | string;
  protocol: 'TCP' | 'UDP';
}

/**
 * A local address to listen on. `required` is false for the two addresses `localhost` stands for:
 * as in kubectl, a port fails only when neither of them can be bound (a host without IPv6 still works).
 */
export interface ListenAddress {
  host: string;
  family: 4 | 6;
  required: boolean;
}

const DIGITS = /^\d+$/;

/**
 * Parses one port number of an argument; `what` names it in the message ("local port", "port"...),
 * `argument` names the argument ("port" for connect's, "--port" for create's).
 */
function portNumber(text: string, whole: string, what: string, allowZero: boolean, syntax: string, argument = 'port'): number {
  const invalid = `invalid ${argument} "${whole}"`;
  if (text === '') throw new UsageError(`${invalid}: the ${what} is missing; use ${syntax}`);
  if (!DIGITS.test(text)) throw new UsageError(`${invalid}: "${text}" is not a number; use ${syntax}`);
  const n = Number(text);
  if (n > 65535 || (n === 0 && !allowZero)) {
    const range = allowZero ? '0-65535 (0 picks a free port)' : '1-65535';
    throw new UsageError(`${invalid}: the ${what} must be ${range}, not ${text}`);
  }
  return n;
}

const FORWARD_SYNTAX = '[LOCAL:]REMOTE[/udp], e.g. 5000, 8888:5000, :5000 or 5353/udp';
const TARGET_SYNTAX = '[LOCAL:]REMOTE[/udp], e.g. 5000, 8888:5000, 8080:http or 53/udp';
/** A port's name as Kubernetes allows it (IANA_SVC_NAME): lowercase letters, digits and '-', at least one letter. */
const PORT_NAME = /^(?=.*[a-z])(?!.*--)[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

/** Splits a `/tcp` or `/udp` suffix off an argument; `argument` names it in the message. */
function splitProtocol(text: string, argument: string): { body: string; protocol: TunnelProtocol } {
  const slash = text.indexOf('/');
  if (slash === -1) return { body: text, protocol: 'tcp' };
  const proto = text.slice(slash + 1).toLowerCase();
  if (proto !== 'tcp' && proto !== 'udp') {
    throw new UsageError(`invalid ${argument} "${text}": protocol must be tcp or udp, not "${text.slice(slash + 1)}"`);
  }
  return { body: text.slice(0, slash), protocol: proto };
}

/** Splits `[LOCAL:]REMOTE`; `local` is undefined when there is no ':'. */
function splitLocal(text: string, body: string, syntax: string): { localText?: string; remoteText: string } {
  if (text === '') throw new UsageError(`invalid port "": empty; use ${syntax}`);
  const parts = body.split(':');
  if (parts.length > 2) throw new UsageError(`invalid port "${text}": too many ':'; use ${syntax}`);
  return parts.length === 1 ? { remoteText: body } : { localText: parts[0] as string, remoteText: parts[1] as string };
}

/** `5000` -> 5000:5000; `8888:5000`; `:5000` and `0:5000` -> a free local port chosen by the OS; `/udp` for UDP. */
export function parseForwardPort(text: string): ForwardedPort {
  const { body, protocol } = splitProtocol(text, 'port');
  const { localText, remoteText } = splitLocal(text, body, FORWARD_SYNTAX);
  if (localText === undefined) {
    const port = portNumber(remoteText, text, 'port', false, FORWARD_SYNTAX);
    return { local: port, remote: port, protocol };
  }
  const remote = portNumber(remoteText, text, 'remote port', false, FORWARD_SYNTAX);
  const local = localText === '' ? 0 : portNumber(localText, text, 'local port', true, FORWARD_SYNTAX);
  return { local, remote, protocol };
}

/** As parseForwardPort, but REMOTE may name a port (`http`, `8080:http`), as kubectl port-forward allows. */
export function parseTargetForwardPort(text: string): TargetForwardPort {
  const { body, protocol } = splitProtocol(text, 'port');
  const { localText, remoteText } = splitLocal(text, body, TARGET_SYNTAX);
  const what = localText === undefined ? 'port' : 'remote port';
  let remote: number | string;
  if (remoteText !== '' && !DIGITS.test(remoteText)) {
    if (!PORT_NAME.test(remoteText)) {
      throw new UsageError(`invalid port "${text}": "${remoteText}" is neither a port number nor a port name; use ${TARGET_SYNTAX}`);
    }
    remote = remoteText;
  } else {
    remote = portNumber(remoteText, text, what, false, TARGET_SYNTAX);
  }
  if (localText === undefined) return { remote, protocol };
  const local = localText === '' ? 0 : portNumber(localText, text, 'local port', true, TARGET_SYNTAX);
  return { local, remote, protocol };
}

const TUNNEL_SYNTAX = '[PORT:]TARGETPORT[/tcp|/udp], e.g. 8080, 10080:80, 10080:http or 5353/udp';

/** `8080` -> port 8080 to target 8080; `10080:80` -> port 10080 to target 80; `/udp` or `/tcp` suffix. */
export function parseTunnelPort(text: string): TunnelPort {
  if (text === '') throw new UsageError(`invalid --port "": empty; use ${TUNNEL_SYNTAX}`);
  const split = splitProtocol(text, '--port');
  const body = split.body;
  const protocol = split.protocol === 'udp' ? 'UDP' : 'TCP';
  const parts = body.split(':');
  if (parts.length > 2) throw new UsageError(`invalid --port "${text}": too many ':'; use ${TUNNEL_SYNTAX}`);
  const number = (part: string, what: string) => portNumber(part, text, what, false, TUNNEL_SYNTAX, '--port');
  if (parts.length === 1) return { port: number(body, 'port'), protocol };
  const port = number(parts[0] as string, 'port');
  // TARGETPORT may be a port's name, as in a manifest: the operator looks it up on the target.
  const targetPort = new RegExp(SPEC_PORT_NAME).test(parts[1] as string) ? (parts[1] as string) : number(parts[1] as string, 'target port');
  return targetPort === port ? { port, protocol } : { port, targetPort, protocol };
}

/**
 * --address values, as kubectl port-forward takes them: `localhost` (127.0.0.1 and ::1) or IP
 * addresses, comma-separated or repeated. Duplicates are dropped, order is kept.
 */
export function parseAddresses(values: readonly string[]): ListenAddress[] {
  const result: ListenAddress[] = [];
  const add = (a: ListenAddress): void => {
    const same = result.find((r) => r.host === a.host);
    if (!same) result.push(a);
    else if (a.required) same.required = true;
  };
  const list = values.length === 0 ? ['localhost'] : values;
  for (const raw of list) {
    const value = raw.trim();
    if (value === 'localhost') {
      add({ host: '127.0.0.1', family: 4, required: false });
      add({ host: '::1', family: 6, required: false });
      continue;
    }
    const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
    const family = isIP(bare);
    if (family === 0) {
      throw new UsageError(`invalid --address "${value}": use localhost or IP addresses, e.g. --address 127.0.0.1,::1 or --address 0.0.0.0`);
    }
    add({ host: bare, family: family as 4 | 6, required: true });
  }
  return result;
}

/** How kubectl prints a listening address: 127.0.0.1:8888, [::1]:8888. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
