/**
 * Socket options on MPTCP sockets. Go 1.24 made MPTCP the default for listeners and broke programs
 * whose kernel refused an option on an MPTCP socket (EOPNOTSUPP). Here each option is one row; a
 * per-process table, learned by probing once, says which ones this kernel accepts on MPTCP (and,
 * to tell "not on MPTCP" from "not allowed at all", on TCP). A listener or dial that needs an option
 * MPTCP refuses falls back to TCP with one warning per option ('prefer'), or fails ('require').
 */
import {
  IPPROTO_IP,
  IPPROTO_IPV6,
  IPPROTO_MPTCP,
  IPPROTO_TCP,
  IP_BIND_ADDRESS_NO_PORT,
  IP_FREEBIND,
  IP_TOS,
  IP_TTL,
  IPV6_TCLASS,
  IPV6_UNICAST_HOPS,
  SOL_SOCKET,
  SO_KEEPALIVE,
  SO_LINGER,
  SO_MARK,
  SO_PRIORITY,
  SO_RCVBUF,
  SO_REUSEPORT,
  SO_SNDBUF,
  TCP_CONGESTION,
  TCP_CORK,
  TCP_DEFER_ACCEPT,
  TCP_FASTOPEN,
  TCP_FASTOPEN_CONNECT,
  TCP_INQ,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_MAXSEG,
  TCP_NODELAY,
  TCP_NOTSENT_LOWAT,
  TCP_QUICKACK,
  TCP_USER_TIMEOUT,
  errnoNumber,
} from '@mptcp/constants';
import { binding, sysconst } from './binding.js';
import { MptcpSocketError, errnoMessage, errnoName } from './errors.js';

/** Options a listener or a dial can ask for; each maps to one row of the table. */
export interface MptcpSocketOptions {
  /** TCP_NODELAY (socket.setNoDelay). */
  noDelay?: boolean;
  /** SO_KEEPALIVE (socket.setKeepAlive). */
  keepAlive?: boolean;
  /** TCP_KEEPIDLE in ms, as net's keepAliveInitialDelay (rounded up to seconds). */
  keepAliveInitialDelay?: number;
  /** TCP_KEEPINTVL in seconds. */
  keepAliveInterval?: number;
  /** TCP_KEEPCNT. */
  keepAliveCount?: number;
  /** TCP_USER_TIMEOUT in ms. */
  userTimeout?: number;
  /** SO_RCVBUF in bytes. */
  receiveBufferSize?: number;
  /** SO_SNDBUF in bytes. */
  sendBufferSize?: number;
  /** TCP_FASTOPEN queue length (listeners). */
  fastOpen?: number;
  /** TCP_FASTOPEN_CONNECT (dials). */
  fastOpenConnect?: boolean;
  /** TCP_CONGESTION name, e.g. 'cubic'. */
  congestion?: string;
  /** IP_TOS (IPv4) or IPV6_TCLASS (IPv6). */
  tos?: number;
  /** IP_TTL (IPv4) or IPV6_UNICAST_HOPS (IPv6). */
  ttl?: number;
}

type Family = 'inet' | 'inet6';
type Value = number | string | Buffer;

/** One socket option: what sets it, where it applies, the value the probe uses. */
export interface SocketOptionRow {
  /** The option's C name (IPv4 name for per-family options). */
  readonly name: string;
  readonly level: number;
  readonly option: number;
  /** The IPv6 level/option when it differs. */
  readonly v6?: { level: number; option: number };
  /** Who sets it in Node programs. */
  readonly via: string;
  /** 'socket': a fresh socket; 'listener': a listening socket. */
  readonly on: 'socket' | 'listener';
  readonly probe: Value;
  /** The listen/connect option that asks for it, and how its value becomes setsockopt's. */
  readonly key?: keyof MptcpSocketOptions;
  readonly value?: (v: never) => Value | undefined;
}

const bool = (v: boolean): number | undefined => (v ? 1 : undefined);
const int = (v: number): number => Math.trunc(v);

