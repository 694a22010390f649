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
  IPV6_TCLASS,
  IP_BIND_ADDRESS_NO_PORT,
  SO_LINGER,
  TCP_CORK,
  TCP_FASTOPEN,
  TCP_FASTOPEN_CONNECT,
  TCP_INQ,
  TCP_MAXSEG,
  TCP_NOTSENT_LOWAT,
  TCP_QUICKACK,
  TCP_USER_TIMEOUT,
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
  SO_TIMESTAMP,
  SO_TIMESTAMPNS,
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
 * C int, `string` = the bytes of a non-empty string (TCP_CONGESTION, SO_BINDTODEVICE), `choice` =
 * a word that selects one of the descriptor's `choices`, set to int 1 (any other word: not set).
 */
export type SockoptEncoding = 'flag' | 'int' | 'string' | 'choice';

/** The TypeScript value of each encoding. */
export interface SockoptValueOf {
  flag: boolean;
  int: number;
  string: string;
  choice: string;
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
  /** `choice`: the option each word selects (Timestamping=us → SO_TIMESTAMP, ns → SO_TIMESTAMPNS). */
  readonly choices?: Readonly<Record<string, SockoptTarget>>;
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
  SO_TIMESTAMP: t('SO_TIMESTAMP', SOL_SOCKET, SO_TIMESTAMP),
  SO_TIMESTAMPNS: t('SO_TIMESTAMPNS', SOL_SOCKET, SO_TIMESTAMPNS),
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
  // Options Node programs ask for (listen/connect options, the MPTCP support probe).
  SO_LINGER: t('SO_LINGER', SOL_SOCKET, SO_LINGER),
  TCP_USER_TIMEOUT: t('TCP_USER_TIMEOUT', IPPROTO_TCP, TCP_USER_TIMEOUT),
  TCP_FASTOPEN: t('TCP_FASTOPEN', IPPROTO_TCP, TCP_FASTOPEN),
  TCP_FASTOPEN_CONNECT: t('TCP_FASTOPEN_CONNECT', IPPROTO_TCP, TCP_FASTOPEN_CONNECT),
  TCP_CORK: t('TCP_CORK', IPPROTO_TCP, TCP_CORK),
  TCP_QUICKACK: t('TCP_QUICKACK', IPPROTO_TCP, TCP_QUICKACK),
  TCP_NOTSENT_LOWAT: t('TCP_NOTSENT_LOWAT', IPPROTO_TCP, TCP_NOTSENT_LOWAT),
  TCP_MAXSEG: t('TCP_MAXSEG', IPPROTO_TCP, TCP_MAXSEG),
  TCP_INQ: t('TCP_INQ', IPPROTO_TCP, TCP_INQ),
  IPV6_TCLASS: t('IPV6_TCLASS', IPPROTO_IPV6, IPV6_TCLASS),
  IP_BIND_ADDRESS_NO_PORT: t('IP_BIND_ADDRESS_NO_PORT', IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT),
} as const satisfies Readonly<Record<string, SockoptTarget>>;

const S = SOCKOPT;

type Extra = Partial<
  Pick<SocketOptionDescriptor, 'v6' | 'sctp' | 'choices' | 'force' | 'families' | 'min' | 'onError'>
>;

/** One descriptor (a refusal is a warning unless `onError: 'fatal'`); `field`/`encoding` keep their literal types. */
function option<const F extends string, const E extends SockoptEncoding>(
  directive: string,
  field: F,
  encoding: E,
  stage: SocketOptionDescriptor['stage'],
  set: SockoptTarget,
  extra: Extra = {},
): SocketOptionDescriptor & { readonly field: F; readonly encoding: E } {
  return { directive, field, encoding, stage, set, onError: 'warning', ...extra };
}

const ip = { families: 'ip' } as const;

/**
 * The [Socket] options, in the order systemd applies them. BindToDevice= is fatal, as in systemd
 * (the socket would not be what the unit asks for); every other refusal is a warning (e.g. IP_TTL
 * on an MPTCP socket: EOPNOTSUPP).
 */
