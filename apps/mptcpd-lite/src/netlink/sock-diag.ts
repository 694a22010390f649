/**
 * sock_diag (linux/inet_diag.h), as `ss -M` uses it: an inet_diag_req_v2 dump per address family for
 * IPPROTO_MPTCP (262 does not fit the u8 sdiag_protocol, so it goes in INET_DIAG_REQ_PROTOCOL), and a
 * TCP dump whose INET_DIAG_ULP_INFO "mptcp" block carries each subflow's connection token.
 */
import { IPPROTO_MPTCP, IPPROTO_TCP } from '@mptcp/constants';
import { decodeMptcpInfo, decodeTcpInfo, type TcpInfoSummary } from './mptcp-info.js';
import {
  attrMap,
  attrU32,
  encodeAttr,
  decodeMessages,
  encodeMessage,
  NETLINK_SOCK_DIAG,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  readString,
  readU32,
  readU8,
} from './message.js';
import { ipv4FromBE, ipv6FromBytes } from './mptcp-pm.js';
import { call, runAsync, runSync, type NetlinkOp } from './op.js';
import type { AsyncNetlinkTransport, NetlinkTransport } from './transport.js';
import type { MptcpInfo } from '@mptcp/native';

export const SOCK_DIAG_BY_FAMILY = 20;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const INET_DIAG_INFO = 2;
export const INET_DIAG_ULP_INFO = 19;
export const INET_DIAG_REQ_BYTECODE = 1;
export const INET_DIAG_REQ_PROTOCOL = 3;
const INET_DIAG_BC_JMP = 1;
const INET_DIAG_BC_S_EQ = 11;
const INET_DIAG_BC_D_EQ = 12;
/** More ports than this: no filter (the dump stays correct, just unfiltered). */
export const MAX_PORT_CONDITIONS = 256;

/**
 * inet_diag bytecode accepting a socket whose local port is in `sports` or whose remote port is in
 * `dports`, compiled as `ss 'sport = :a or dport = :b'` does: each condition is {S_EQ|D_EQ, yes 8,
 * no 12} + {port}; between two conditions a JMP {yes 4, no: to the end} accepts when the condition
 * before it held. Every target lies on the `yes` chain, which the kernel's audit requires; the last
 * condition's `no` jumps past the end = reject. Undefined when there is no port or too many.
 */
export function encodePortFilter(sports: readonly number[], dports: readonly number[]): Buffer | undefined {
  const conds: Array<[number, number]> = [...new Set(sports)].map((p) => [INET_DIAG_BC_S_EQ, p] as [number, number]);
  for (const p of new Set(dports)) conds.push([INET_DIAG_BC_D_EQ, p]);
  if (conds.length === 0 || conds.length > MAX_PORT_CONDITIONS) return undefined;
  const len = conds.length * 12 - 4;
  const buf = Buffer.alloc(len);
  conds.forEach(([code, port], i) => {
    const off = i * 12;
    buf.writeUInt8(code, off);
    buf.writeUInt8(8, off + 1);
    buf.writeUInt16LE(12, off + 2);
    buf.writeUInt16LE(port, off + 6);
    if (i === conds.length - 1) return;
    buf.writeUInt8(INET_DIAG_BC_JMP, off + 8);
    buf.writeUInt8(4, off + 9);
    buf.writeUInt16LE(len - (off + 8), off + 10);
  });
  return buf;
}
export const INET_ULP_INFO_NAME = 1;
export const INET_ULP_INFO_MPTCP = 3;
export const MPTCP_SUBFLOW_ATTR_TOKEN_REM = 1;
export const MPTCP_SUBFLOW_ATTR_TOKEN_LOC = 2;
export const MPTCP_SUBFLOW_ATTR_FLAGS = 8;
export const MPTCP_SUBFLOW_ATTR_ID_REM = 9;
export const MPTCP_SUBFLOW_ATTR_ID_LOC = 10;
const INET_DIAG_MSG_LEN = 72;

/** TCP states (include/net/tcp_states.h), as ss names them. */
export const TCP_STATE_NAMES: Record<number, string> = {
  1: 'ESTAB',
  2: 'SYN-SENT',
  3: 'SYN-RECV',
  4: 'FIN-WAIT-1',
  5: 'FIN-WAIT-2',
  6: 'TIME-WAIT',
  7: 'UNCONN',
  8: 'CLOSE-WAIT',
  9: 'LAST-ACK',
  10: 'LISTEN',
  11: 'CLOSING',
};
export const TCP_LISTEN = 10;
const ALL_STATES = 0xfff;

