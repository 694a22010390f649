/** socket() for a TCP/MPTCP stream, with the 'prefer' fallback applied. */
import { IPPROTO_MPTCP, type MptcpUnavailableReason } from '@mptcp/constants';
import { binding, sysconst } from './binding.js';
import { errnoName, syscallError } from './errors.js';
import { fallbackReason } from './policy.js';
import type { MptcpMode } from './types.js';

export interface StreamSocket {
  fd: number;
  /** 262 when MPTCP, 0 for plain TCP. */
  protocol: number;
  /** Set when 'prefer' fell back to TCP because socket(…, 262) failed. */
  fallback?: MptcpUnavailableReason;
}

export type IpFamily = 'inet' | 'inet6';

export function afOf(family: IpFamily): number {
  return sysconst(family === 'inet' ? 'AF_INET' : 'AF_INET6');
}

/** Creates a non-blocking, close-on-exec stream socket: MPTCP unless `mode` is false. */
export function createStreamSocket(family: IpFamily, mode: MptcpMode): StreamSocket {
  const native = binding();
  const af = afOf(family);
  const type = sysconst('SOCK_STREAM');
  if (mode !== false) {
    const fd = native.socket(af, type, IPPROTO_MPTCP);
    if (fd >= 0) return { fd, protocol: IPPROTO_MPTCP };
    const reason = fallbackReason(errnoName(-fd));
    if (mode === 'require' || reason === undefined) {
      throw syscallError(-fd, { syscall: 'socket', protocol: IPPROTO_MPTCP });
    }
    const tcp = native.socket(af, type, 0);
    if (tcp < 0) throw syscallError(-tcp, { syscall: 'socket' });
    return { fd: tcp, protocol: 0, fallback: reason };
  }
  const fd = native.socket(af, type, 0);
  if (fd < 0) throw syscallError(-fd, { syscall: 'socket' });
  return { fd, protocol: 0 };
}
