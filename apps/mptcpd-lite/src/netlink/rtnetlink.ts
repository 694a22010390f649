/**
 * rtnetlink (linux/rtnetlink.h): the links, addresses and routes of this network namespace, as
 * `ip link`, `ip addr` and `ip route` dump them, and the multicast groups that announce changes.
 */
import { attrMap, decodeMessages, encodeMessage, NLM_F_DUMP, NLM_F_REQUEST, readString, readU32 } from './message.js';
import { ipv4FromBE, ipv6FromBytes } from './mptcp-pm.js';
import { call, runAsync, runSync, type NetlinkOp } from './op.js';
import type { AsyncNetlinkTransport, NetlinkTransport } from './transport.js';

export const NETLINK_ROUTE = 0;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

/** Multicast groups (enum rtnetlink_groups). */
export const RTNLGRP_LINK = 1;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV4_ROUTE = 7;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_IPV6_ROUTE = 11;

const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_INET6 = 10;
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_LOWER_UP = 0x10000;
const IFLA_IFNAME = 3;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_FLAGS = 8;
const IFA_F_TENTATIVE = 0x40;
const IFA_F_DADFAILED = 0x08;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_HOST = 254;
const RTA_OIF = 4;
const RTA_MULTIPATH = 9;
const RTA_TABLE = 15;
const RT_TABLE_LOCAL = 255;
const RTN_UNICAST = 1;

export interface Link {
  index: number;
  name: string;
  up: boolean;
  /** Carrier (IFF_LOWER_UP). */
  lowerUp: boolean;
  loopback: boolean;
}

export interface IfAddress {
  index: number;
  family: 'inet' | 'inet6';
  address: string;
  prefixLen: number;
  scope: number;
  /** Tentative or DAD-failed (IPv6): not usable yet. */
  tentative: boolean;
}

export interface Route {
  family: 'inet' | 'inet6';
  table: number;
  /** Destination prefix length (0 = a default route). */
  dstLen: number;
  /** Output interfaces (several for a multipath route). */
  oifs: number[];
}

function* dump(type: number, family: number, headerLen: number, context: string): NetlinkOp<Buffer[]> {
  const hdr = Buffer.alloc(headerLen);
  hdr.writeUInt8(family, 0);
  const replies = yield* call(NETLINK_ROUTE, encodeMessage(type, NLM_F_REQUEST | NLM_F_DUMP, hdr));
  return decodeMessages(replies, context).map((m) => m.payload);
}

/** Decodes a struct ifinfomsg (+ attributes). */
export function decodeLink(p: Buffer): Link | undefined {
  if (p.length < 16) return undefined;
  const flags = p.readUInt32LE(8);
  const a = attrMap(p.subarray(16));
  const index = p.readInt32LE(4);
  return {
    index,
    name: readString(a.get(IFLA_IFNAME)) ?? `if${index}`,
    up: (flags & IFF_UP) !== 0,
    lowerUp: (flags & IFF_LOWER_UP) !== 0,
    loopback: (flags & IFF_LOOPBACK) !== 0,
  };
}

/** Decodes a struct ifaddrmsg (+ attributes). */
export function decodeAddress(p: Buffer): IfAddress | undefined {
  if (p.length < 8) return undefined;
  const fam = p.readUInt8(0);
  if (fam !== AF_INET && fam !== AF_INET6) return undefined;
  const a = attrMap(p.subarray(8));
  // IPv4: IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on point-to-point links).
  const raw = fam === AF_INET ? (a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS)) : (a.get(IFA_ADDRESS) ?? a.get(IFA_LOCAL));
  if (!raw) return undefined;
  const flags = readU32(a.get(IFA_FLAGS)) ?? p.readUInt8(2);
  return {
    index: p.readUInt32LE(4),
    family: fam === AF_INET ? 'inet' : 'inet6',
    address: fam === AF_INET ? ipv4FromBE(raw) : ipv6FromBytes(raw),
    prefixLen: p.readUInt8(1),
    scope: p.readUInt8(3),
    tentative: (flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED)) !== 0,
  };
}

