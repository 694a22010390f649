/**
 * The in-kernel MPTCP path manager over generic netlink `mptcp_pm` (linux/mptcp_pm.h): what
 * `ip mptcp limits show` and `ip mptcp endpoint show` print.
 */
import {
  MPTCP_PM_ADDR_FLAG_BACKUP,
  MPTCP_PM_ADDR_FLAG_FULLMESH,
  MPTCP_PM_ADDR_FLAG_IMPLICIT,
  MPTCP_PM_ADDR_FLAG_SIGNAL,
  MPTCP_PM_ADDR_FLAG_SUBFLOW,
  MPTCP_PM_NAME,
} from '@mptcp/constants';
import { decodeGenl, encodeGenl, resolveFamily, resolveFamilyOp } from './genl.js';
import { call, runAsync, runSync, type NetlinkOp } from './op.js';
import {
  attrMap,
  attrNested,
  attrU16,
  attrU32,
  attrU8,
  decodeMessages,
  encodeAttr,
  NETLINK_GENERIC,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  readS32,
  readU16,
  readU32,
  readU8,
} from './message.js';
import type { AsyncNetlinkTransport, NetlinkTransport } from './transport.js';
import { parseIPv4, parseIPv6 } from '@mptcp/unit';

export const MPTCP_PM_CMD_ADD_ADDR = 1;
export const MPTCP_PM_CMD_DEL_ADDR = 2;
export const MPTCP_PM_CMD_GET_ADDR = 3;
export const MPTCP_PM_CMD_FLUSH_ADDRS = 4;
export const MPTCP_PM_CMD_SET_LIMITS = 5;
export const MPTCP_PM_CMD_GET_LIMITS = 6;
export const MPTCP_PM_CMD_SET_FLAGS = 7;
/** The multicast group of path-manager events (`ip mptcp monitor`). */
export const MPTCP_PM_EVENTS_GROUP = 'mptcp_pm_events';
export const MPTCP_PM_ATTR_ADDR = 1;
export const MPTCP_PM_ATTR_RCV_ADD_ADDRS = 2;
export const MPTCP_PM_ATTR_SUBFLOWS = 3;
export const MPTCP_PM_ADDR_ATTR_FAMILY = 1;
export const MPTCP_PM_ADDR_ATTR_ID = 2;
export const MPTCP_PM_ADDR_ATTR_ADDR4 = 3;
export const MPTCP_PM_ADDR_ATTR_ADDR6 = 4;
export const MPTCP_PM_ADDR_ATTR_PORT = 5;
export const MPTCP_PM_ADDR_ATTR_FLAGS = 6;
export const MPTCP_PM_ADDR_ATTR_IF_IDX = 7;
const AF_INET = 2;
const AF_INET6 = 10;

export interface PmLimits {
  /** Max additional subflows per connection (`subflows`). */
  subflows: number;
  /** Max ADD_ADDR announcements accepted per connection (`add_addr_accepted`). */
  addAddrAccepted: number;
}

export interface PmEndpoint {
  id: number;
  address: string;
  family: 'inet' | 'inet6';
  port?: number;
  flags: string[];
  ifindex?: number;
  /** Interface name of `ifindex`, when the caller resolved it. */
  dev?: string | undefined;
}

const FLAG_NAMES: Array<[number, string]> = [
  [MPTCP_PM_ADDR_FLAG_SIGNAL, 'signal'],
  [MPTCP_PM_ADDR_FLAG_SUBFLOW, 'subflow'],
  [MPTCP_PM_ADDR_FLAG_BACKUP, 'backup'],
  [MPTCP_PM_ADDR_FLAG_FULLMESH, 'fullmesh'],
  [MPTCP_PM_ADDR_FLAG_IMPLICIT, 'implicit'],
];

