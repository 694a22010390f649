/**
 * The setsockopt descriptors of systemd's [Socket] options, shared by @mptcp/unit (a directive row
 * names the descriptor its value feeds) and @mptcp/native (openSocket() applies them generically).
 * The table is in systemd's order of application (src/core/socket.c socket_apply_socket_options(),
 * and the pre-bind options of src/shared/socket-label.c socket_address_listen()): adding a socket
 * option is one row here, plus the directive's row in @mptcp/unit.
 */
import { IPPROTO_IP, IPPROTO_SCTP, IPPROTO_TCP } from './protocols.js';
import { SOL_SOCKET } from './mptcp.js';
import {
  IPPROTO_IPV6,
  IPV6_FREEBIND,
  IPV6_RECVPKTINFO,
  IPV6_TRANSPARENT,
  IPV6_UNICAST_HOPS,
  IP_FREEBIND,
  IP_PKTINFO,
  IP_TOS,
  IP_TRANSPARENT,
  IP_TTL,
  SCTP_NODELAY,
  SO_BINDTODEVICE,
  SO_BROADCAST,
  SO_KEEPALIVE,
  SO_MARK,
  SO_PASSCRED,
  SO_PASSSEC,
  SO_PRIORITY,
  SO_RCVBUF,
  SO_RCVBUFFORCE,
  SO_REUSEPORT,
  SO_SNDBUF,
  SO_SNDBUFFORCE,
  TCP_CONGESTION,
  TCP_DEFER_ACCEPT,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_NODELAY,
} from './sockopt.js';

/** One setsockopt target: level, option and the option's C name (for messages). */
export interface SockoptTarget {
  readonly name: string;
  readonly level: number;
  readonly optname: number;
}

/**
 * How a value is encoded: `flag` = a boolean set as int 1 when true (false: not set), `int` = a
 * C int, `string` = the bytes of a non-empty string (TCP_CONGESTION, SO_BINDTODEVICE).
 */
export type SockoptEncoding = 'flag' | 'int' | 'string';

/** The TypeScript value of each encoding. */
export interface SockoptValueOf {
  flag: boolean;
  int: number;
  string: string;
}

/** One [Socket] option applied with setsockopt. */
export interface SocketOptionDescriptor {
  /** The [Socket] directive, as named in warnings (`NoDelay: setsockopt failed: …`). */
  readonly directive: string;
  /** The field of openSocket()'s spec (and of a unit's socket-option values) that carries the value. */
  readonly field: string;
  readonly encoding: SockoptEncoding;
  /** `pre-bind`: after socket(), before SO_REUSEADDR and bind(); `post-listen`: after listen(). */
  readonly stage: 'pre-bind' | 'post-listen';
  /** The option on IPv4 and every other family. */
  readonly set: SockoptTarget;
  /** The option on AF_INET6 sockets, when it differs. */
  readonly v6?: SockoptTarget;
  /** The option on SCTP sockets (SocketProtocol=sctp), when it differs. */
  readonly sctp?: SockoptTarget;
  /** Tried first; `set` only if it fails (SO_RCVBUFFORCE: root may exceed net.core.rmem_max). */
  readonly force?: SockoptTarget;
  /** `ip`: AF_INET/AF_INET6 sockets only; otherwise every family. */
  readonly families?: 'ip';
  /** `int`: applied only when the value is at least this (systemd's `>= 0` / `> 0` checks). */
  readonly min?: number;
  /** A refusal is `fatal` (the socket is closed, openSocket() throws) or a `warning` in the result. */
  readonly onError: 'fatal' | 'warning';
}

const t = (name: string, level: number, optname: number): SockoptTarget => ({ name, level, optname });