/** The table. Adding an option is one row (and a field in MptcpSocketOptions when callers may ask for it). */
export const SOCKET_OPTIONS: readonly SocketOptionRow[] = [
  {
    name: 'TCP_NODELAY',
    level: IPPROTO_TCP,
    option: TCP_NODELAY,
    via: 'socket.setNoDelay(); http servers by default',
    on: 'socket',
    probe: 1,
    key: 'noDelay',
    value: bool,
  },
  {
    name: 'SO_KEEPALIVE',
    level: SOL_SOCKET,
    option: SO_KEEPALIVE,
    via: 'socket.setKeepAlive()',
    on: 'socket',
    probe: 1,
    key: 'keepAlive',
    value: bool,
  },
  {
    name: 'TCP_KEEPIDLE',
    level: IPPROTO_TCP,
    option: TCP_KEEPIDLE,
    via: 'socket.setKeepAlive(true, initialDelay)',
    on: 'socket',
    probe: 60,
    key: 'keepAliveInitialDelay',
    value: (ms: number) => (ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : undefined),
  },
  {
    name: 'TCP_KEEPINTVL',
    level: IPPROTO_TCP,
    option: TCP_KEEPINTVL,
    via: 'keepAliveInterval',
    on: 'socket',
    probe: 10,
    key: 'keepAliveInterval',
    value: int,
  },
  {
    name: 'TCP_KEEPCNT',
    level: IPPROTO_TCP,
    option: TCP_KEEPCNT,
    via: 'keepAliveCount',
    on: 'socket',
    probe: 5,
    key: 'keepAliveCount',
    value: int,
  },
  {
    name: 'TCP_USER_TIMEOUT',
    level: IPPROTO_TCP,
    option: TCP_USER_TIMEOUT,
    via: 'userTimeout',
    on: 'socket',
    probe: 30_000,
    key: 'userTimeout',
    value: int,
  },
  {
    name: 'SO_RCVBUF',
    level: SOL_SOCKET,
    option: SO_RCVBUF,
    via: 'receiveBufferSize',
    on: 'socket',
    probe: 1 << 20,
    key: 'receiveBufferSize',
    value: int,
  },
  {
    name: 'SO_SNDBUF',
    level: SOL_SOCKET,
    option: SO_SNDBUF,
    via: 'sendBufferSize',
    on: 'socket',
    probe: 1 << 20,
    key: 'sendBufferSize',
    value: int,
  },
  {
    name: 'TCP_FASTOPEN',
    level: IPPROTO_TCP,
    option: TCP_FASTOPEN,
    via: 'fastOpen (listeners)',
    on: 'listener',
    probe: 16,
    key: 'fastOpen',
    value: int,
  },
  {
    name: 'TCP_FASTOPEN_CONNECT',
    level: IPPROTO_TCP,
    option: TCP_FASTOPEN_CONNECT,
    via: 'fastOpenConnect (dials)',
    on: 'socket',
    probe: 1,
    key: 'fastOpenConnect',
    value: bool,
  },
  {
    name: 'TCP_CONGESTION',
    level: IPPROTO_TCP,
    option: TCP_CONGESTION,
    via: 'congestion',
    on: 'socket',
    probe: 'reno',
    key: 'congestion',
    value: (s: string) => s,
  },
  {
    name: 'IP_TOS',
    level: IPPROTO_IP,
    option: IP_TOS,
    v6: { level: IPPROTO_IPV6, option: IPV6_TCLASS },
    via: 'tos',
    on: 'socket',
    probe: 0x10,
    key: 'tos',
    value: int,
  },
  {
    name: 'IP_TTL',
    level: IPPROTO_IP,
    option: IP_TTL,
    v6: { level: IPPROTO_IPV6, option: IPV6_UNICAST_HOPS },
    via: 'ttl',
    on: 'socket',
    probe: 64,
    key: 'ttl',
    value: int,
  },
  { name: 'TCP_CORK', level: IPPROTO_TCP, option: TCP_CORK, via: 'frameworks batching writes', on: 'socket', probe: 1 },
  { name: 'TCP_QUICKACK', level: IPPROTO_TCP, option: TCP_QUICKACK, via: 'latency tuning', on: 'socket', probe: 1 },
  {
    name: 'TCP_NOTSENT_LOWAT',
    level: IPPROTO_TCP,
    option: TCP_NOTSENT_LOWAT,
    via: 'HTTP/2 servers',
    on: 'socket',
    probe: 16384,
  },
  { name: 'TCP_MAXSEG', level: IPPROTO_TCP, option: TCP_MAXSEG, via: 'MSS clamping', on: 'socket', probe: 1400 },
  { name: 'TCP_INQ', level: IPPROTO_TCP, option: TCP_INQ, via: 'zero-copy receivers', on: 'socket', probe: 1 },
  {
    name: 'TCP_DEFER_ACCEPT',
    level: IPPROTO_TCP,
    option: TCP_DEFER_ACCEPT,
    via: 'DeferAcceptSec=',
    on: 'listener',
    probe: 5,
  },
  {
    name: 'SO_REUSEPORT',
    level: SOL_SOCKET,
    option: SO_REUSEPORT,
    via: 'listen({ reusePort: true }); ReusePort=',
    on: 'socket',
    probe: 1,
  },
  { name: 'SO_PRIORITY', level: SOL_SOCKET, option: SO_PRIORITY, via: 'Priority=', on: 'socket', probe: 3 },
  { name: 'SO_MARK', level: SOL_SOCKET, option: SO_MARK, via: 'Mark=', on: 'socket', probe: 1 },
  {
    name: 'SO_LINGER',
    level: SOL_SOCKET,
    option: SO_LINGER,
    via: 'socket.resetAndDestroy()',
    on: 'socket',
    probe: Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]),
  },
  { name: 'IP_FREEBIND', level: IPPROTO_IP, option: IP_FREEBIND, via: 'FreeBind=', on: 'socket', probe: 1 },
  {
    name: 'IP_BIND_ADDRESS_NO_PORT',
    level: IPPROTO_IP,
    option: IP_BIND_ADDRESS_NO_PORT,
    via: 'dialers with a localAddress',
    on: 'socket',
    probe: 1,
  },
];

