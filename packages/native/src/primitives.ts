/**
 * Low-level, syscall-shaped primitives on raw fds, for @mptcp/activation and the CLI. Every
 * failure is an MptcpSocketError with the errno name as `code`.
 */
import { SO_DOMAIN, SO_PROTOCOL, SOL_SOCKET } from '@mptcp/constants';
import { binding, sysconst } from './binding.js';
import { check, syscallError } from './errors.js';
import { fromNative } from './sockaddr.js';
import type { AcceptedConnection, PeerCredentials, SockAddr, SocketKind } from './types.js';

/** accept4(fd, SOCK_CLOEXEC|SOCK_NONBLOCK): the connection, or null when none is waiting (EAGAIN). */
export function accept(fd: number): AcceptedConnection | null {
  const r = check(binding().accept(fd), { syscall: 'accept' });
  if (r === null) return null;
  return { fd: r.fd, local: fromNative(r.local), remote: fromNative(r.remote) };
}

/** close(fd). EBADF and friends throw; EINTR is success on Linux. */
export function close(fd: number): void {
  check(binding().close(fd), { syscall: 'close' });
}

/** getsockname(fd). */
export function sockName(fd: number): SockAddr {
  return fromNative(check(binding().getsockname(fd), { syscall: 'getsockname' }));
}

/** getpeername(fd). */
export function peerName(fd: number): SockAddr {
  return fromNative(check(binding().getpeername(fd), { syscall: 'getpeername' }));
}

/** getsockopt(level, name) of an int option. */
export function getSocketOption(fd: number, level: number, name: number): number {
  return check(binding().getsockoptInt(fd, level, name), { syscall: 'getsockopt' }).value;
}

/** getsockopt(level, name) into `size` zeroed bytes (or a given input buffer); returns the bytes the kernel wrote. */
export function getSocketOptionBytes(fd: number, level: number, name: number, sizeOrInput: number | Buffer): Buffer {
  const input = typeof sizeOrInput === 'number' ? Buffer.alloc(sizeOrInput) : sizeOrInput;
  return check(binding().getsockoptBuffer(fd, level, name, input), { syscall: 'getsockopt' });
}

/** setsockopt(level, name) of an int option. */
export function setSocketOption(
  fd: number,
  level: number,
  name: number,
  value: number | boolean | string | Buffer,
): void {
  const native = binding();
  const r =
    typeof value === 'number' || typeof value === 'boolean'
      ? native.setsockoptInt(fd, level, name, Number(value))
      : native.setsockoptBuffer(fd, level, name, typeof value === 'string' ? Buffer.from(value) : value);
  check(r, { syscall: 'setsockopt' });
}

/** SO_PROTOCOL: 6 for TCP, 262 for MPTCP, 0 for AF_UNIX… */
export function socketProtocol(fd: number): number {
  return getSocketOption(fd, SOL_SOCKET, SO_PROTOCOL);
}

/** SO_DOMAIN: the address family number (AF_INET=2, AF_INET6=10, AF_UNIX=1…). */
export function socketDomain(fd: number): number {
  return getSocketOption(fd, SOL_SOCKET, SO_DOMAIN);
}

/** SO_TYPE as a SocketKind; other types (raw…) give undefined. */
export function socketType(fd: number): SocketKind | undefined {
  const t = getSocketOption(fd, sysconst('SOL_SOCKET'), sysconst('SO_TYPE'));
  if (t === sysconst('SOCK_STREAM')) return 'stream';
  if (t === sysconst('SOCK_DGRAM')) return 'datagram';
  if (t === sysconst('SOCK_SEQPACKET')) return 'seqpacket';
  return undefined;
}

/** Whether a stream/seqpacket socket is listening (SO_ACCEPTCONN). */
export function isListening(fd: number): boolean {
  return getSocketOption(fd, sysconst('SOL_SOCKET'), sysconst('SO_ACCEPTCONN')) !== 0;
}

/** O_NONBLOCK on or off (clear it before passing an fd to a child that expects blocking I/O). */
export function setNonBlocking(fd: number, on: boolean): void {
  check(binding().setNonBlocking(fd, on), { syscall: 'fcntl' });
}

