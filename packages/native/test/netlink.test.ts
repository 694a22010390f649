import type * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { IPPROTO_MPTCP, MPTCP_PM_NAME } from '@mptcp/constants';
import { connect, listen, netlinkRequest, type MptcpSocketError } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { closeServer, connected, listening } from './helpers/net.js';

const NETLINK_SOCK_DIAG = 4;
const NETLINK_GENERIC = 16;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const INET_DIAG_REQ_PROTOCOL = 3;
const TCP_LISTEN = 10;
const TCP_ESTABLISHED = 1;
const GENL_ID_CTRL = 0x10;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_NAME = 2;

function nlmsg(type: number, flags: number, seq: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + payload.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, payload]);
}

function rtattr(type: number, value: Buffer): Buffer {
  const len = 4 + value.length;
  const a = Buffer.alloc((len + 3) & ~3);
  a.writeUInt16LE(len, 0);
  a.writeUInt16LE(type, 2);
  value.copy(a, 4);
  return a;
}

/** inet_diag_req_v2 for AF_INET, all states, with the protocol (262 does not fit the u8 field) as INET_DIAG_REQ_PROTOCOL, as `ss -M` sends it. */
function mptcpDiagDump(): Buffer {
  const req = Buffer.alloc(56);
  req.writeUInt8(2, 0); // AF_INET
  req.writeUInt8(IPPROTO_MPTCP & 0xff, 1);
  req.writeUInt32LE(0xffffffff, 4); // all states
  const proto = Buffer.alloc(4);
  proto.writeUInt32LE(IPPROTO_MPTCP, 0);
  return nlmsg(
    SOCK_DIAG_BY_FAMILY,
    NLM_F_REQUEST | NLM_F_DUMP,
    1,
    Buffer.concat([req, rtattr(INET_DIAG_REQ_PROTOCOL, proto)]),
  );
}

const noMptcp = missing(probes.mptcp);
const servers: net.Server[] = [];
afterAll(async () => Promise.all(servers.map(closeServer)));

describe('netlinkRequest', () => {
  it.skipIf(noMptcp)('NETLINK_SOCK_DIAG dump lists the open MPTCP listener and connection (like ss -M)', async () => {
    const server = listen({ host: '127.0.0.1', port: 0, mptcp: 'require' });
    servers.push(server);
    const port = await listening(server);
    const client = connect({ host: '127.0.0.1', port, mptcp: 'require' });
    await connected(client);
    const clientPort = client.localPort ?? 0;
    const msgs = netlinkRequest(NETLINK_SOCK_DIAG, mptcpDiagDump());
    const sockets = msgs
      .filter((m) => m.readUInt16LE(4) === SOCK_DIAG_BY_FAMILY)
      .map((m) => {
        const d = m.subarray(16); // struct inet_diag_msg
        return { state: d.readUInt8(1), sport: d.readUInt16BE(4), dport: d.readUInt16BE(6) };
      });
    expect(sockets).toContainEqual({ state: TCP_LISTEN, sport: port, dport: 0 });
    expect(sockets).toContainEqual({ state: TCP_ESTABLISHED, sport: clientPort, dport: port });
    // Only MPTCP sockets: a plain TCP listener elsewhere must not show up with our ports.
    expect(msgs.every((m) => m.readUInt16LE(4) === SOCK_DIAG_BY_FAMILY)).toBe(true);
    client.destroy();
  });

  const getFamily = (name: string, flags: number): Buffer => {
    const genl = Buffer.from([CTRL_CMD_GETFAMILY, 1, 0, 0]);
    return nlmsg(
      GENL_ID_CTRL,
      NLM_F_REQUEST | flags,
      7,
      Buffer.concat([genl, rtattr(CTRL_ATTR_FAMILY_NAME, Buffer.from(`${name}\0`))]),
    );
  };

  it.skipIf(noMptcp)('NETLINK_GENERIC non-dump request: the reply (the ack is consumed)', () => {
    for (const flags of [0, NLM_F_ACK]) {
      const msgs = netlinkRequest(NETLINK_GENERIC, getFamily(MPTCP_PM_NAME, flags));
      expect(msgs).toHaveLength(1);
      expect(msgs[0]?.readUInt16LE(4)).toBe(GENL_ID_CTRL);
      expect(msgs[0]?.includes(Buffer.from(`${MPTCP_PM_NAME}\0`))).toBe(true);
    }
  });

  it('an NLMSG_ERROR is a typed error', () => {
    let err: MptcpSocketError | undefined;
    try {
      netlinkRequest(NETLINK_GENERIC, getFamily('nosuchfamily', NLM_F_ACK));
    } catch (e) {
      err = e as MptcpSocketError;
    }
    expect(err?.code).toBe('ENOENT');
    expect(err?.syscall).toBe('netlink');
  });

  it('a protocol the kernel does not know is a typed error from socket()', () => {
    expect(() => netlinkRequest(31, nlmsg(0, NLM_F_REQUEST, 1, Buffer.alloc(0)))).toThrow(
      expect.objectContaining({ code: 'EPROTONOSUPPORT', syscall: 'netlink' }),
    );
  });
});