export interface DiagEndpoint {
  address: string;
  port: number;
}

export interface DiagSocket {
  family: 'inet' | 'inet6';
  state: string;
  local: DiagEndpoint;
  remote: DiagEndpoint;
  inode: number;
  uid: number;
  cookie: string;
}

export interface MptcpDiagSocket extends DiagSocket {
  /** Decoded INET_DIAG_INFO (absent for listeners on some kernels). */
  info?: MptcpInfo;
}

export interface SubflowDiagSocket extends DiagSocket {
  tokenLoc?: number;
  tokenRem?: number;
  flags?: number;
  idLoc?: number;
  idRem?: number;
  tcp?: TcpInfoSummary;
}

/** Builds one SOCK_DIAG_BY_FAMILY dump request (struct inet_diag_req_v2, 56 bytes, + attributes). */
export function encodeDiagRequest(
  family: number,
  protocol: number,
  ext: number,
  states = ALL_STATES,
  seq = 1,
  bytecode?: Buffer,
): Buffer {
  const req = Buffer.alloc(56);
  req.writeUInt8(family, 0);
  req.writeUInt8(protocol & 0xff, 1);
  req.writeUInt8(ext, 2);
  req.writeUInt32LE(states, 4);
  // id: wildcard; idiag_cookie = INET_DIAG_NOCOOKIE
  req.writeUInt32LE(0xffffffff, 48);
  req.writeUInt32LE(0xffffffff, 52);
  const attrs = protocol > 0xff ? [attrU32(INET_DIAG_REQ_PROTOCOL, protocol)] : [];
  if (bytecode) attrs.push(encodeAttr(INET_DIAG_REQ_BYTECODE, bytecode));
  return encodeMessage(SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, Buffer.concat([req, ...attrs]), seq);
}

/** Decodes struct inet_diag_msg; returns the socket and its attributes. */
export function decodeDiagMessage(p: Buffer): { socket: DiagSocket; attrs: Map<number, Buffer> } | undefined {
  if (p.length < INET_DIAG_MSG_LEN) return undefined;
  const fam = p.readUInt8(0);
  const addr = (off: number): string =>
    fam === AF_INET ? ipv4FromBE(p.subarray(off, off + 4)) : ipv6FromBytes(p.subarray(off, off + 16));
  const socket: DiagSocket = {
    family: fam === AF_INET ? 'inet' : 'inet6',
    state: TCP_STATE_NAMES[p.readUInt8(1)] ?? `state-${p.readUInt8(1)}`,
    local: { address: addr(8), port: p.readUInt16BE(4) },
    remote: { address: addr(24), port: p.readUInt16BE(6) },
    cookie: ((BigInt(p.readUInt32LE(48)) << 32n) | BigInt(p.readUInt32LE(44))).toString(),
    uid: p.readUInt32LE(64),
    inode: p.readUInt32LE(68),
  };
  return { socket, attrs: attrMap(p.subarray(INET_DIAG_MSG_LEN)) };
}

function* dump(
  family: number,
  protocol: number,
  ext: number,
  context: string,
  states = ALL_STATES,
  bytecode?: Buffer,
): NetlinkOp<Array<{ socket: DiagSocket; attrs: Map<number, Buffer> }>> {
  const replies = yield* call(NETLINK_SOCK_DIAG, encodeDiagRequest(family, protocol, ext, states, 1, bytecode));
  return decodeMessages(replies, context)
    .map((m) => decodeDiagMessage(m.payload))
    .filter((x): x is { socket: DiagSocket; attrs: Map<number, Buffer> } => x !== undefined);
}

const INFO_EXT = 1 << (INET_DIAG_INFO - 1);

/** All MPTCP sockets (both families) with their struct mptcp_info. ENOENT = mptcp_diag not available. */
export function dumpMptcpSockets(request: NetlinkTransport): MptcpDiagSocket[] {
  return runSync(dumpMptcpSocketsOp(), request);
}

export function* dumpMptcpSocketsOp(): NetlinkOp<MptcpDiagSocket[]> {
  const out: MptcpDiagSocket[] = [];
  for (const family of [AF_INET, AF_INET6]) {
    for (const { socket, attrs } of yield* dump(family, IPPROTO_MPTCP, INFO_EXT, 'sock_diag MPTCP dump')) {
      const info = attrs.get(INET_DIAG_INFO);
      out.push(info && info.length > 0 ? { ...socket, info: decodeMptcpInfo(info) } : socket);
    }
  }
  return out;
}

