/**
 * "Is this connection really MPTCP?" and what it looks like inside. Detection order (mptcp.dev):
 * TCP_IS_MPTCP (Linux ≥ 6.10) → else MPTCP_INFO errno/flags (≥ 5.16) → else SO_PROTOCOL only.
 * Struct decoding lives here; the addon only runs getsockopt().
 */
import type * as net from 'node:net';
import {
  IPPROTO_MPTCP,
  MPTCP_INFO,
  MPTCP_INFO_FLAG_FALLBACK,
  MPTCP_SUBFLOW_ADDRS,
  MPTCP_TCPINFO,
  SOL_MPTCP,
  SOL_TCP,
  TCP_IS_MPTCP,
} from '@mptcp/constants';
import { binding } from './binding.js';
import { errnoName, syscallError } from './errors.js';
import { acceptingServer, fdOf, tryFdOf, type FdLike } from './fd.js';
import { socketProtocol } from './primitives.js';
import { clientSockets } from './client.js';
import { listenerFallbacks } from './server.js';
import { decodeSockAddr } from './sockaddr.js';
import type { InetSockAddr, MptcpInfo, MptcpStatus, SockAddr, SubflowInfo } from './types.js';

/** The errnos with which an MPTCP query says "this socket is (now) plain TCP". */
const NOT_MPTCP = new Set(['EOPNOTSUPP', 'ENOPROTOOPT']);

/** struct mptcp_info as of Linux 6.10 (96 bytes); older kernels return fewer bytes. */
const MPTCP_INFO_SIZE = 96;
/** struct tcp_info bytes we ask for (kernels copy min(ours, theirs)). */
const TCP_INFO_SIZE = 232;
/** struct mptcp_subflow_info: u32 id, 4 bytes padding, two 128-byte sockaddr_storage. */
const SUBFLOW_INFO_SIZE = 264;
/** struct mptcp_subflow_addrs: two sockaddr_storage. */
const SUBFLOW_ADDRS_SIZE = 256;
/** struct mptcp_subflow_data header (aligned 8). */
const SUBFLOW_DATA_SIZE = 16;
const MAX_SUBFLOWS = 32;

function isMptcpListener(server: net.Server | undefined): boolean {
  const fd = server ? tryFdOf(server) : undefined;
  if (fd === undefined) return false;
  try {
    return socketProtocol(fd) === IPPROTO_MPTCP;
  } catch {
    return false;
  }
}

/** Whether an fd created with protocol 262 really runs MPTCP. */
function activeOnMptcpSocket(fd: number): boolean {
  const native = binding();
  const is = native.getsockoptInt(fd, SOL_TCP, TCP_IS_MPTCP);
  if (typeof is !== 'number') return is.value === 1;
  // Older kernels: MPTCP_INFO fails after a fallback, or reports the fallback flag.
  const info = native.getsockoptBuffer(fd, SOL_MPTCP, MPTCP_INFO, Buffer.alloc(MPTCP_INFO_SIZE));
  if (typeof info !== 'number') return info.length < 12 || (info.readUInt32LE(8) & MPTCP_INFO_FLAG_FALLBACK) === 0;
  if (NOT_MPTCP.has(errnoName(-info))) return false;
  return true; // no way to tell on this kernel: trust SO_PROTOCOL
}

/**
 * What a socket (or fd, or server) is: `requested` (created with 262, or accepted by an MPTCP
 * listener), `active` (really MPTCP), `fallback` (requested but plain TCP), and SO_PROTOCOL.
 * An accepted connection from a plain-TCP client has SO_PROTOCOL 6 although its listener is
 * MPTCP: that is reported as requested + fallback.
 */
export function mptcpStatus(target: FdLike): MptcpStatus {
  const fd = fdOf(target);
  const protocol = socketProtocol(fd);
  if (protocol === IPPROTO_MPTCP) {
    const active = activeOnMptcpSocket(fd);
    return { requested: true, active, fallback: !active, protocol };
  }
  const server = typeof target === 'object' && 'server' in target ? acceptingServer(target as net.Socket) : undefined;
  const viaListener = isMptcpListener(server);
  const status: MptcpStatus = { requested: viaListener, active: false, fallback: viaListener, protocol };
  const created =
    typeof target === 'number'
      ? undefined
      : (clientSockets.get(target as net.Socket) ??
        listenerFallbacks.get(target as net.Server) ??
        (server && listenerFallbacks.get(server)));
  if (created?.fallbackReason) status.unavailable = created.fallbackReason;
  return status;
}

