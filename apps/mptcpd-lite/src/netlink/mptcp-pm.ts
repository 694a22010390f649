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
import { decodeGenl, encodeGenl, resolveFamily } from './genl.js';
import { attrMap, decodeMessages, NETLINK_GENERIC, NLM_F_DUMP, NLM_F_REQUEST, readS32, readU16, readU32, readU8 } from './message.js';
import type { NetlinkTransport } from './transport.js';

export const MPTCP_PM_CMD_GET_ADDR = 3;
export const MPTCP_PM_CMD_GET_LIMITS = 6;
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
  for (let i = 0; i < 8; ) {
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
  const family = resolveFamily(request, MPTCP_PM_NAME);
  const version = family.version || 1;
  const limitsReply = decodeMessages(request(NETLINK_GENERIC, encodeGenl(family.id, NLM_F_REQUEST, MPTCP_PM_CMD_GET_LIMITS, version, [])), 'mptcp_pm get-limits').map(decodeGenl);
  const la = limitsReply[0]?.attrs;
  const limits: PmLimits = {
    subflows: readU32(la?.get(MPTCP_PM_ATTR_SUBFLOWS)) ?? 0,
    addAddrAccepted: readU32(la?.get(MPTCP_PM_ATTR_RCV_ADD_ADDRS)) ?? 0,
  };
  const dump = decodeMessages(request(NETLINK_GENERIC, encodeGenl(family.id, NLM_F_REQUEST | NLM_F_DUMP, MPTCP_PM_CMD_GET_ADDR, version, [])), 'mptcp_pm get-addr').map(decodeGenl);
  const endpoints: PmEndpoint[] = [];
  for (const m of dump) {
    const nested = m.attrs.get(MPTCP_PM_ATTR_ADDR);
    const ep = nested ? decodeEndpoint(nested) : undefined;
    if (ep) endpoints.push(ep);
  }
  return { familyId: family.id, limits, endpoints };
}