/**
 * TCP states a subflow of a live connection can be in. TIME-WAIT (kept by the kernel as minisocks,
 * possibly 100k of them on a busy host), LISTEN and CLOSE are left out by the kernel's state filter:
 * they never carry a subflow token, and dumping them is what made a full TCP dump slow.
 */
export const SUBFLOW_STATES = ALL_STATES & ~((1 << 6) | (1 << 7) | (1 << TCP_LISTEN));

/** The TCP sockets that are MPTCP subflows (ULP "mptcp"), with their tokens and tcp_info. */
export function dumpSubflows(request: NetlinkTransport, bytecode?: Buffer): SubflowDiagSocket[] {
  return runSync(dumpSubflowsOp(bytecode), request);
}

/** `bytecode`: an optional kernel-side filter (encodePortFilter) so only candidate sockets are dumped. */
export function* dumpSubflowsOp(bytecode?: Buffer): NetlinkOp<SubflowDiagSocket[]> {
  const out: SubflowDiagSocket[] = [];
  for (const family of [AF_INET, AF_INET6]) {
    for (const { socket, attrs } of yield* dump(
      family,
      IPPROTO_TCP,
      INFO_EXT,
      'sock_diag TCP dump',
      SUBFLOW_STATES,
      bytecode,
    )) {
      const ulp = attrs.get(INET_DIAG_ULP_INFO);
      if (!ulp) continue;
      const u = attrMap(ulp);
      if (readString(u.get(INET_ULP_INFO_NAME)) !== 'mptcp') continue;
      const sf: SubflowDiagSocket = { ...socket };
      const m = u.get(INET_ULP_INFO_MPTCP);
      if (m) {
        const a = attrMap(m);
        sf.tokenLoc = readU32(a.get(MPTCP_SUBFLOW_ATTR_TOKEN_LOC));
        sf.tokenRem = readU32(a.get(MPTCP_SUBFLOW_ATTR_TOKEN_REM));
        sf.flags = readU32(a.get(MPTCP_SUBFLOW_ATTR_FLAGS));
        sf.idLoc = readU8(a.get(MPTCP_SUBFLOW_ATTR_ID_LOC));
        sf.idRem = readU8(a.get(MPTCP_SUBFLOW_ATTR_ID_REM));
      }
      const info = attrs.get(INET_DIAG_INFO);
      if (info) sf.tcp = decodeTcpInfo(info);
      out.push(sf);
    }
  }
  return out;
}

export interface MptcpConnection extends MptcpDiagSocket {
  subflows: SubflowDiagSocket[];
}

/** MPTCP sockets joined with their subflows by token (mptcp_info.token == subflow TOKEN_LOC). */
export function mptcpConnections(request: NetlinkTransport): MptcpConnection[] {
  return runSync(mptcpConnectionsOp(), request);
}

/** mptcpConnections without blocking the event loop (the daemon's metrics and status page). */
export function mptcpConnectionsAsync(request: AsyncNetlinkTransport): Promise<MptcpConnection[]> {
  return runAsync(mptcpConnectionsOp(), request);
}

export function* mptcpConnectionsOp(): NetlinkOp<MptcpConnection[]> {
  const sockets = yield* dumpMptcpSocketsOp();
  // Only MPTCP sockets are dumped (IPPROTO_MPTCP, as `ss -M`); the TCP side is asked for subflows
  // only when some connection can have one.
  const live = sockets.filter((s) => s.state !== 'LISTEN' && s.info !== undefined && s.info.token !== 0);
  // Subflows share the connection's port on one side: a server's subflows have the listening port
  // as local port, a client's the server's port as remote port. Asking the kernel for those ports
  // only skips every other TCP socket of the host. A subflow on another port (an endpoint with its
  // own port) is missed by that filter: when a connection has fewer subflows than its mptcp_info
  // counts, the dump is made again without the filter.
  const filter = encodePortFilter(
    live.map((s) => s.local.port),
    live.map((s) => s.remote.port),
  );
  let subflows = live.length > 0 ? yield* dumpSubflowsOp(filter) : [];
  const expected = (s: MptcpDiagSocket): number => (s.info ? s.info.subflowsTotal || s.info.subflows + 1 : 0);
  if (filter && live.some((s) => subflows.filter((f) => f.tokenLoc === s.info?.token).length < expected(s))) {
    subflows = yield* dumpSubflowsOp();
  }
  return sockets.map((s) => ({
    ...s,
    subflows:
      s.info && s.info.token !== 0 ? subflows.filter((f) => f.tokenLoc === s.info?.token && f.state !== 'LISTEN') : [],
  }));
}