/** True when the connection really uses MPTCP (Go's TCPConn.MultipathTCP()). */
export function isMptcp(target: FdLike): boolean {
  try {
    return mptcpStatus(target).active;
  } catch {
    return false;
  }
}

const u64 = (b: Buffer, o: number): bigint => (b.length >= o + 8 ? b.readBigUInt64LE(o) : 0n);
const u32 = (b: Buffer, o: number): number => (b.length >= o + 4 ? b.readUInt32LE(o) : 0);
const u8 = (b: Buffer, o: number): number => (b.length > o ? (b[o] ?? 0) : 0);

/** Decodes struct mptcp_info (fields beyond the kernel's size are 0). */
export function decodeMptcpInfo(b: Buffer): MptcpInfo {
  return {
    subflows: u8(b, 0),
    addAddrSignal: u8(b, 1),
    addAddrAccepted: u8(b, 2),
    subflowsMax: u8(b, 3),
    addAddrSignalMax: u8(b, 4),
    addAddrAcceptedMax: u8(b, 5),
    flags: u32(b, 8),
    token: u32(b, 12),
    writeSeq: u64(b, 16),
    sndUna: u64(b, 24),
    rcvNxt: u64(b, 32),
    localAddrUsed: u8(b, 40),
    localAddrMax: u8(b, 41),
    csumEnabled: u8(b, 42),
    retransmits: u32(b, 44),
    bytesRetrans: u64(b, 48),
    bytesSent: u64(b, 56),
    bytesReceived: u64(b, 64),
    bytesAcked: u64(b, 72),
    subflowsTotal: u8(b, 80),
    lastDataSent: u32(b, 84),
    lastDataRecv: u32(b, 88),
    lastAckRecv: u32(b, 92),
    size: b.length,
  };
}

/** Decodes the struct tcp_info fields of SubflowInfo['tcp']. */
export function decodeTcpInfo(b: Buffer): SubflowInfo['tcp'] {
  return {
    state: u8(b, 0),
    rttUs: u32(b, 68),
    rttVarUs: u32(b, 72),
    sndCwnd: u32(b, 80),
    totalRetrans: u32(b, 100),
    pacingRate: u64(b, 104),
    bytesAcked: u64(b, 120),
    bytesReceived: u64(b, 128),
    deliveryRate: u64(b, 160),
    bytesSent: u64(b, 200),
  };
}

/** getsockopt(MPTCP_INFO) decoded, or null when the socket is not (or no longer) MPTCP. */
export function mptcpInfo(target: FdLike): MptcpInfo | null {
  const fd = tryFdOf(target);
  if (fd === undefined) return null;
  const r = binding().getsockoptBuffer(fd, SOL_MPTCP, MPTCP_INFO, Buffer.alloc(MPTCP_INFO_SIZE));
  if (typeof r === 'number') {
    if (NOT_MPTCP.has(errnoName(-r)) || GONE.has(errnoName(-r))) return null;
    throw syscallError(-r, { syscall: 'getsockopt' });
  }
  const info = decodeMptcpInfo(r);
  return (info.flags & MPTCP_INFO_FLAG_FALLBACK) !== 0 ? null : info;
}

export interface SubflowsOptions {
  /** 'full' = MPTCP_FULL_INFO only (6.5+), 'legacy' = MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO; default: full, else legacy. */
  method?: 'auto' | 'full' | 'legacy';
}

/** errnos with which getsockopt on a connection that is closing or closed says "nothing here". */
const GONE = new Set(['EBADF', 'ENOTCONN', 'ENOTSOCK']);

function inet(a: SockAddr | undefined): InetSockAddr | undefined {
  return a && (a.family === 'inet' || a.family === 'inet6') ? a : undefined;
}

/**
 * A subflow as the kernel lists it, or undefined for one that is being torn down: while a
 * connection closes the kernel can report a subflow with an unspecified remote (port 0), which is
 * not a path and is not returned.
 */
