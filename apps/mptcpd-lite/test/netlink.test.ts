/** The netlink codec in src/netlink, on hand-built messages (the kernel round-trips are in info/check tests). */
import { describe, expect, it } from 'vitest';
import {
  attrString,
  attrU32,
  decodeMessages,
  encodeMessage,
  NetlinkError,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  parseAttrs,
} from '../src/netlink/message.js';
import { decodeMptcpInfo } from '../src/netlink/mptcp-info.js';
import { decodeEndpoint, ipv6FromBytes, pmFlagNames } from '../src/netlink/mptcp-pm.js';
import { encodeDiagRequest, INET_DIAG_REQ_PROTOCOL, SOCK_DIAG_BY_FAMILY } from '../src/netlink/sock-diag.js';

function errorReply(errno: number): Buffer {
  const p = Buffer.alloc(20);
  p.writeInt32LE(-errno, 0);
  return encodeMessage(NLMSG_ERROR, 0, p);
}

describe('netlink framing', () => {
  it('splits several messages per datagram and stops at NLMSG_DONE', () => {
    const a = encodeMessage(28, NLM_F_MULTI, Buffer.from([1, 2, 3]));
    const b = encodeMessage(28, NLM_F_MULTI, Buffer.from([4]));
    const done = encodeMessage(NLMSG_DONE, NLM_F_MULTI, Buffer.alloc(4));
    const after = encodeMessage(28, 0, Buffer.from([9]));
    const msgs = decodeMessages([Buffer.concat([a, b]), Buffer.concat([done, after])], 'test');
    expect(msgs.map((m) => [...m.payload])).toEqual([[1, 2, 3], [4]]);
  });

  it('turns an error reply into NetlinkError with the errno name, and skips ACKs', () => {
    expect(() => decodeMessages([errorReply(2)], 'family lookup')).toThrow(NetlinkError);
    expect(() => decodeMessages([errorReply(2)], 'family lookup')).toThrow('family lookup: ENOENT');
    expect(decodeMessages([errorReply(0), encodeMessage(28, 0, Buffer.from([7]))], 'x')).toHaveLength(1);
  });

  it('rejects a truncated message instead of reading past it', () => {
    const m = encodeMessage(28, 0, Buffer.alloc(8));
    m.writeUInt32LE(200, 0);
    expect(() => decodeMessages([m], 'trunc')).toThrow(/truncated netlink message/);
  });

  it('parses attributes, ignoring a malformed tail and the NESTED flag', () => {
    const good = Buffer.concat([attrU32(3, 42), attrString(2, 'mptcp_pm')]);
    const bad = Buffer.from([0xff, 0x00, 0x01, 0x00]);
    const attrs = parseAttrs(Buffer.concat([good, bad]));
    expect(attrs.map((a) => a.type)).toEqual([3, 2]);
    expect(attrs[0]?.data.readUInt32LE(0)).toBe(42);
  });
});

describe('addresses and flags', () => {
  it.each([
    ['00000000000000000000000000000001', '::1'],
    ['fd000000000000000000000000000001', 'fd00::1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['00000000000000000000ffff01020304', '::ffff:1.2.3.4'],
    ['00000000000000000000000000000000', '::'],
  ])('ipv6 %s → %s', (hex, text) => {
    expect(ipv6FromBytes(Buffer.from(hex, 'hex'))).toBe(text);
  });

  it('names endpoint flags', () => {
    expect(pmFlagNames(0b1011)).toEqual(['signal', 'subflow', 'fullmesh']);
  });

  it('decodes an endpoint with a port (host byte order) and an interface', () => {
    const nested = Buffer.concat([
      (() => {
        const b = Buffer.alloc(8);
        b.writeUInt16LE(6, 0);
        b.writeUInt16LE(1, 2);
        b.writeUInt16LE(2, 4);
        return b;
      })(),
      Buffer.from([8, 0, 3, 0, 10, 0, 0, 1]),
      Buffer.from([5, 0, 2, 0, 7, 0, 0, 0]),
      Buffer.from([6, 0, 5, 0, 0xd2, 0x04, 0, 0]),
      attrU32(6, 1),
      attrU32(7, 3),
    ]);
    expect(decodeEndpoint(nested)).toEqual({
      id: 7,
      address: '10.0.0.1',
      family: 'inet',
      flags: ['signal'],
      port: 1234,
      ifindex: 3,
    });
  });
});

describe('sock_diag', () => {
  it('puts IPPROTO_MPTCP (262) in INET_DIAG_REQ_PROTOCOL, since sdiag_protocol is a u8', () => {
    const m = encodeDiagRequest(2, 262, 2);
    expect(m.readUInt16LE(4)).toBe(SOCK_DIAG_BY_FAMILY);
    expect(m.readUInt8(16)).toBe(2);
    expect(m.readUInt8(17)).toBe(262 & 0xff);
    const attrs = parseAttrs(m.subarray(16 + 56));
    expect(attrs).toEqual([{ type: INET_DIAG_REQ_PROTOCOL, data: expect.any(Buffer) }]);
    expect(attrs[0]?.data.readUInt32LE(0)).toBe(262);
    expect(parseAttrs(encodeDiagRequest(2, 6, 2).subarray(16 + 56))).toEqual([]);
  });

  it('decodes struct mptcp_info, and a shorter struct from an older kernel reads as zeros', () => {
    const b = Buffer.alloc(96);
    b.writeUInt8(1, 0);
    b.writeUInt8(4, 3);
    b.writeUInt32LE(2, 8);
    b.writeUInt32LE(0xdeadbeef, 12);
    b.writeBigUInt64LE(12345n, 56);
    b.writeBigUInt64LE(678n, 64);
    b.writeUInt8(2, 80);
    const full = decodeMptcpInfo(b);
    expect(full).toEqual(
      expect.objectContaining({
        subflows: 1,
        subflowsMax: 4,
        flags: 2,
        token: 0xdeadbeef,
        bytesSent: 12345n,
        bytesReceived: 678n,
        subflowsTotal: 2,
        size: 96,
      }),
    );
    const old = decodeMptcpInfo(b.subarray(0, 48));
    expect(old).toEqual(expect.objectContaining({ token: 0xdeadbeef, bytesSent: 0n, subflowsTotal: 0, size: 48 }));
  });
});