export const SOCKET_OPTION_DESCRIPTORS = [
  option('BindToDevice', 'bindToDevice', 'string', 'pre-bind', S.SO_BINDTODEVICE, { ...ip, onError: 'fatal' }),
  option('ReusePort', 'reusePort', 'flag', 'pre-bind', S.SO_REUSEPORT, ip),
  option('FreeBind', 'freeBind', 'flag', 'pre-bind', S.IP_FREEBIND, { ...ip, v6: S.IPV6_FREEBIND }),
  option('Transparent', 'transparent', 'flag', 'pre-bind', S.IP_TRANSPARENT, { ...ip, v6: S.IPV6_TRANSPARENT }),
  option('KeepAlive', 'keepAlive', 'flag', 'post-listen', S.SO_KEEPALIVE),
  option('KeepAliveTimeSec', 'keepAliveTimeSec', 'int', 'post-listen', S.TCP_KEEPIDLE),
  option('KeepAliveIntervalSec', 'keepAliveIntervalSec', 'int', 'post-listen', S.TCP_KEEPINTVL),
  option('KeepAliveProbes', 'keepAliveProbes', 'int', 'post-listen', S.TCP_KEEPCNT),
  option('DeferAcceptSec', 'deferAcceptSec', 'int', 'post-listen', S.TCP_DEFER_ACCEPT, { min: 1 }),
  option('NoDelay', 'noDelay', 'flag', 'post-listen', S.TCP_NODELAY, { sctp: S.SCTP_NODELAY }),
  option('Broadcast', 'broadcast', 'flag', 'post-listen', S.SO_BROADCAST),
  option('PassCredentials', 'passCredentials', 'flag', 'post-listen', S.SO_PASSCRED),
  option('PassSecurity', 'passSecurity', 'flag', 'post-listen', S.SO_PASSSEC),
  option('PassPacketInfo', 'passPacketInfo', 'flag', 'post-listen', S.IP_PKTINFO, { ...ip, v6: S.IPV6_RECVPKTINFO }),
  option('Timestamping', 'timestamping', 'choice', 'post-listen', S.SO_TIMESTAMP, {
    choices: { us: S.SO_TIMESTAMP, ns: S.SO_TIMESTAMPNS },
  }),
  option('Priority', 'priority', 'int', 'post-listen', S.SO_PRIORITY, { min: 0 }),
  option('ReceiveBuffer', 'receiveBuffer', 'int', 'post-listen', S.SO_RCVBUF, { force: S.SO_RCVBUFFORCE, min: 1 }),
  option('SendBuffer', 'sendBuffer', 'int', 'post-listen', S.SO_SNDBUF, { force: S.SO_SNDBUFFORCE, min: 1 }),
  option('Mark', 'mark', 'int', 'post-listen', S.SO_MARK, { min: 0 }),
  // systemd sets IP_TOS at IPPROTO_IP on IPv6 sockets too (no IPV6_TCLASS).
  option('IPTOS', 'ipTos', 'int', 'post-listen', S.IP_TOS, { ...ip, min: 0 }),
  option('IPTTL', 'ipTtl', 'int', 'post-listen', S.IP_TTL, { ...ip, v6: S.IPV6_UNICAST_HOPS, min: 0 }),
  option('TCPCongestion', 'tcpCongestion', 'string', 'post-listen', S.TCP_CONGESTION),
] as const;

type Descriptors = (typeof SOCKET_OPTION_DESCRIPTORS)[number];

/** The field names of the [Socket] options (`noDelay`, `ipTtl`, …). */
export type SocketOptionField = Descriptors['field'];

/** The values of the [Socket] options, one optional field per descriptor, typed by its encoding. */
export type SocketOptionValues = {
  [D in Descriptors as D['field']]?: SockoptValueOf[D['encoding']];
};

/** The setsockopt target of `d` for `value` on a socket of `family` and `protocol` (choice, SCTP, IPv6 variants). */
export function sockoptTarget(
  d: SocketOptionDescriptor,
  family: string,
  protocol: number | undefined,
  value?: boolean | number | string,
): SockoptTarget {
  const choice = typeof value === 'string' ? d.choices?.[value] : undefined;
  if (choice) return choice;
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
    case 'choice':
      return typeof value === 'string' && d.choices?.[value] !== undefined ? 1 : undefined;
  }
}