/** Named setsockopt targets (the probe table of @mptcp/native uses them too). */
export const SOCKOPT = {
  SO_BINDTODEVICE: t('SO_BINDTODEVICE', SOL_SOCKET, SO_BINDTODEVICE),
  SO_REUSEPORT: t('SO_REUSEPORT', SOL_SOCKET, SO_REUSEPORT),
  SO_KEEPALIVE: t('SO_KEEPALIVE', SOL_SOCKET, SO_KEEPALIVE),
  SO_BROADCAST: t('SO_BROADCAST', SOL_SOCKET, SO_BROADCAST),
  SO_PASSCRED: t('SO_PASSCRED', SOL_SOCKET, SO_PASSCRED),
  SO_PASSSEC: t('SO_PASSSEC', SOL_SOCKET, SO_PASSSEC),
  SO_PRIORITY: t('SO_PRIORITY', SOL_SOCKET, SO_PRIORITY),
  SO_RCVBUF: t('SO_RCVBUF', SOL_SOCKET, SO_RCVBUF),
  SO_RCVBUFFORCE: t('SO_RCVBUFFORCE', SOL_SOCKET, SO_RCVBUFFORCE),
  SO_SNDBUF: t('SO_SNDBUF', SOL_SOCKET, SO_SNDBUF),
  SO_SNDBUFFORCE: t('SO_SNDBUFFORCE', SOL_SOCKET, SO_SNDBUFFORCE),
  SO_MARK: t('SO_MARK', SOL_SOCKET, SO_MARK),
  IP_FREEBIND: t('IP_FREEBIND', IPPROTO_IP, IP_FREEBIND),
  IPV6_FREEBIND: t('IPV6_FREEBIND', IPPROTO_IPV6, IPV6_FREEBIND),
  IP_TRANSPARENT: t('IP_TRANSPARENT', IPPROTO_IP, IP_TRANSPARENT),
  IPV6_TRANSPARENT: t('IPV6_TRANSPARENT', IPPROTO_IPV6, IPV6_TRANSPARENT),
  IP_PKTINFO: t('IP_PKTINFO', IPPROTO_IP, IP_PKTINFO),
  IPV6_RECVPKTINFO: t('IPV6_RECVPKTINFO', IPPROTO_IPV6, IPV6_RECVPKTINFO),
  IP_TOS: t('IP_TOS', IPPROTO_IP, IP_TOS),
  IP_TTL: t('IP_TTL', IPPROTO_IP, IP_TTL),
  IPV6_UNICAST_HOPS: t('IPV6_UNICAST_HOPS', IPPROTO_IPV6, IPV6_UNICAST_HOPS),
  TCP_KEEPIDLE: t('TCP_KEEPIDLE', IPPROTO_TCP, TCP_KEEPIDLE),
  TCP_KEEPINTVL: t('TCP_KEEPINTVL', IPPROTO_TCP, TCP_KEEPINTVL),
  TCP_KEEPCNT: t('TCP_KEEPCNT', IPPROTO_TCP, TCP_KEEPCNT),
  TCP_DEFER_ACCEPT: t('TCP_DEFER_ACCEPT', IPPROTO_TCP, TCP_DEFER_ACCEPT),
  TCP_NODELAY: t('TCP_NODELAY', IPPROTO_TCP, TCP_NODELAY),
  SCTP_NODELAY: t('SCTP_NODELAY', IPPROTO_SCTP, SCTP_NODELAY),
  TCP_CONGESTION: t('TCP_CONGESTION', IPPROTO_TCP, TCP_CONGESTION),
} as const satisfies Readonly<Record<string, SockoptTarget>>;

const S = SOCKOPT;

/**
 * The [Socket] options, in the order systemd applies them. BindToDevice= is fatal, as in systemd
 * (the socket would not be what the unit asks for); every other refusal is a warning (e.g. IP_TTL
 * on an MPTCP socket: EOPNOTSUPP).
 */