export function pmFlagNames(flags: number): string[] {
  return FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

export function ipv4FromBE(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** RFC 5952 text form of a 16-byte IPv6 address (longest zero run compressed). */
export function ipv6FromBytes(b: Buffer): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return `::ffff:${ipv4FromBE(b.subarray(12, 16))}`;
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function decodeEndpoint(nested: Buffer): PmEndpoint | undefined {
  const a = attrMap(nested);
  const family = readU16(a.get(MPTCP_PM_ADDR_ATTR_FAMILY));
  const addr4 = a.get(MPTCP_PM_ADDR_ATTR_ADDR4);
  const addr6 = a.get(MPTCP_PM_ADDR_ATTR_ADDR6);
  let address: string;
  if (family === AF_INET && addr4 && addr4.length >= 4) address = ipv4FromBE(addr4);
  else if (family === AF_INET6 && addr6 && addr6.length >= 16) address = ipv6FromBytes(addr6);
  else return undefined;
  const port = a.get(MPTCP_PM_ADDR_ATTR_PORT);
  const ifindex = readS32(a.get(MPTCP_PM_ADDR_ATTR_IF_IDX));
  const ep: PmEndpoint = {
    id: readU8(a.get(MPTCP_PM_ADDR_ATTR_ID)) ?? 0,
    address,
    family: family === AF_INET ? 'inet' : 'inet6',
    flags: pmFlagNames(readU32(a.get(MPTCP_PM_ADDR_ATTR_FLAGS)) ?? 0),
  };
  // The port attribute is u16 in host order in the kernel's policy (NLA_U16).
  if (port && port.length >= 2 && port.readUInt16LE(0) !== 0) ep.port = port.readUInt16LE(0);
  if (ifindex !== undefined && ifindex > 0) ep.ifindex = ifindex;
  return ep;
}

export interface PathManagerState {
  familyId: number;
  limits: PmLimits;
  endpoints: PmEndpoint[];
}

/** Resolves `mptcp_pm`, then GET_LIMITS and a GET_ADDR dump. */
export function readPathManager(request: NetlinkTransport): PathManagerState {
  return runSync(readPathManagerOp(), request);
}

/** readPathManager without blocking the event loop. */
export function readPathManagerAsync(request: AsyncNetlinkTransport): Promise<PathManagerState> {
  return runAsync(readPathManagerOp(), request);
}

export function* readPathManagerOp(): NetlinkOp<PathManagerState> {
  const family = yield* resolveFamilyOp(MPTCP_PM_NAME);
  const version = family.version || 1;
  const limitsReply = decodeMessages(
    yield* call(NETLINK_GENERIC, encodeGenl(family.id, NLM_F_REQUEST, MPTCP_PM_CMD_GET_LIMITS, version, [])),
    'mptcp_pm get-limits',
  ).map(decodeGenl);
  const la = limitsReply[0]?.attrs;
  const limits: PmLimits = {
    subflows: readU32(la?.get(MPTCP_PM_ATTR_SUBFLOWS)) ?? 0,
    addAddrAccepted: readU32(la?.get(MPTCP_PM_ATTR_RCV_ADD_ADDRS)) ?? 0,
  };
  const dump = decodeMessages(
    yield* call(NETLINK_GENERIC, encodeGenl(family.id, NLM_F_REQUEST | NLM_F_DUMP, MPTCP_PM_CMD_GET_ADDR, version, [])),
    'mptcp_pm get-addr',
  ).map(decodeGenl);
  const endpoints: PmEndpoint[] = [];
  for (const m of dump) {
    const nested = m.attrs.get(MPTCP_PM_ATTR_ADDR);
    const ep = nested ? decodeEndpoint(nested) : undefined;
    if (ep) endpoints.push(ep);
  }
  return { familyId: family.id, limits, endpoints };
}

/** Endpoint flag names accepted by add/flag, with their bits (as `ip mptcp endpoint` spells them). */
export const PM_FLAG_BITS: Readonly<Record<string, number>> = {
  signal: MPTCP_PM_ADDR_FLAG_SIGNAL,
  subflow: MPTCP_PM_ADDR_FLAG_SUBFLOW,
  backup: MPTCP_PM_ADDR_FLAG_BACKUP,
  fullmesh: MPTCP_PM_ADDR_FLAG_FULLMESH,
};

/** Flag names → bits; an unknown name throws with the list of valid ones. */
export function pmFlagBits(names: readonly string[]): number {
  let bits = 0;
  for (const n of names) {
    const b = PM_FLAG_BITS[n];
    if (b === undefined)
      throw new Error(`unknown endpoint flag "${n}" (valid: ${Object.keys(PM_FLAG_BITS).join(', ')})`);
    bits |= b;
  }
  return bits;
}

/** An endpoint to add, or the key of one to change/remove (id, or address when id is 0/absent). */
export interface EndpointSpec {
  id?: number;
  address?: string;
  port?: number;
  flags?: number;
  ifindex?: number;
}

function ipBytes(address: string): { family: number; attr: Buffer } {
  // @mptcp/unit's inet_pton, not node:net's isIP: node:net would load the stream modules with it.
  const v = parseIPv4(address) ? 4 : parseIPv6(address.split('%')[0] ?? '') ? 6 : 0;
  if (v === 4)
    return { family: AF_INET, attr: encodeAttr(MPTCP_PM_ADDR_ATTR_ADDR4, Buffer.from(address.split('.').map(Number))) };
  if (v === 6) return { family: AF_INET6, attr: encodeAttr(MPTCP_PM_ADDR_ATTR_ADDR6, ipv6ToBytes(address)) };
  throw new Error(`not an IP address: ${address}`);
}

/** 16 bytes of an IPv6 address in text form (with :: and an embedded IPv4 tail). */
export function ipv6ToBytes(text: string): Buffer {
  let s = text.split('%')[0] ?? text;
  let tail: number[] = [];
  const m = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (m) {
    const [b0, b1, b2, b3] = [m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number];
    tail = [(b0 << 8) | b1, (b2 << 8) | b3];
    const prefix = m[1] ?? '';
    s = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const parse = (p: string | undefined): number[] =>
    p
      ? p
          .split(':')
          .filter((x) => x !== '')
          .map((x) => parseInt(x, 16))
      : [];
  const parts = s.split('::');
  const h = parse(parts[0]);
  const words =
    parts.length === 1
      ? [...h, ...tail]
      : (() => {
          const r = parse(parts[1]);
          return [
            ...h,
            ...new Array<number>(Math.max(0, 8 - h.length - r.length - tail.length)).fill(0),
            ...r,
            ...tail,
          ];
        })();
  if (words.length !== 8 || words.some((w) => !(w >= 0 && w <= 0xffff)))
    throw new Error(`not an IPv6 address: ${text}`);
  const buf = Buffer.alloc(16);
  words.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}

/** The nested MPTCP_PM_ATTR_ADDR of a request. */
export function encodeEndpoint(spec: EndpointSpec): Buffer {
  const children: Buffer[] = [];
  if (spec.address !== undefined) {
    const { family, attr } = ipBytes(spec.address);
    children.push(attrU16(MPTCP_PM_ADDR_ATTR_FAMILY, family), attr);
  }
  if (spec.id !== undefined) children.push(attrU8(MPTCP_PM_ADDR_ATTR_ID, spec.id));
  if (spec.port !== undefined) children.push(attrU16(MPTCP_PM_ADDR_ATTR_PORT, spec.port));
  if (spec.flags !== undefined) children.push(attrU32(MPTCP_PM_ADDR_ATTR_FLAGS, spec.flags));
  if (spec.ifindex !== undefined) children.push(attrU32(MPTCP_PM_ADDR_ATTR_IF_IDX, spec.ifindex));
  return attrNested(MPTCP_PM_ATTR_ADDR, children);
}

/** The path manager's write side: what `ip mptcp endpoint add/delete/change/flush` and `limits set` do. */
export class PathManager {
  private constructor(
    private readonly request: NetlinkTransport,
    readonly familyId: number,
    readonly version: number,
    readonly groups: Map<string, number>,
  ) {}

  static open(request: NetlinkTransport): PathManager {
    const f = resolveFamily(request, MPTCP_PM_NAME);
    return new PathManager(request, f.id, f.version || 1, f.groups);
  }

  private call(cmd: number, attrs: Buffer[], context: string): void {
    decodeMessages(
      this.request(NETLINK_GENERIC, encodeGenl(this.familyId, NLM_F_REQUEST | NLM_F_ACK, cmd, this.version, attrs)),
      context,
    );
  }

  read(): PathManagerState {
    return readPathManager(this.request);
  }

  add(spec: EndpointSpec): void {
    this.call(MPTCP_PM_CMD_ADD_ADDR, [encodeEndpoint(spec)], `mptcp_pm add endpoint ${spec.address ?? ''}`);
  }

  remove(spec: EndpointSpec): void {
    // The kernel finds the endpoint by id; id 0 (the implicit initial-subflow address) also needs the address.
    this.call(
      MPTCP_PM_CMD_DEL_ADDR,
      [encodeEndpoint({ id: spec.id ?? 0, ...(spec.address !== undefined ? { address: spec.address } : {}) })],
      `mptcp_pm delete endpoint ${spec.id ?? spec.address ?? ''}`,
    );
  }

  setFlags(spec: EndpointSpec): void {
    this.call(
      MPTCP_PM_CMD_SET_FLAGS,
      [encodeEndpoint(spec)],
      `mptcp_pm change endpoint ${spec.id ?? spec.address ?? ''}`,
    );
  }

  flush(): void {
    this.call(MPTCP_PM_CMD_FLUSH_ADDRS, [], 'mptcp_pm flush endpoints');
  }

  setLimits(limits: Partial<PmLimits>): void {
    const attrs: Buffer[] = [];
    if (limits.addAddrAccepted !== undefined) attrs.push(attrU32(MPTCP_PM_ATTR_RCV_ADD_ADDRS, limits.addAddrAccepted));
    if (limits.subflows !== undefined) attrs.push(attrU32(MPTCP_PM_ATTR_SUBFLOWS, limits.subflows));
    this.call(MPTCP_PM_CMD_SET_LIMITS, attrs, 'mptcp_pm set limits');
  }
}
