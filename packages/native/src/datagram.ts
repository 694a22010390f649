/**
 * AF_UNIX datagrams with ancillary data: what the sd_notify protocol needs on both ends. A service
 * attaches fds (FDSTORE=1) with SCM_RIGHTS; the manager's notify socket (SO_PASSCRED, and
 * SO_PASSPIDFD where the kernel has it) reads the sender's credentials (SCM_CREDENTIALS) and pidfd
 * (SCM_PIDFD) to check NotifyAccess=, and the fds it was given.
 */
import { constants } from 'node:os';
import { binding, sysconst } from './binding.js';
import { check } from './errors.js';
import type { SockAddr } from './types.js';

/** One datagram read by {@link receiveDatagram}. */
export interface ReceivedDatagram {
  data: Buffer;
  /** The sender's PID/UID/GID (SCM_CREDENTIALS), -1 when the socket lacks SO_PASSCRED. */
  pid: number;
  uid: number;
  gid: number;
  /** fds passed with SCM_RIGHTS, now owned by the caller (close-on-exec). */
  fds: number[];
  /**
   * The sender's pidfd (SCM_PIDFD, the socket has SO_PASSPIDFD: see {@link passPidfd}), owned by the
   * caller (close-on-exec); -1 without one. It names the sender even after its PID is reused.
   */
  pidfd: number;
  /** The payload or the control data did not fit: drop the message and close `fds`. */
  truncated: boolean;
}

interface DatagramBinding {
  sendWithFds?: (fd: number, data: Buffer, fds: number[]) => number;
  recvWithCredentials?: (fd: number, maxBytes: number, maxFds: number) => ReceivedDatagram | null | number;
  passPidfd?: (fd: number) => number;
}

function dgram(): Required<DatagramBinding> {
  const b = binding() as unknown as DatagramBinding;
  if (!b.sendWithFds || !b.recvWithCredentials) {
    throw new Error(
      '@mptcp/native: this build of the addon has no sendWithFds/recvWithCredentials (rebuild it: npm rebuild @mptcp/native)',
    );
  }
  return b as Required<DatagramBinding>;
}

/** Whether the loaded addon can send and receive fds and credentials. */
export function datagramAncillarySupported(): boolean {
  try {
    dgram();
    return true;
  } catch {
    return false;
  }
}

/**
 * recvmsg(MSG_DONTWAIT|MSG_CMSG_CLOEXEC) of one datagram with its credentials and fds, or null when
 * none is queued (EAGAIN).
 */
export function receiveDatagram(fd: number, maxBytes = 4096, maxFds = 253): ReceivedDatagram | null {
  const d = check(dgram().recvWithCredentials(fd, maxBytes, maxFds), { syscall: 'recvmsg' });
  // An addon built before SCM_PIDFD has no field.
  if (d !== null && typeof d.pidfd !== 'number') d.pidfd = -1;
  return d;
}

/**
 * SO_PASSPIDFD on an AF_UNIX socket: each datagram read by {@link receiveDatagram} then carries its
 * sender's pidfd. False when the kernel (before 6.5: ENOPROTOOPT) or the addon lacks it; other
 * errors throw (syscall setsockopt).
 */
export function passPidfd(fd: number): boolean {
  const set = (binding() as unknown as DatagramBinding).passPidfd;
  if (!set) return false;
  const r = set(fd);
  if (r === -constants.errno.ENOPROTOOPT || r === -constants.errno.EINVAL) return false;
  check(r, { syscall: 'setsockopt' });
  return true;
}

/**
 * Sends one datagram with `fds` attached (SCM_RIGHTS) to an AF_UNIX datagram socket: '/path',
 * '@abstract' or a SockAddr. The receiver gets its own copies; the caller keeps its fds.
 */
export function sendDatagramWithFds(address: string | SockAddr, data: Buffer, fds: readonly number[]): void {
  const native = binding();
  const send = dgram().sendWithFds;
  const to: SockAddr =
    typeof address === 'string'
      ? address.startsWith('@')
        ? { family: 'unix', path: address.slice(1), abstract: true }
        : { family: 'unix', path: address, abstract: false }
      : address;
  const fd = check(native.socket(sysconst('AF_UNIX'), sysconst('SOCK_DGRAM'), 0), { syscall: 'socket' });
  try {
    check(native.connect(fd, to), { syscall: 'connect', ...(typeof address === 'string' ? { address } : {}) });
    check(send(fd, data, [...fds]), { syscall: 'sendmsg' });
  } finally {
    native.close(fd);
  }
}

/**
 * A connected pair of AF_UNIX stream sockets (socketpair(2) without a binding of its own: a
 * listener on a fresh abstract address, connect, accept). Both ends are close-on-exec and
 * non-blocking; e.g. one end becomes a child's stdout, the other is read by the parent.
 */
export function socketPair(): [number, number] {
  const native = binding();
  const address: SockAddr = {
    family: 'unix',
    path: `mptcp-node/pair/${process.pid}/${Math.random().toString(36).slice(2)}`,
    abstract: true,
  };
  const listener = check(native.socket(sysconst('AF_UNIX'), sysconst('SOCK_STREAM'), 0), { syscall: 'socket' });
  try {
    check(native.bind(listener, address), { syscall: 'bind' });
    check(native.listen(listener, 1), { syscall: 'listen' });
    const a = check(native.socket(sysconst('AF_UNIX'), sysconst('SOCK_STREAM'), 0), { syscall: 'socket' });
    try {
      // A unix stream connect to a listener with room in its backlog completes at once.
      check(native.connect(a, address), { syscall: 'connect' });
      const accepted = check(native.accept(listener), { syscall: 'accept' });
      if (accepted === null) throw new Error('@mptcp/native: socketPair: the connection was not queued');
      return [a, accepted.fd];
    } catch (err) {
      native.close(a);
      throw err;
    }
  } finally {
    native.close(listener);
  }
}