export const SOCKET_OPTION_DESCRIPTORS = [
  {
    directive: 'BindToDevice',
    field: 'bindToDevice',
    encoding: 'string',
    stage: 'pre-bind',
    set: S.SO_BINDTODEVICE,
    families: 'ip',
    onError: 'fatal',
  },
  {
    directive: 'ReusePort',
    field: 'reusePort',
    encoding: 'flag',
    stage: 'pre-bind',
    set: S.SO_REUSEPORT,
    families: 'ip',
    onError: 'warning',
  },
  {
    directive: 'FreeBind',
    field: 'freeBind',
    encoding: 'flag',
    stage: 'pre-bind',
    set: S.IP_FREEBIND,
    v6: S.IPV6_FREEBIND,
    families: 'ip',
    onError: 'warning',
  },
  {
    directive: 'Transparent',
    field: 'transparent',
    encoding: 'flag',
    stage: 'pre-bind',
    set: S.IP_TRANSPARENT,
    v6: S.IPV6_TRANSPARENT,
    families: 'ip',
    onError: 'warning',
  },
  {
    directive: 'KeepAlive',
    field: 'keepAlive',
    encoding: 'flag',
    stage: 'post-listen',
    set: S.SO_KEEPALIVE,
    onError: 'warning',
  },
  {
    directive: 'KeepAliveTimeSec',
    field: 'keepAliveTimeSec',
    encoding: 'int',
    stage: 'post-listen',
    set: S.TCP_KEEPIDLE,
    onError: 'warning',
  },
  {
    directive: 'KeepAliveIntervalSec',
    field: 'keepAliveIntervalSec',
    encoding: 'int',
    stage: 'post-listen',
    set: S.TCP_KEEPINTVL,
    onError: 'warning',
  },
  {
    directive: 'KeepAliveProbes',
    field: 'keepAliveProbes',
    encoding: 'int',
    stage: 'post-listen',
    set: S.TCP_KEEPCNT,
    onError: 'warning',
  },
  {
    directive: 'DeferAcceptSec',
    field: 'deferAcceptSec',
    encoding: 'int',
    stage: 'post-listen',
    set: S.TCP_DEFER_ACCEPT,
    min: 1,
    onError: 'warning',
  },
  {
    directive: 'NoDelay',
    field: 'noDelay',
    encoding: 'flag',
    stage: 'post-listen',
    set: S.TCP_NODELAY,
    sctp: S.SCTP_NODELAY,
    onError: 'warning',
  },
  {
    directive: 'Broadcast',
    field: 'broadcast',
    encoding: 'flag',
    stage: 'post-listen',
    set: S.SO_BROADCAST,
    onError: 'warning',
  },
  {
    directive: 'PassCredentials',
    field: 'passCredentials',
    encoding: 'flag',
    stage: 'post-listen',
    set: S.SO_PASSCRED,
    onError: 'warning',
  },
  {
    directive: 'PassSecurity',
    field: 'passSecurity',
    encoding: 'flag',
    stage: 'post-listen',
    set: S.SO_PASSSEC,
    onError: 'warning',
  },
  {
    directive: 'PassPacketInfo',
    field: 'passPacketInfo',
    encoding: 'flag',
    stage: 'post-listen',
    set: S.IP_PKTINFO,
    v6: S.IPV6_RECVPKTINFO,
    families: 'ip',
    onError: 'warning',
  },
  {
    directive: 'Priority',
    field: 'priority',
    encoding: 'int',
    stage: 'post-listen',
    set: S.SO_PRIORITY,
    min: 0,
    onError: 'warning',
  },
  {
    directive: 'ReceiveBuffer',
    field: 'receiveBuffer',
    encoding: 'int',
    stage: 'post-listen',
    set: S.SO_RCVBUF,
    force: S.SO_RCVBUFFORCE,
    min: 1,
    onError: 'warning',
  },
  {
    directive: 'SendBuffer',
    field: 'sendBuffer',
    encoding: 'int',
    stage: 'post-listen',
    set: S.SO_SNDBUF,
    force: S.SO_SNDBUFFORCE,
    min: 1,
    onError: 'warning',
  },
  {
    directive: 'Mark',
    field: 'mark',
    encoding: 'int',
    stage: 'post-listen',
    set: S.SO_MARK,
    min: 0,
    onError: 'warning',
  },
  // systemd sets IP_TOS at IPPROTO_IP on IPv6 sockets too (no IPV6_TCLASS).
  {
    directive: 'IPTOS',
    field: 'ipTos',
    encoding: 'int',
    stage: 'post-listen',
    set: S.IP_TOS,
    families: 'ip',
    min: 0,
    onError: 'warning',
  },
  {
    directive: 'IPTTL',
    field: 'ipTtl',
    encoding: 'int',
    stage: 'post-listen',
    set: S.IP_TTL,
    v6: S.IPV6_UNICAST_HOPS,
    families: 'ip',
    min: 0,
    onError: 'warning',
  },
  {
    directive: 'TCPCongestion',
    field: 'tcpCongestion',
    encoding: 'string',
    stage: 'post-listen',
    set: S.TCP_CONGESTION,
    onError: 'warning',
  },
] as const satisfies readonly SocketOptionDescriptor[];

type Descriptors = (typeof SOCKET_OPTION_DESCRIPTORS)[number];

/** The field names of the [Socket] options (`noDelay`, `ipTtl`, …). */
export type SocketOptionField = Descriptors['field'];

/** The values of the [Socket] options, one optional field per descriptor, typed by its encoding. */
export type SocketOptionValues = {
  [D in Descriptors as D['field']]?: SockoptValueOf[D['encoding']];
};

/** The setsockopt target of `d` on a socket of `family` and `protocol` (v6 / SCTP variants). */
export function sockoptTarget(d: SocketOptionDescriptor, family: string, protocol: number | undefined): SockoptTarget {
  if (protocol === IPPROTO_SCTP && d.sctp) return d.sctp;
  if (family === 'inet6' && d.v6) return d.v6;
  return d.set;
}

/**
 * The value setsockopt gets for `value`, or undefined when the option is not applied: a flag
 * only when true, an int only at or above the descriptor's `min`, a string only when non-empty;
 * `families: 'ip'` only on AF_INET/AF_INET6.
 */
export function sockoptValue(
  d: SocketOptionDescriptor,
  value: boolean | number | string | undefined,
  family: string,
): number | string | undefined {
  if (value === undefined) return undefined;
  if (d.families === 'ip' && family !== 'inet' && family !== 'inet6') return undefined;
  switch (d.encoding) {
    case 'flag':
      return value === true ? 1 : undefined;
    case 'int':
      return typeof value === 'number' && (d.min === undefined || value >= d.min) ? value : undefined;
    case 'string':
      return typeof value === 'string' && value !== '' ? value : undefined;
  }
}
