/**
 * openSocket(): one listening/bound socket from a systemd [Socket] description, created in
 * systemd's order (src/shared/socket-label.c socket_address_listen(), then
 * src/core/socket.c socket_apply_socket_options()):
 *
 *   socket(SOCK_CLOEXEC|SOCK_NONBLOCK) → IPV6_V6ONLY (unless BindIPv6Only=default) →
 *   [IP only] BindToDevice, ReusePort, FreeBind, Transparent → SO_REUSEADDR → bind
 *   (AF_UNIX: parents created with DirectoryMode, node mode from SocketMode via umask, stale node
 *   unlinked and bind retried once on EADDRINUSE) → listen(backlog) (stream/seqpacket) → the rest.
 *
 * As in systemd, a failing IPV6_V6ONLY, BindToDevice or SO_REUSEADDR is fatal (the socket would
 * not be what the unit asks for); ReusePort/FreeBind/Transparent and every option after listen()
 * that the kernel refuses become warnings in the result (e.g. IP_TTL on MPTCP: EOPNOTSUPP).
 */
import { mkdirSync, chmodSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { IPPROTO_SCTP } from '@mptcp/constants';
import { binding, sysconst } from './binding.js';
import { MptcpSocketError, check, errnoName, errnoMessage, syscallError } from './errors.js';
import { createSocket } from './policy.js';
import { formatSockAddr, fromNative } from './sockaddr.js';
import type { OpenedSocket, OpenSocketSpec, SocketOptionWarning, SockAddr } from './types.js';

type Family = SockAddr['family'];

/** One socket option: when it applies and how it is set. `set` returns 0 or -errno. */
interface OptionRow {
  /** The [Socket] directive, for warnings. */
  option: string;
  applies(spec: OpenSocketSpec, family: Family): boolean;
  set(fd: number, spec: OpenSocketSpec, family: Family): number;
}

const isIp = (f: Family): boolean => f === 'inet' || f === 'inet6';

function setInt(fd: number, level: string | number, name: string, value: number): number {
  return binding().setsockoptInt(fd, typeof level === 'number' ? level : sysconst(level), sysconst(name), value);
}

function setString(fd: number, level: string, name: string, value: string): number {
  return binding().setsockoptBuffer(fd, sysconst(level), sysconst(name), Buffer.from(value));
}

/** Per-family option: IPv4 name at IPPROTO_IP, IPv6 name at IPPROTO_IPV6. */
function perFamily(fd: number, family: Family, v4: string, v6: string, value: number): number {
  return family === 'inet6' ? setInt(fd, 'IPPROTO_IPV6', v6, value) : setInt(fd, 'IPPROTO_IP', v4, value);
}

/** Buffer sizes: the FORCE variant (root may exceed rmem_max), else the plain one. */
function setBuffer(fd: number, force: string, plain: string, value: number): number {
  const r = setInt(fd, 'SOL_SOCKET', force, value);
  return r === 0 ? 0 : setInt(fd, 'SOL_SOCKET', plain, value);
}

/** Before bind(), IP sockets only; failures are warnings (systemd logs and goes on). */
const PRE_BIND_OPTIONS: readonly OptionRow[] = [
  {
    option: 'ReusePort',
    applies: (s, f) => isIp(f) && s.reusePort === true,
    set: (fd) => setInt(fd, 'SOL_SOCKET', 'SO_REUSEPORT', 1),
  },
  {
    option: 'FreeBind',
    applies: (s, f) => isIp(f) && s.freeBind === true,
    set: (fd, _s, f) => perFamily(fd, f, 'IP_FREEBIND', 'IPV6_FREEBIND', 1),
  },
  {
    option: 'Transparent',
    applies: (s, f) => isIp(f) && s.transparent === true,
    set: (fd, _s, f) => perFamily(fd, f, 'IP_TRANSPARENT', 'IPV6_TRANSPARENT', 1),
  },
];

/** After listen(), in socket_apply_socket_options() order; failures are warnings. */
const POST_LISTEN_OPTIONS: readonly OptionRow[] = [
  {
    option: 'KeepAlive',
    applies: (s) => s.keepAlive === true,
    set: (fd) => setInt(fd, 'SOL_SOCKET', 'SO_KEEPALIVE', 1),
  },
  {
    option: 'KeepAliveTimeSec',
    applies: (s) => s.keepAliveTimeSec !== undefined,
    set: (fd, s) => setInt(fd, 'IPPROTO_TCP', 'TCP_KEEPIDLE', s.keepAliveTimeSec ?? 0),
  },
  {
    option: 'KeepAliveIntervalSec',
    applies: (s) => s.keepAliveIntervalSec !== undefined,
    set: (fd, s) => setInt(fd, 'IPPROTO_TCP', 'TCP_KEEPINTVL', s.keepAliveIntervalSec ?? 0),
  },
  {
    option: 'KeepAliveProbes',
    applies: (s) => s.keepAliveProbes !== undefined,
    set: (fd, s) => setInt(fd, 'IPPROTO_TCP', 'TCP_KEEPCNT', s.keepAliveProbes ?? 0),
  },
  {
    option: 'DeferAcceptSec',
    applies: (s) => s.deferAcceptSec !== undefined && s.deferAcceptSec > 0,
    set: (fd, s) => setInt(fd, 'IPPROTO_TCP', 'TCP_DEFER_ACCEPT', s.deferAcceptSec ?? 0),
  },
  {
    option: 'NoDelay',
    applies: (s) => s.noDelay === true,
    // SCTP_NODELAY is 3 at level IPPROTO_SCTP (linux/sctp.h); MPTCP and TCP use TCP_NODELAY.
    set: (fd, s) =>
      s.protocol === IPPROTO_SCTP
        ? binding().setsockoptInt(fd, IPPROTO_SCTP, 3, 1)
        : setInt(fd, 'IPPROTO_TCP', 'TCP_NODELAY', 1),
  },
  {
    option: 'Broadcast',
    applies: (s) => s.broadcast === true,
    set: (fd) => setInt(fd, 'SOL_SOCKET', 'SO_BROADCAST', 1),
  },
  {
    option: 'PassCredentials',
    applies: (s) => s.passCredentials === true,
    set: (fd) => setInt(fd, 'SOL_SOCKET', 'SO_PASSCRED', 1),
  },
  {
    option: 'PassSecurity',
    applies: (s) => s.passSecurity === true,
    set: (fd) => setInt(fd, 'SOL_SOCKET', 'SO_PASSSEC', 1),
  },
  {
    option: 'PassPacketInfo',
    applies: (s, f) => s.passPacketInfo === true && isIp(f),
    set: (fd, _s, f) => perFamily(fd, f, 'IP_PKTINFO', 'IPV6_RECVPKTINFO', 1),
  },
  {
    option: 'Priority',
    applies: (s) => s.priority !== undefined && s.priority >= 0,
    set: (fd, s) => setInt(fd, 'SOL_SOCKET', 'SO_PRIORITY', s.priority ?? 0),
  },
  {
    option: 'ReceiveBuffer',
    applies: (s) => s.receiveBuffer !== undefined && s.receiveBuffer > 0,
    set: (fd, s) => setBuffer(fd, 'SO_RCVBUFFORCE', 'SO_RCVBUF', s.receiveBuffer ?? 0),
  },
  {
    option: 'SendBuffer',
    applies: (s) => s.sendBuffer !== undefined && s.sendBuffer > 0,
    set: (fd, s) => setBuffer(fd, 'SO_SNDBUFFORCE', 'SO_SNDBUF', s.sendBuffer ?? 0),
  },
  {
    option: 'Mark',
    applies: (s) => s.mark !== undefined && s.mark >= 0,
    set: (fd, s) => setInt(fd, 'SOL_SOCKET', 'SO_MARK', s.mark ?? 0),
  },
  {
    option: 'IPTOS',
    applies: (s, f) => s.ipTos !== undefined && s.ipTos >= 0 && isIp(f),
    set: (fd, s) => setInt(fd, 'IPPROTO_IP', 'IP_TOS', s.ipTos ?? 0),
  },
  {
    option: 'IPTTL',
    applies: (s, f) => s.ipTtl !== undefined && s.ipTtl >= 0 && isIp(f),
    set: (fd, s, f) => perFamily(fd, f, 'IP_TTL', 'IPV6_UNICAST_HOPS', s.ipTtl ?? 0),
  },
  {
    option: 'TCPCongestion',
    applies: (s) => s.tcpCongestion !== undefined && s.tcpCongestion !== '',
    set: (fd, s) => setString(fd, 'IPPROTO_TCP', 'TCP_CONGESTION', s.tcpCongestion ?? ''),
  },
];

/** mkdir -p for the parents of a socket node; directories we create get exactly `mode`. */
function mkdirParents(path: string, mode: number): void {
  const missing: string[] = [];
  for (let dir = dirname(path); dir !== '/' && dir !== '.'; dir = dirname(dir)) {
    try {
      statSync(dir);
      break;
    } catch {
      missing.unshift(dir);
    }
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode });
      chmodSync(dir, mode); // mkdir's mode is filtered by the umask
    } catch {
      // as systemd: a parent we cannot create makes bind() fail with the real reason
    }
  }
}

