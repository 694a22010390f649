/**
 * Socket options on MPTCP sockets. Go 1.24 made MPTCP the default for listeners and broke programs
 * whose kernel refused an option on an MPTCP socket (EOPNOTSUPP). Here each option is one row; a
 * per-process table, learned by probing once, says which ones this kernel accepts on MPTCP (and,
 * to tell "not on MPTCP" from "not allowed at all", on TCP). A listener or dial that needs an option
 * MPTCP refuses falls back to TCP with one warning per option ('prefer'), or fails ('require').
 */
import { IPPROTO_MPTCP, SOCKOPT, errnoNumber, type SockoptTarget } from '@mptcp/constants';
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

/** One row from a setsockopt target of @mptcp/constants (`v6`: the IPv6 target when it differs). */
function row(
  target: SockoptTarget,
  via: string,
  probe: Value,
  more: Partial<Pick<SocketOptionRow, 'on' | 'key' | 'value'>> & { v6?: SockoptTarget } = {},
): SocketOptionRow {
  const { v6, on = 'socket', ...rest } = more;
  return {
    name: target.name,
    level: target.level,
    option: target.optname,
    ...(v6 ? { v6: { level: v6.level, option: v6.optname } } : {}),
    via,
    on,
    probe,
    ...rest,
  };
}

const S = SOCKOPT;

/** The table. Adding an option is one row (and a field in MptcpSocketOptions when callers may ask for it). */
export const SOCKET_OPTIONS: readonly SocketOptionRow[] = [
  row(S.TCP_NODELAY, 'socket.setNoDelay(); http servers by default', 1, { key: 'noDelay', value: bool }),
  row(S.SO_KEEPALIVE, 'socket.setKeepAlive()', 1, { key: 'keepAlive', value: bool }),
  row(S.TCP_KEEPIDLE, 'socket.setKeepAlive(true, initialDelay)', 60, {
    key: 'keepAliveInitialDelay',
    value: (ms: number) => (ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : undefined),
  }),
  row(S.TCP_KEEPINTVL, 'keepAliveInterval', 10, { key: 'keepAliveInterval', value: int }),
  row(S.TCP_KEEPCNT, 'keepAliveCount', 5, { key: 'keepAliveCount', value: int }),
  row(S.TCP_USER_TIMEOUT, 'userTimeout', 30_000, { key: 'userTimeout', value: int }),
  row(S.SO_RCVBUF, 'receiveBufferSize', 1 << 20, { key: 'receiveBufferSize', value: int }),
  row(S.SO_SNDBUF, 'sendBufferSize', 1 << 20, { key: 'sendBufferSize', value: int }),
  row(S.TCP_FASTOPEN, 'fastOpen (listeners)', 16, { on: 'listener', key: 'fastOpen', value: int }),
  row(S.TCP_FASTOPEN_CONNECT, 'fastOpenConnect (dials)', 1, { key: 'fastOpenConnect', value: bool }),
  row(S.TCP_CONGESTION, 'congestion', 'reno', { key: 'congestion', value: (s: string) => s }),
  row(S.IP_TOS, 'tos', 0x10, { v6: S.IPV6_TCLASS, key: 'tos', value: int }),
  row(S.IP_TTL, 'ttl', 64, { v6: S.IPV6_UNICAST_HOPS, key: 'ttl', value: int }),
  row(S.TCP_CORK, 'frameworks batching writes', 1),
  row(S.TCP_QUICKACK, 'latency tuning', 1),
  row(S.TCP_NOTSENT_LOWAT, 'HTTP/2 servers', 16384),
  row(S.TCP_MAXSEG, 'MSS clamping', 1400),
  row(S.TCP_INQ, 'zero-copy receivers', 1),
  row(S.TCP_DEFER_ACCEPT, 'DeferAcceptSec=', 5, { on: 'listener' }),
  row(S.SO_REUSEPORT, 'listen({ reusePort: true }); ReusePort=', 1),
  row(S.SO_PRIORITY, 'Priority=', 3),
  row(S.SO_MARK, 'Mark=', 1),
  row(S.SO_LINGER, 'socket.resetAndDestroy()', Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])),
  row(S.IP_FREEBIND, 'FreeBind=', 1),
  row(S.IP_BIND_ADDRESS_NO_PORT, 'dialers with a localAddress', 1),
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
): { name: string; code: string; errno: number } | undefined {
  for (const { row, value } of requested(opts)) {
    const r = setRow(fd, row, value, family, mptcp);
    if (r === 0) continue;
    const errno = errnoName(-r);
    if (mptcp && NOT_ON_THIS_PROTOCOL.has(errno)) return { name: row.name, code: errno, errno: -r };
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