/** Probe result of one row: 'ok' or the errno name, on an MPTCP and on a TCP socket. */
export interface SocketOptionSupport {
  name: string;
  level: number;
  option: number;
  on: 'socket' | 'listener';
  via: string;
  mptcp: string;
  tcp: string;
  /** Works on TCP but not on MPTCP: a listener/dial that needs it falls back to TCP. */
  mptcpUnsupported: boolean;
}

// ---- the test seam: make setsockopt of one option fail on MPTCP sockets -------------------------

const faults = new Map<string, number>();

/**
 * Testing only: from now on, setting option `name` on an MPTCP socket fails with `errno` (a name
 * such as 'EOPNOTSUPP'), as a kernel that refuses it would; `undefined` removes the fault. The
 * probe table is forgotten so the next use probes again.
 */
export function injectSocketOptionFault(name: string, errno: string | undefined): void {
  if (errno === undefined) faults.delete(name);
  else faults.set(name, errnoNumber(errno) ?? 95);
  table = undefined;
}

function setRaw(fd: number, level: number, option: number, value: Value): number {
  const native = binding();
  if (typeof value === 'number') return native.setsockoptInt(fd, level, option, value);
  return native.setsockoptBuffer(fd, level, option, typeof value === 'string' ? Buffer.from(value) : value);
}

/** setsockopt for one row: 0 or -errno. `mptcp` says whether the socket is MPTCP (for the seam). */
function setRow(fd: number, row: SocketOptionRow, value: Value, family: Family, mptcp: boolean): number {
  const fault = mptcp ? faults.get(row.name) : undefined;
  if (fault !== undefined) return -fault;
  const where = family === 'inet6' && row.v6 ? row.v6 : row;
  return setRaw(fd, where.level, where.option, value);
}

// ---- the per-process table ----------------------------------------------------------------------

let table: SocketOptionSupport[] | undefined;

function probeOn(protocol: number): Map<string, string> | undefined {
  const native = binding();
  const af = sysconst('AF_INET');
  const type = sysconst('SOCK_STREAM');
  const result = new Map<string, string>();
  for (const on of ['socket', 'listener'] as const) {
    const fd = native.socket(af, type, protocol);
    if (fd < 0) return undefined;
    try {
      if (on === 'listener') {
        if (native.bind(fd, { family: 'inet', address: '127.0.0.1', port: 0 }) < 0 || native.listen(fd, 1) < 0)
          return undefined;
      }
      for (const row of SOCKET_OPTIONS) {
        if (row.on !== on) continue;
        const r = setRow(fd, row, row.probe, 'inet', protocol === IPPROTO_MPTCP);
        result.set(row.name, r === 0 ? 'ok' : errnoName(-r));
      }
    } finally {
      native.close(fd);
    }
  }
  return result;
}

/** errnos with which a kernel says "this option does not exist for this protocol". */
const NOT_ON_THIS_PROTOCOL = new Set(['EOPNOTSUPP', 'ENOPROTOOPT']);

/**
 * Which socket options this kernel accepts on MPTCP sockets (and on TCP, for comparison), probed
 * once per process on throw-away sockets (one unbound, one listening on 127.0.0.1:0) and cached.
 * Empty when MPTCP sockets cannot be created. `mptcpd-lite check` lists it.
 */
