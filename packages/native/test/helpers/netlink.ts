/** Raw netlink messages for the addon's netlinkRequest tests (struct nlmsghdr, rtattr, genl ctrl). */

export const NETLINK_SOCK_DIAG = 4;
export const NETLINK_GENERIC = 16;
export const SOCK_DIAG_BY_FAMILY = 20;
export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP = 0x300;
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_NAME = 2;

/** A netlink message: 16-byte nlmsghdr (length, type, flags, seq, pid 0) and the payload. */
export function nlmsg(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, payload]);
}

/** One attribute, padded to 4 bytes. */
export function rtattr(type: number, value: Buffer): Buffer {
  const len = 4 + value.length;
  const a = Buffer.alloc((len + 3) & ~3);
  a.writeUInt16LE(len, 0);
  a.writeUInt16LE(type, 2);
  value.copy(a, 4);
  return a;
}

/**
 * CTRL_CMD_GETFAMILY, version 1: for the family `name`, or without a name (with NLM_F_DUMP: every
 * generic netlink family, several datagrams).
 */
export function ctrlGetFamily(flags: number, seq: number, name?: string): Buffer {
  const genl = Buffer.from([CTRL_CMD_GETFAMILY, 1, 0, 0]);
  const attrs = name === undefined ? [] : [rtattr(CTRL_ATTR_FAMILY_NAME, Buffer.from(`${name}\0`))];
  return nlmsg(GENL_ID_CTRL, flags, seq, Buffer.concat([genl, ...attrs]));
}