function subflowOf(
  id: number,
  localRaw: SockAddr | undefined,
  remoteRaw: SockAddr | undefined,
  tcp: Buffer,
): SubflowInfo | undefined {
  const local = inet(localRaw);
  const remote = inet(remoteRaw);
  if (!local || !remote || remote.port === 0 || remote.address === '0.0.0.0' || remote.address === '::')
    return undefined;
  return { id, flags: 0, local, remote, tcp: decodeTcpInfo(tcp) };
}

function viaFullInfo(fd: number): SubflowInfo[] | number {
  const r = binding().mptcpFullInfo(fd, MAX_SUBFLOWS, SUBFLOW_INFO_SIZE, TCP_INFO_SIZE);
  if (typeof r === 'number') return r;
  const n = Math.floor(r.subflowInfo.length / SUBFLOW_INFO_SIZE);
  const out: SubflowInfo[] = [];
  for (let i = 0; i < n; i++) {
    const sf = r.subflowInfo.subarray(i * SUBFLOW_INFO_SIZE, (i + 1) * SUBFLOW_INFO_SIZE);
    const tcp = r.tcpInfo.subarray(i * TCP_INFO_SIZE, (i + 1) * TCP_INFO_SIZE);
    const flow = subflowOf(sf.readUInt32LE(0), decodeSockAddr(sf, 8), decodeSockAddr(sf, 8 + 128), tcp);
    if (flow) out.push(flow);
  }
  return out;
}

/** One MPTCP_SUBFLOW_ADDRS / MPTCP_TCPINFO query: header + array of `size`-byte elements. */
function subflowArray(fd: number, name: number, size: number): Buffer[] | number {
  const input = Buffer.alloc(SUBFLOW_DATA_SIZE + MAX_SUBFLOWS * size);
  input.writeUInt32LE(SUBFLOW_DATA_SIZE, 0); // size_subflow_data
  input.writeUInt32LE(size, 12); // size_user
  const r = binding().getsockoptBuffer(fd, SOL_MPTCP, name, input);
  if (typeof r === 'number') return r;
  const headerSize = u32(r, 0) || SUBFLOW_DATA_SIZE;
  const count = Math.min(u32(r, 4), MAX_SUBFLOWS);
  const elem = u32(r, 12) || size;
  const out: Buffer[] = [];
  for (let i = 0; i < count && headerSize + (i + 1) * elem <= r.length; i++) {
    out.push(r.subarray(headerSize + i * elem, headerSize + (i + 1) * elem));
  }
  return out;
}

function viaLegacy(fd: number): SubflowInfo[] | number {
  const addrs = subflowArray(fd, MPTCP_SUBFLOW_ADDRS, SUBFLOW_ADDRS_SIZE);
  if (typeof addrs === 'number') return addrs;
  const infos = subflowArray(fd, MPTCP_TCPINFO, TCP_INFO_SIZE);
  const tcp = typeof infos === 'number' ? [] : infos;
  return addrs
    .map((a, i) => subflowOf(i, decodeSockAddr(a, 0), decodeSockAddr(a, 128), tcp[i] ?? Buffer.alloc(0)))
    .filter((f): f is SubflowInfo => f !== undefined);
}

/**
 * The subflows of an MPTCP connection: addresses and tcp_info of each, via MPTCP_FULL_INFO
 * (Linux 6.5, one atomic call) or else MPTCP_SUBFLOW_ADDRS + MPTCP_TCPINFO (5.16). A plain-TCP
 * (or fallen back) socket gives []. `id` is the kernel's subflow id with FULL_INFO, the index with
 * the legacy calls; `flags` is not reported by getsockopt and is 0.
 */
export function subflows(target: FdLike, options: SubflowsOptions = {}): SubflowInfo[] {
  // A socket whose peer closed (and that node has destroyed) has no fd any more: no subflows.
  const fd = tryFdOf(target);
  if (fd === undefined) return [];
  const method = options.method ?? 'auto';
  // An unknown optname (kernel < 6.5) and a fallen-back socket both fail: auto then tries the old calls.
  let r = method === 'legacy' ? viaLegacy(fd) : viaFullInfo(fd);
  if (typeof r === 'number' && method === 'auto') r = viaLegacy(fd);
  if (typeof r === 'number') {
    const code = errnoName(-r);
    if (NOT_MPTCP.has(code) || GONE.has(code)) return [];
    throw syscallError(-r, { syscall: 'getsockopt' });
  }
  return r;
}
