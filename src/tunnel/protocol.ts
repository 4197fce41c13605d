// The tunnel API's wire format, shared by the gateway and `kubectl pf connect`.
//
// One WebSocket (sub-protocol TUNNEL_PROTOCOL) carries one port of one PortForward. Every binary
// message is one frame: a type byte, a 32-bit stream id (big endian), then the payload. A TCP
// tunnel carries many connections, one stream each, opened by the client; a UDP tunnel carries
// datagrams, the id naming the client's local sender so replies find their way back.
//
// Each side may send at most a window of DATA on a stream before the other side returns CREDIT for
// what it has written out (INITIAL_STREAM_WINDOW, grown by the receiver as the stream flows). A reader that stalls thus stops only its own stream: the
// WebSocket is always read, so no connection waits behind another (no head-of-line blocking).

export const API_GROUP = 'connect.portforward.io';
export const API_VERSION = 'v1alpha1';
export const TUNNEL_PROTOCOL = 'v1.tunnel.portforward.io';

export const FRAME = {
  /** client -> gateway: open stream `id` to the tunnel's port. */
  open: 1,
  /** bytes of a stream */
  data: 2,
  /** the sender will send no more on this stream (TCP half-close) */
  end: 3,
  /** the stream is over, abruptly; payload: why, in UTF-8 */
  reset: 4,
  /** payload: u32, bytes the receiver has written out since its last CREDIT */
  credit: 5,
  /** one UDP datagram, boundaries kept; id: the client's local sender */
  datagram: 6,
} as const;
export type FrameType = (typeof FRAME)[keyof typeof FRAME];

const TYPES = new Set<number>(Object.values(FRAME));
export const HEADER_BYTES = 5;
/**
 * Bytes a side may send on a new stream before it hears CREDIT. The receiver grows a stream's window
 * as it consumes (each CREDIT may grant more than was consumed), up to MAX_STREAM_WINDOW: a bulk
 * transfer through the API server needs megabytes in flight, a thousand idle streams must not.
 */
export const INITIAL_STREAM_WINDOW = 256 * 1024;
export const MAX_STREAM_WINDOW = 16 << 20;
/** What all streams of one tunnel may grow by together: the receiver's memory bound per tunnel. */
export const TUNNEL_WINDOW_GROWTH = 32 << 20;
/** The largest DATA payload a side sends; bigger reads are split. */
export const MAX_DATA_BYTES = 64 * 1024;
/** The largest message either side accepts: a full DATA frame (a UDP datagram is at most 65535 bytes). */
export const MAX_MESSAGE_BYTES = HEADER_BYTES + MAX_DATA_BYTES;

export interface Frame {
  type: FrameType;
  id: number;
  payload: Buffer;
}

export function encodeFrame(type: FrameType, id: number, payload?: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const frame = Buffer.allocUnsafe(HEADER_BYTES + (body?.length ?? 0));
  frame[0] = type;
  frame.writeUInt32BE(id, 1);
  body?.copy(frame, HEADER_BYTES);
  return frame;
}

export function encodeCredit(id: number, bytes: number): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + 4);
  frame[0] = FRAME.credit;
  frame.writeUInt32BE(id, 1);
  frame.writeUInt32BE(bytes, HEADER_BYTES);
  return frame;
}

/** The frame in one message, or undefined for one that is too short or of an unknown type. */
export function decodeFrame(message: Buffer): Frame | undefined {
  if (message.length < HEADER_BYTES) return undefined;
  const type = message[0] as number;
  if (!TYPES.has(type)) return undefined;
  return { type: type as FrameType, id: message.readUInt32BE(1), payload: message.subarray(HEADER_BYTES) };
}

export type TunnelProtocol = 'tcp' | 'udp';

/** The API path of a PortForward's subresource in the tunnel API. */
export function subresourcePath(namespace: string, name: string, subresource: 'portforward' | 'proxy'): string {
  return `/apis/${API_GROUP}/${API_VERSION}/namespaces/${encodeURIComponent(namespace)}/portforwards/${encodeURIComponent(name)}/${subresource}`;
}

/** The tunnel to one port: `.../portforward?port=P&protocol=tcp|udp`. */
export function tunnelPath(namespace: string, name: string, port: number, protocol: TunnelProtocol): string {
  return `${subresourcePath(namespace, name, 'portforward')}?port=${port}&protocol=${protocol}`;
}

/** HTTP to one port: `.../proxy/PORT/` (the port is a path segment, so relative links keep it). */
export function proxyPath(namespace: string, name: string, port: number): string {
  return `${subresourcePath(namespace, name, 'proxy')}/${port}/`;
}
