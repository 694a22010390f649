/**
 * An outgoing connection for `connect`: @mptcp/native's connect() (NODE_MPTCP and the MPTCP→TCP
 * fallback are decided there, once), and what it reports about the socket it made.
 */
import type net from 'node:net';
import { connect, mptcpStatus, type MptcpMode } from '@mptcp/native';

export interface Dialed {
  socket: net.Socket;
  /** 262 when the socket was created with IPPROTO_MPTCP. */
  protocol: number;
  /** Set when 'prefer' fell back to TCP at socket() time, with the reason. */
  fallback?: string | undefined;
}

/** Connects; resolves once connected (or rejects with the errno error). */
export function dial(host: string, port: number, mode: MptcpMode): Promise<Dialed> {
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    try {
      socket = connect({ host, port, mptcp: mode });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      const st = mptcpStatus(socket);
      resolve({ socket, protocol: st.protocol, fallback: st.unavailable });
    });
  });
}