/** The same error with " for ADDRESS" appended to its message (socket() knows no address). */
function withDetail(err: MptcpSocketError, detail: string): MptcpSocketError {
  return new MptcpSocketError({
    code: err.code,
    errno: err.errno,
    syscall: 'socket',
    message: `${err.message} ${detail}`,
    cause: err.cause,
  });
}

function warn(option: string, errno: number): SocketOptionWarning {
  const code = errnoName(errno);
  return { option, code, message: `${option}: setsockopt failed: ${code} (${errnoMessage(errno)})` };
}

/**
 * Creates, binds and (stream/seqpacket) listens one socket as systemd would for a Listen*= line.
 * Throws MptcpSocketError when the socket cannot be created or bound; refused options are warnings.
 */
export function openSocket(spec: OpenSocketSpec): OpenedSocket {
  const native = binding();
  const family = spec.address.family;
  const where = formatSockAddr(spec.address);
  let created;
  try {
    created = createSocket({
      family,
      kind: spec.kind,
      ...(spec.protocol === undefined ? {} : { protocol: spec.protocol }),
      ...(spec.mptcp === undefined ? {} : { mptcp: spec.mptcp }),
      ...(spec.role === undefined ? {} : { role: spec.role }),
      ...(spec.disabledByEnv === undefined ? {} : { disabledByEnv: spec.disabledByEnv }),
    });
  } catch (err) {
    if (err instanceof MptcpSocketError && err.syscall === 'socket') throw withDetail(err, `for ${where}`);
    throw err;
  }
  const { fd, protocol } = created;
  const warnings: SocketOptionWarning[] = [];
  const fail = (errno: number, syscall: string): never => {
    native.close(fd);
    throw syscallError(errno, { syscall, detail: `on ${where}` });
  };

  if (family === 'inet6' && spec.bindIPv6Only !== undefined && spec.bindIPv6Only !== 'default') {
    const r = setInt(fd, 'IPPROTO_IPV6', 'IPV6_V6ONLY', spec.bindIPv6Only === 'ipv6-only' ? 1 : 0);
    if (r < 0) fail(-r, 'setsockopt(IPV6_V6ONLY)');
  }
  if (isIp(family) && spec.bindToDevice) {
    const r = setString(fd, 'SOL_SOCKET', 'SO_BINDTODEVICE', spec.bindToDevice);
    if (r < 0) fail(-r, 'setsockopt(SO_BINDTODEVICE)');
  }
  for (const row of PRE_BIND_OPTIONS) {
    if (!row.applies(spec, family)) continue;
    const r = row.set(fd, spec, family);
    if (r < 0) warnings.push(warn(row.option, -r));
  }
  {
    const r = setInt(fd, 'SOL_SOCKET', 'SO_REUSEADDR', 1);
    if (r < 0) fail(-r, 'setsockopt(SO_REUSEADDR)');
  }

  const address = spec.address;
  if (address.family === 'unix' && !address.abstract && address.path !== '') {
    mkdirParents(address.path, spec.directoryMode ?? 0o755);
    const mode = spec.socketMode ?? 0o666;
    let r = native.bind(fd, address, mode);
    if (r < 0 && errnoName(-r) === 'EADDRINUSE') {
      // A stale node from a previous run: unlink it and retry once (systemd does the same).
      try {
        unlinkSync(address.path);
        r = native.bind(fd, address, mode);
      } catch {
        // keep the original EADDRINUSE
      }
    }
    if (r < 0) fail(-r, 'bind');
  } else {
    const r = native.bind(fd, address);
    if (r < 0) fail(-r, 'bind');
  }

  if (spec.kind !== 'datagram') {
    const r = native.listen(fd, Math.min(spec.backlog ?? 2147483647, 2147483647));
    if (r < 0) fail(-r, 'listen');
  }

  for (const row of POST_LISTEN_OPTIONS) {
    if (!row.applies(spec, family)) continue;
    const r = row.set(fd, spec, family);
    if (r < 0) warnings.push(warn(row.option, -r));
  }

  if (spec.nonBlocking === false) check(native.setNonBlocking(fd, false), { syscall: 'fcntl' });

  const local = fromNative(check(native.getsockname(fd), { syscall: 'getsockname' }));
  const proto = native.getsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_PROTOCOL'));
  const opened: OpenedSocket = { fd, local, protocol: typeof proto === 'number' ? protocol : proto.value, warnings };
  if (created.transport !== undefined) opened.transport = created.transport;
  if (created.fallbackReason !== undefined) opened.fallbackReason = created.fallbackReason;
  if (created.fallbackErrno !== undefined) opened.fallbackErrno = created.fallbackErrno;
  return opened;
}