/** FD_CLOEXEC on or off (clear it on fds a child must inherit). */
export function setCloexec(fd: number, on: boolean): void {
  check(binding().setCloexec(fd, on), { syscall: 'fcntl' });
}

/** The fd's O_NONBLOCK and FD_CLOEXEC flags. */
export function fdFlags(fd: number): { nonBlocking: boolean; cloexec: boolean } {
  return check(binding().fdFlags(fd), { syscall: 'fcntl' });
}

/** dup3(oldfd, newfd, O_CLOEXEC): makes `newfd` refer to oldfd's socket (e.g. to place an fd at 3). */
export function dup3(oldfd: number, newfd: number): number {
  return check(binding().dup3(oldfd, newfd), { syscall: 'dup3' });
}

/** SO_PEERCRED of a connected AF_UNIX socket. */
export function peerCredentials(fd: number): PeerCredentials {
  return check(binding().peerCredentials(fd), { syscall: 'getsockopt' });
}

/**
 * Sends one datagram to an AF_UNIX datagram socket from this process (e.g. sd_notify to
 * $NOTIFY_SOCKET, whose receiver checks the sender's PID). `address` is a SockAddr or a systemd-style
 * string: '/path' or '@abstract'.
 */
export function sendDatagram(address: string | SockAddr, data: Buffer): void {
  const native = binding();
  const to: SockAddr =
    typeof address === 'string'
      ? address.startsWith('@')
        ? { family: 'unix', path: address.slice(1), abstract: true }
        : { family: 'unix', path: address, abstract: false }
      : address;
  const af =
    to.family === 'unix'
      ? 'AF_UNIX'
      : to.family === 'inet'
        ? 'AF_INET'
        : to.family === 'inet6'
          ? 'AF_INET6'
          : 'AF_VSOCK';
  const fd = check(native.socket(sysconst(af), sysconst('SOCK_DGRAM'), 0), { syscall: 'socket' });
  try {
    check(native.connect(fd, to), { syscall: 'connect', address: typeof address === 'string' ? address : undefined });
    check(native.send(fd, data), { syscall: 'send' });
  } finally {
    native.close(fd);
  }
}

/** shutdown(fd, SHUT_WR): the peer reads end-of-file once it has read what was sent. */
export function shutdownWrite(fd: number): void {
  const native = binding();
  if (native.shutdown === undefined) throw syscallError(38 /* ENOSYS */, { syscall: 'shutdown' });
  check(native.shutdown(fd, 1), { syscall: 'shutdown' });
}

/**
 * A listening AF_UNIX stream socket on a filesystem path (CLOEXEC, non-blocking). The node is
 * created with exactly `mode` (bind() runs under a thread umask of ~mode: no window, no chmod that
 * could follow a symlink). An existing node is an EADDRINUSE error: the caller decides whether it is
 * stale. Nothing else of the process (its umask, its event loop) is touched.
 */
export function listenUnixStream(path: string, options: { mode: number; backlog?: number }): number {
  const native = binding();
  const fd = check(native.socket(sysconst('AF_UNIX'), sysconst('SOCK_STREAM'), 0), { syscall: 'socket' });
  try {
    check(native.bind(fd, { family: 'unix', path, abstract: false }, options.mode), {
      syscall: 'bind',
      address: path,
    });
    check(native.listen(fd, options.backlog ?? 128), { syscall: 'listen', address: path });
    return fd;
  } catch (err) {
    native.close(fd);
    throw err;
  }
}

/**
 * A non-blocking connect() to an AF_UNIX stream socket's path: the connected fd (CLOEXEC,
 * non-blocking), or an MptcpSocketError naming the errno (ECONNREFUSED: nobody listens on a node
 * that exists; ENOENT; EAGAIN: a listener whose backlog is full — it is alive).
 */
export function connectUnixStream(path: string): number {
  const native = binding();
  const fd = check(native.socket(sysconst('AF_UNIX'), sysconst('SOCK_STREAM'), 0), { syscall: 'socket' });
  try {
    check(native.connect(fd, { family: 'unix', path, abstract: false }), { syscall: 'connect', address: path });
    return fd;
  } catch (err) {
    native.close(fd);
    throw err;
  }
}

export { syscallError };
