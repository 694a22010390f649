/** mptcp_pm event decoding on hand-built genetlink messages (the lab test covers the kernel's own). */
import { describe, expect, it } from 'vitest';
import { encodeGenl } from '../src/netlink/genl.js';
import { attrU16, attrU32, attrU8, encodeAttr } from '../src/netlink/message.js';
import { decodePmEvents, formatPmEvent, MPTCP_EVENT_NAMES } from '../src/netlink/pm-events.js';

const be16 = (type: number, v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return encodeAttr(type, b);
};

describe('decodePmEvents', () => {
  it.each(Object.entries(MPTCP_EVENT_NAMES))('event type %s is "%s"', (cmd, name) => {
    const [e] = decodePmEvents(encodeGenl(0x20, 0, Number(cmd), 1, [attrU32(1, 0xc0a404f4)]));
    expect(e).toEqual({ event: name, token: 'c0a404f4' });
  });

  it('a sub_established with IPv4 addresses, network-order ports, ids, backup and ifindex', () => {
    const msg = encodeGenl(0x20, 0, 10, 1, [
      attrU32(1, 0x1234),
      attrU16(2, 2),
      attrU8(3, 1),
      attrU8(4, 2),
      encodeAttr(5, Buffer.from([10, 0, 2, 1])),
      encodeAttr(7, Buffer.from([10, 0, 2, 2])),
      be16(9, 58045),
      be16(10, 7007),
      attrU8(11, 1),
      attrU32(15, 3),
    ]);
    const [e] = decodePmEvents(msg);
    expect(e).toEqual({
      event: 'sub_established',
      token: '00001234',
      family: 'inet',
      localId: 1,
      remoteId: 2,
      saddr: '10.0.2.1',
      daddr: '10.0.2.2',
      sport: 58045,
      dport: 7007,
      backup: true,
      ifindex: 3,
    });
    expect(formatPmEvent(e!)).toBe(
      '[    SF_ESTABLISHED] token=00001234 remid=2 locid=1 saddr=10.0.2.1 daddr=10.0.2.2 sport=58045 dport=7007 backup=1 ifindex=3',
    );
  });

  it('an IPv6 listener_created and two events in one datagram', () => {
    const v6 = Buffer.alloc(16);
    v6[15] = 1;
    const a = encodeGenl(0x20, 0, 15, 1, [attrU16(2, 10), encodeAttr(6, v6), be16(9, 443)]);
    const b = encodeGenl(0x20, 0, 3, 1, [attrU32(1, 7)]);
    expect(decodePmEvents(Buffer.concat([a, b]))).toEqual([
      { event: 'listener_created', family: 'inet6', saddr: '::1', sport: 443 },
      { event: 'closed', token: '00000007' },
    ]);
  });
});
