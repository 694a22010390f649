/**
 * What `connect` reports about its connection: MPTCP or not (SO_PROTOCOL + the addon's status), the
 * subflows and counters — from the addon on the socket, or else from sock_diag by address.
 */
import type net from 'node:net';
import { IPPROTO_MPTCP, MPTCP_INFO_FLAG_FALLBACK } from '@mptcp/constants';
import { formatBytes, hostPort } from '../format/bytes.js';
import { mptcpConnections } from '../netlink/sock-diag.js';
import { netlinkRequest } from '../netlink/transport.js';
import { mptcpInfo, mptcpStatus, subflows, type MptcpInfo } from '@mptcp/native';

export interface SubflowReport {
  local: string;
  remote: string;
  state?: string | undefined;
  bytesSent?: bigint | undefined;
  bytesReceived?: bigint | undefined;
  rttUs?: number | undefined;
}

export interface ConnectionReport {
  local: string;
  remote: string;
  /** SO_PROTOCOL of our socket: 262 = created as MPTCP. */
  protocol: number;
  /** 'mptcp' (MPTCP in use), 'fallback' (MPTCP socket, the peer answered plain TCP), 'tcp'. */
  transport: 'mptcp' | 'fallback' | 'tcp';
  /** Why the socket itself is plain TCP ('prefer' fell back at socket()). */
  socketFallback?: string | undefined;
  subflows: SubflowReport[];
  info?: MptcpInfo | undefined;
  /** Where subflows/info came from. */
  source: 'native' | 'sock_diag' | 'none';
}

export function buildReport(
  socket: net.Socket,
  protocol: number,
  socketFallback: string | undefined,
): ConnectionReport {
  const local = hostPort(socket.localAddress ?? '?', socket.localPort ?? 0);
  const remote = hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
  const report: ConnectionReport = {
    local,
    remote,
    protocol,
    transport: 'tcp',
    socketFallback,
    subflows: [],
    source: 'none',
  };
  if (protocol !== IPPROTO_MPTCP) return report;
  {
    try {
      const st = mptcpStatus(socket);
      report.transport = st.active ? 'mptcp' : 'fallback';
      report.info = mptcpInfo(socket) ?? undefined;
      report.subflows = subflows(socket).map((s) => ({
        local: s.local.family === 'inet' || s.local.family === 'inet6' ? hostPort(s.local.address, s.local.port) : '?',
        remote:
          s.remote.family === 'inet' || s.remote.family === 'inet6' ? hostPort(s.remote.address, s.remote.port) : '?',
        bytesSent: s.tcp.bytesSent,
        bytesReceived: s.tcp.bytesReceived,
        rttUs: s.tcp.rttUs,
      }));
      report.source = 'native';
      return report;
    } catch {
      // fall through to sock_diag
    }
  }
  try {
    const mine = mptcpConnections(netlinkRequest).find(
      (c) => c.state !== 'LISTEN' && c.local.port === socket.localPort && c.remote.port === socket.remotePort,
    );
    report.source = 'sock_diag';
    if (!mine) {
      report.transport = 'fallback';
      return report;
    }
    report.info = mine.info;
    report.transport = mine.info && mine.info.flags & MPTCP_INFO_FLAG_FALLBACK ? 'fallback' : 'mptcp';
    report.subflows = mine.subflows.map((s) => ({
      local: hostPort(s.local.address, s.local.port),
      remote: hostPort(s.remote.address, s.remote.port),
      state: s.state,
      bytesSent: s.tcp?.bytesSent,
      bytesReceived: s.tcp?.bytesReceived,
      rttUs: s.tcp?.rttUs,
    }));
  } catch {
    report.transport = 'mptcp';
  }
  return report;
}

export function formatReport(r: ConnectionReport, when: 'connected' | 'closing'): string {
  const what =
    r.transport === 'mptcp'
      ? `MPTCP (protocol ${r.protocol})`
      : r.transport === 'fallback'
        ? `MPTCP socket fell back to TCP (the peer does not speak MPTCP)`
        : `TCP${r.socketFallback ? ` (MPTCP unavailable: ${r.socketFallback})` : ''}`;
  const lines = [
    `${when === 'connected' ? 'Connected' : 'Closing'}: ${r.local} -> ${r.remote}: ${what}, ${r.subflows.length} subflow${r.subflows.length === 1 ? '' : 's'}`,
  ];
  for (const s of r.subflows) {
    lines.push(
      `  subflow ${s.local} -> ${s.remote}${s.rttUs !== undefined ? `  rtt ${(s.rttUs / 1000).toFixed(3)} ms` : ''}${s.bytesSent !== undefined ? `  sent ${formatBytes(s.bytesSent)}` : ''}${s.bytesReceived !== undefined ? `  received ${formatBytes(s.bytesReceived)}` : ''}`,
    );
  }
  if (r.info && when === 'closing')
    lines.push(
      `  mptcp_info: token ${r.info.token.toString(16)}, sent ${formatBytes(r.info.bytesSent)}, received ${formatBytes(r.info.bytesReceived)}, subflows_total ${r.info.subflowsTotal}`,
    );
  return lines.join('\n');
}
