import type * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { IPPROTO_MPTCP, MPTCP_PM_NAME } from '@mptcp/constants';
import { connect, listen, netlinkRequest, type MptcpSocketError } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { closeServer, connected, listening } from './helpers/net.js';
import {
  ctrlGetFamily,
  GENL_ID_CTRL,
  NETLINK_GENERIC,
  NETLINK_SOCK_DIAG,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  nlmsg,
  rtattr,
  SOCK_DIAG_BY_FAMILY,
} from './helpers/netlink.js';

const INET_DIAG_REQ_PROTOCOL = 3;
const TCP_LISTEN = 10;
const TCP_ESTABLISHED = 1;

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

  const getFamily = (name: string, flags: number): Buffer => ctrlGetFamily(NLM_F_REQUEST | flags, 7, name);

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