/** Decodes a struct rtmsg (+ attributes); only unicast routes outside the local table. */
export function decodeRoute(p: Buffer): Route | undefined {
  if (p.length < 12) return undefined;
  const fam = p.readUInt8(0);
  if ((fam !== AF_INET && fam !== AF_INET6) || p.readUInt8(7) !== RTN_UNICAST) return undefined;
  const a = attrMap(p.subarray(12));
  const table = readU32(a.get(RTA_TABLE)) ?? p.readUInt8(4);
  if (table === RT_TABLE_LOCAL) return undefined;
  const oifs: number[] = [];
  const oif = readU32(a.get(RTA_OIF));
  if (oif) oifs.push(oif);
  const mp = a.get(RTA_MULTIPATH);
  // struct rtnexthop { u16 len; u8 flags; u8 hops; s32 ifindex; } + attributes, repeated.
  for (let off = 0; mp && off + 8 <= mp.length;) {
    const len = mp.readUInt16LE(off);
    if (len < 8) break;
    oifs.push(mp.readInt32LE(off + 4));
    off += (len + 3) & ~3;
  }
  return { family: fam === AF_INET ? 'inet' : 'inet6', table, dstLen: p.readUInt8(1), oifs };
}

export function* dumpLinksOp(): NetlinkOp<Link[]> {
  return (yield* dump(RTM_GETLINK, AF_UNSPEC, 16, 'rtnetlink link dump'))
    .map(decodeLink)
    .filter((l): l is Link => l !== undefined);
}

export function* dumpAddressesOp(): NetlinkOp<IfAddress[]> {
  return (yield* dump(RTM_GETADDR, AF_UNSPEC, 8, 'rtnetlink address dump'))
    .map(decodeAddress)
    .filter((a): a is IfAddress => a !== undefined);
}

export function* dumpRoutesOp(): NetlinkOp<Route[]> {
  return (yield* dump(RTM_GETROUTE, AF_UNSPEC, 12, 'rtnetlink route dump'))
    .map(decodeRoute)
    .filter((r): r is Route => r !== undefined);
}

export const dumpLinks = (request: NetlinkTransport): Link[] => runSync(dumpLinksOp(), request);
export const dumpAddresses = (request: NetlinkTransport): IfAddress[] => runSync(dumpAddressesOp(), request);
export const dumpRoutes = (request: NetlinkTransport): Route[] => runSync(dumpRoutesOp(), request);

export interface UsableAddress {
  address: string;
  family: 'inet' | 'inet6';
  ifindex: number;
  dev: string;
  /** The interface carries a default route of this family (connections usually start from it). */
  defaultRoute: boolean;
}

/**
 * The addresses an endpoint can be made of: on a link that is up with carrier, not loopback, not
 * link- or host-scoped, not tentative, and with at least one route through that link.
 */
export function usableAddresses(request: NetlinkTransport): UsableAddress[] {
  return runSync(usableAddressesOp(), request);
}

export function usableAddressesAsync(request: AsyncNetlinkTransport): Promise<UsableAddress[]> {
  return runAsync(usableAddressesOp(), request);
}

export function* usableAddressesOp(): NetlinkOp<UsableAddress[]> {
  const links = new Map((yield* dumpLinksOp()).map((l) => [l.index, l]));
  const routed = new Set<number>();
  const defaults = new Set<string>();
  for (const r of yield* dumpRoutesOp()) {
    for (const oif of r.oifs) {
      routed.add(oif);
      if (r.dstLen === 0) defaults.add(`${r.family} ${oif}`);
    }
  }
  const out: UsableAddress[] = [];
  for (const a of yield* dumpAddressesOp()) {
    const link = links.get(a.index);
    if (!link || link.loopback || !link.up || !link.lowerUp) continue;
    if (a.scope === RT_SCOPE_LINK || a.scope === RT_SCOPE_HOST || a.tentative) continue;
    if (a.family === 'inet' && a.address.startsWith('127.')) continue;
    if (!routed.has(a.index)) continue;
    out.push({
      address: a.address,
      family: a.family,
      ifindex: a.index,
      dev: link.name,
      defaultRoute: defaults.has(`${a.family} ${a.index}`),
    });
  }
  return out;
}

/** ifindex → name of every link. */
export function linkNames(request: NetlinkTransport): Map<number, string> {
  return new Map(dumpLinks(request).map((l) => [l.index, l.name]));
}

export async function linkNamesAsync(request: AsyncNetlinkTransport): Promise<Map<number, string>> {
  return new Map((await runAsync(dumpLinksOp(), request)).map((l) => [l.index, l.name]));
}
