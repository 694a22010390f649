/**
 * Decoders for the structs that sock_diag returns: struct mptcp_info (linux/mptcp.h; 96 bytes on
 * 6.x, shorter on older kernels — missing fields read as 0) and the tcp_info fields shown per subflow.
 */
import type { MptcpInfo } from '../platform/native-types.js';

const u8 = (b: Buffer, o: number): number => (o + 1 <= b.length ? b.readUInt8(o) : 0);
const u32 = (b: Buffer, o: number): number => (o + 4 <= b.length ? b.readUInt32LE(o) : 0);
const u64 = (b: Buffer, o: number): bigint => (o + 8 <= b.length ? b.readBigUInt64LE(o) : 0n);

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

/** The struct tcp_info fields shown for a subflow (offsets from linux/tcp.h). */
export interface TcpInfoSummary {
  state: number;
  rttUs: number;
  rttVarUs: number;
  sndCwnd: number;
  totalRetrans: number;
  bytesAcked: bigint;
  bytesReceived: bigint;
  bytesSent: bigint;
}

export function decodeTcpInfo(b: Buffer): TcpInfoSummary {
  return {
    state: u8(b, 0),
    rttUs: u32(b, 68),
    rttVarUs: u32(b, 72),
    sndCwnd: u32(b, 80),
    totalRetrans: u32(b, 100),
    bytesAcked: u64(b, 120),
    bytesReceived: u64(b, 128),
    bytesSent: u64(b, 200),
  };
}
