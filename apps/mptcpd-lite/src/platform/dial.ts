/**
 * An outgoing TCP/MPTCP connection as a node:net Socket, with what the addon reports about it.
 */
import net from 'node:net';
import * as nativeModule from '@mptcp/native';
import { nativeFn } from './native.js';
import type { MptcpMode } from './native-types.js';

export interface Dialed {
  socket: net.Socket;
  /** 262 when the socket was created with IPPROTO_MPTCP. */
  protocol: number;
  /** Set when 'prefer' fell back to TCP at socket() time, with the reason. */
  fallback?: string | undefined;
}

type ConnectFn = (options: { host: string; port: number; mptcp?: MptcpMode }) => net.Socket;

/** Connects; resolves once connected (or rejects with the errno error). */
export function dial(host: string, port: number, mode: MptcpMode): Promise<Dialed> {
  const mod = nativeModule as unknown as Record<string, unknown>;
  const connect = typeof mod.connect === 'function' ? (mod.connect as ConnectFn) : undefined;
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    let fallback: string | undefined;
    if (connect && mode !== false) {
      socket = connect({ host, port, mptcp: mode });
    } else {
      if (mode === 'require') {
        reject(Object.assign(new Error('MPTCP required but @mptcp/native has no connect() (build the addon)'), { code: 'MPTCP_ADDON_UNAVAILABLE' }));
        return;
      }
      if (mode === 'prefer') fallback = 'addon-unavailable';
      socket = net.connect({ host, port });
    }
    socket.once('connect', () => {
      socket.off('error', reject);
      let protocol = 0;
      const status = nativeFn('mptcpStatus');
      try {
        if (status) protocol = status(socket).protocol;
      } catch {
        protocol = 0;
      }
      // 'prefer' gave a plain TCP socket: the host has no MPTCP (the addon's support probe says why).
      if (mode === 'prefer' && protocol !== 262 && !fallback) fallback = nativeFn('mptcpSupport')?.().reason ?? 'unavailable';
      resolve({ socket, protocol, fallback });
    });
    socket.once('error', reject);
  });
}
