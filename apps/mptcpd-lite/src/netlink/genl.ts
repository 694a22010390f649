/** Generic netlink (linux/genetlink.h): the genlmsghdr and the controller's family lookup. */
import {
  attrMap,
  attrString,
  decodeMessages,
  encodeMessage,
  NETLINK_GENERIC,
  NLM_F_REQUEST,
  parseAttrs,
  readString,
  readU16,
  readU32,
  type NetlinkMessage,
} from './message.js';
import { call, runSync, type NetlinkOp } from './op.js';
import type { NetlinkTransport } from './transport.js';

export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_MCAST_GROUPS = 7;
export const CTRL_ATTR_MCAST_GRP_NAME = 1;
export const CTRL_ATTR_MCAST_GRP_ID = 2;

/** A generic-netlink message: nlmsghdr + genlmsghdr{cmd, version} + attributes. */
export function encodeGenl(
  family: number,
  flags: number,
  cmd: number,
  version: number,
  attrs: Buffer[],
  seq = 1,
): Buffer {
  const hdr = Buffer.from([cmd, version, 0, 0]);
  return encodeMessage(family, flags, Buffer.concat([hdr, ...attrs]), seq);
}

export interface GenlMessage {
  cmd: number;
  version: number;
  attrs: Map<number, Buffer>;
}

export function decodeGenl(msg: NetlinkMessage): GenlMessage {
  return {
    cmd: msg.payload.readUInt8(0),
    version: msg.payload.readUInt8(1),
    attrs: attrMap(msg.payload.subarray(GENL_HDRLEN)),
  };
}

export interface GenlFamily {
  id: number;
  version: number;
  /** Multicast group name → id (CTRL_ATTR_MCAST_GROUPS). */
  groups: Map<string, number>;
}

/** CTRL_CMD_GETFAMILY by name; throws NetlinkError ENOENT when the family is not registered. */
export function resolveFamily(request: NetlinkTransport, name: string): GenlFamily {
  return runSync(resolveFamilyOp(name), request);
}

export function* resolveFamilyOp(name: string): NetlinkOp<GenlFamily> {
  const req = encodeGenl(GENL_ID_CTRL, NLM_F_REQUEST, CTRL_CMD_GETFAMILY, 1, [attrString(CTRL_ATTR_FAMILY_NAME, name)]);
  const [reply] = decodeMessages(yield* call(NETLINK_GENERIC, req), `generic netlink family ${name}`).map(decodeGenl);
  const id = readU16(reply?.attrs.get(CTRL_ATTR_FAMILY_ID));
  if (!reply || id === undefined) throw new Error(`generic netlink family ${name}: no family id in the reply`);
  const groups = new Map<string, number>();
  const mc = reply.attrs.get(CTRL_ATTR_MCAST_GROUPS);
  for (const g of mc ? parseAttrs(mc) : []) {
    const ga = attrMap(g.data);
    const gname = readString(ga.get(CTRL_ATTR_MCAST_GRP_NAME));
    const gid = readU32(ga.get(CTRL_ATTR_MCAST_GRP_ID));
    if (gname !== undefined && gid !== undefined) groups.set(gname, gid);
  }
  return { id, version: readU32(reply.attrs.get(CTRL_ATTR_VERSION)) ?? 1, groups };
}
