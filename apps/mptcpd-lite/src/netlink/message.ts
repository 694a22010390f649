/**
 * Netlink framing (linux/netlink.h): nlmsghdr, NLMSG_ERROR/DONE, and the nlattr TLVs used by generic
 * netlink and sock_diag. Host byte order is little-endian on every Linux that Node supports here
 * (x64, arm64); network-order fields are read explicitly as big-endian by their users.
 */
import { errnoName } from '@mptcp/constants';
import { MptcpdLiteError } from '../errors.js';

export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;

export const NLA_HDRLEN = 4;
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Netlink protocols used here (linux/netlink.h). */
export const NETLINK_SOCK_DIAG = 4;
export const NETLINK_GENERIC = 16;

export const align4 = (n: number): number => (n + 3) & ~3;

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The payload after the 16-byte header. */
  payload: Buffer;
}

/** A netlink error reply (NLMSG_ERROR with a non-zero error): `code` the errno name, `errno` the positive number. */
export class NetlinkError extends MptcpdLiteError {
  declare readonly errno: number;
  constructor(errno: number, context: string) {
    const code = errnoName(errno);
    super(code, `${context}: ${code}`, { errno });
    this.name = 'NetlinkError';
  }
}

/** Builds one netlink message: header + payload (padded). */
export function encodeMessage(type: number, flags: number, payload: Buffer, seq = 1): Buffer {
  const len = NLMSG_HDRLEN + payload.length;
  const buf = Buffer.alloc(align4(len));
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(seq, 8);
  buf.writeUInt32LE(0, 12);
  payload.copy(buf, NLMSG_HDRLEN);
  return buf;
}

/**
 * Splits the reply buffers (each a datagram holding one or more messages, or one message each) into
 * messages. Stops at NLMSG_DONE; throws NetlinkError on an error reply; skips ACKs (error 0).
 */
export function decodeMessages(buffers: readonly Buffer[], context: string): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  for (const buf of buffers) {
    let off = 0;
    while (off + NLMSG_HDRLEN <= buf.length) {
      const len = buf.readUInt32LE(off);
      if (len < NLMSG_HDRLEN || off + len > buf.length)
        throw new Error(`${context}: truncated netlink message (len ${len} at ${off} of ${buf.length})`);
      const msg: NetlinkMessage = {
        type: buf.readUInt16LE(off + 4),
        flags: buf.readUInt16LE(off + 6),
        seq: buf.readUInt32LE(off + 8),
        pid: buf.readUInt32LE(off + 12),
        payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
      };
      off += align4(len);
      if (msg.type === NLMSG_DONE) return out;
      if (msg.type === NLMSG_NOOP) continue;
      if (msg.type === NLMSG_ERROR) {
        const errno = msg.payload.length >= 4 ? -msg.payload.readInt32LE(0) : 0;
        if (errno !== 0) throw new NetlinkError(errno, context);
        continue;
      }
      out.push(msg);
    }
  }
  return out;
}

export interface Attr {
  /** Type without the NESTED/NET_BYTEORDER flags. */
  type: number;
  data: Buffer;
}

/** Encodes one attribute (padded to 4 bytes). */
export function encodeAttr(type: number, data: Buffer): Buffer {
  const len = NLA_HDRLEN + data.length;
  const buf = Buffer.alloc(align4(len));
  buf.writeUInt16LE(len, 0);
  buf.writeUInt16LE(type, 2);
  data.copy(buf, NLA_HDRLEN);
  return buf;
}

export const attrU8 = (type: number, v: number): Buffer => encodeAttr(type, Buffer.from([v & 0xff]));
export function attrU16(type: number, v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return encodeAttr(type, b);
}
export function attrU32(type: number, v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return encodeAttr(type, b);
}
export const attrString = (type: number, s: string): Buffer =>
  encodeAttr(type, Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]));
export const attrNested = (type: number, children: Buffer[]): Buffer =>
  encodeAttr(type | NLA_F_NESTED, Buffer.concat(children));

/** Parses a run of attributes; a malformed tail is ignored (as libmnl's validation would reject it). */
export function parseAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  let off = 0;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    if (len < NLA_HDRLEN || off + len > buf.length) break;
    out.push({ type, data: buf.subarray(off + NLA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (the last one wins, as nla_parse does). */
export function attrMap(buf: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (const a of parseAttrs(buf)) m.set(a.type, a.data);
  return m;
}

export const readU8 = (b: Buffer | undefined): number | undefined => (b && b.length >= 1 ? b.readUInt8(0) : undefined);
export const readU16 = (b: Buffer | undefined): number | undefined =>
  b && b.length >= 2 ? b.readUInt16LE(0) : undefined;
export const readU32 = (b: Buffer | undefined): number | undefined =>
  b && b.length >= 4 ? b.readUInt32LE(0) : undefined;
export const readS32 = (b: Buffer | undefined): number | undefined =>
  b && b.length >= 4 ? b.readInt32LE(0) : undefined;
export const readU64 = (b: Buffer | undefined): bigint | undefined =>
  b && b.length >= 8 ? b.readBigUInt64LE(0) : undefined;
export function readString(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
}