export function mptcpSocketOptions(options: { refresh?: boolean } = {}): SocketOptionSupport[] {
  if (table && !options.refresh) return table.map((r) => ({ ...r }));
  const mptcp = probeOn(IPPROTO_MPTCP);
  const tcp = probeOn(0);
  if (!mptcp || !tcp) {
    table = [];
    return [];
  }
  table = SOCKET_OPTIONS.map((row) => {
    const m = mptcp.get(row.name) ?? 'ok';
    const t = tcp.get(row.name) ?? 'ok';
    return {
      name: row.name,
      level: row.level,
      option: row.option,
      on: row.on,
      via: row.via,
      mptcp: m,
      tcp: t,
      mptcpUnsupported: t === 'ok' && NOT_ON_THIS_PROTOCOL.has(m),
    };
  });
  return table.map((r) => ({ ...r }));
}

// ---- used by listeners and dials -----------------------------------------------------------------

/** The rows a set of options asks for, with their setsockopt values. */
function requested(opts: MptcpSocketOptions): Array<{ row: SocketOptionRow; value: Value }> {
  const out: Array<{ row: SocketOptionRow; value: Value }> = [];
  for (const row of SOCKET_OPTIONS) {
    if (!row.key || !row.value) continue;
    const v = opts[row.key];
    if (v === undefined || v === false) continue;
    const value = (row.value as (x: unknown) => Value | undefined)(v);
    if (value !== undefined) out.push({ row, value });
  }
  return out;
}

const warnedOptions = new Set<string>();

function warnOnce(name: string, role: string): void {
  if (warnedOptions.has(name)) return;
  warnedOptions.add(name);
  process.emitWarning(
    `${name} is not supported on MPTCP sockets by this kernel (EOPNOTSUPP); this ${role} uses plain TCP`,
    'MptcpWarning',
  );
}

function unsupportedError(name: string, errno: string): MptcpSocketError {
  const n = errnoNumber(errno) ?? 95;
  return new MptcpSocketError({
    code: 'MPTCP_OPTION_UNSUPPORTED',
    errno: n,
    syscall: 'setsockopt',
    message: `setsockopt ${name} ${errno} (${errnoMessage(n)}): this kernel does not support ${name} on MPTCP sockets (drop the option, or allow plain TCP with mptcp: 'prefer')`,
  });
}

/**
 * Before creating a socket: the first requested option the table marks unsupported on MPTCP, or
 * undefined. With 'require' it throws MPTCP_OPTION_UNSUPPORTED; with 'prefer' it warns once.
 */
export function optionBlockingMptcp(
  opts: MptcpSocketOptions,
  mode: 'require' | 'prefer',
  role: 'listener' | 'dial',
): string | undefined {
  const wanted = requested(opts);
  if (wanted.length === 0) return undefined;
  const support = new Map(mptcpSocketOptions().map((r) => [r.name, r]));
  for (const { row } of wanted) {
    const s = support.get(row.name);
    if (s?.mptcpUnsupported) {
      if (mode === 'require') throw unsupportedError(row.name, s.mptcp);
      warnOnce(row.name, role);
      return row.name;
    }
  }
  return undefined;
}

/**
 * Applies the requested options to a fresh socket. Returns undefined when all were set, or the
 * name and errno of the first that MPTCP refused with EOPNOTSUPP/ENOPROTOOPT (the caller then
 * recreates the socket as TCP). Other failures throw: they would fail on TCP too.
 */
export function applySocketOptions(
  fd: number,
  opts: MptcpSocketOptions,
  family: Family,
  mptcp: boolean,
): { name: string; errno: string } | undefined {
  for (const { row, value } of requested(opts)) {
    const r = setRow(fd, row, value, family, mptcp);
    if (r === 0) continue;
    const errno = errnoName(-r);
    if (mptcp && NOT_ON_THIS_PROTOCOL.has(errno)) return { name: row.name, errno };
    throw new MptcpSocketError({
      code: errno,
      errno: -r,
      syscall: 'setsockopt',
      message: `setsockopt ${row.name} ${errno} (${errnoMessage(-r)})`,
    });
  }
  return undefined;
}

/** For callers that already hold a socket: warn once that `name` made this listener/dial TCP. */
export function warnOptionFallback(name: string, role: 'listener' | 'dial'): void {
  warnOnce(name, role);
}

/** Picks the options out of a larger object (listen/connect options, or a net.Server's fields). */
export function pickSocketOptions(source: object): MptcpSocketOptions {
  const out: Record<string, unknown> = {};
  for (const row of SOCKET_OPTIONS) {
    if (row.key && row.key in source) {
      const v = (source as Record<string, unknown>)[row.key];
      if (v !== undefined) out[row.key] = v;
    }
  }
  return out as MptcpSocketOptions;
}
