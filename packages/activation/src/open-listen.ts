/**
 * Opening the Listen*= entries of one socket unit, as systemd's socket_open_fds() does: the
 * protocol per socket type (stream takes sctp/mptcp, datagram only udplite, seqpacket only sctp),
 * options through @mptcp/native, then chown/symlinks for file-system nodes. MPTCP fallback policy
 * lives here and nowhere else.
 */
import {
  chownSync,
  constants as fsc,
  lstatSync,
  mkdirSync,
  openSync,
  closeSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  readlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import {
  IPPROTO_MPTCP,
  IPPROTO_SCTP,
  IPPROTO_UDPLITE,
  ipProtocolName,
  mptcpUnavailableHint,
  mptcpUnavailableReason,
} from '@mptcp/constants';
import type { OpenSocketSpec, OpenedSocket, SockAddr, SocketKind } from '@mptcp/native';
import { socketOptionValues, type ListenEntry, type SocketUnit } from '@mptcp/unit';
import { ActivationError, errnoNumberOf, errnoOf, messageOf } from './errors.js';
import { formatSockAddr, toSockAddr } from './listen-address.js';
import type { Logger } from './logger.js';
import type { NativeApi } from './native-binding.js';
import { resolveGroup, resolveUser } from './user.js';

/** How a port ended up: `fallback` = MPTCP was asked for, plain TCP was opened (X-MPTCPFallback=yes). */
export type Transport =
  'mptcp' | 'tcp' | 'fallback' | 'udp' | 'udplite' | 'sctp' | 'unix' | 'fifo' | 'special' | 'vsock';

export interface OpenedPort {
  entry: ListenEntry;
  fd: number;
  /** Bound address (port 0 resolved); undefined for FIFOs and special files. */
  local: SockAddr | undefined;
  /** SO_PROTOCOL (0 for non-sockets). */
  protocol: number;
  transport: Transport;
  /** File-system nodes to remove on stop when RemoveOnStop=yes. */
  nodes: string[];
}

/** The protocol systemd passes to socket() for this kind (§1). */
export function protocolFor(kind: SocketKind, socketProtocol: number): number {
  if (kind === 'stream' && (socketProtocol === IPPROTO_MPTCP || socketProtocol === IPPROTO_SCTP)) return socketProtocol;
  if (kind === 'datagram' && socketProtocol === IPPROTO_UDPLITE) return socketProtocol;
  if (kind === 'seqpacket' && socketProtocol === IPPROTO_SCTP) return socketProtocol;
  return 0;
}

/**
 * openSocket()'s spec for one Listen*= entry: the socket's shape from the unit, and its [Socket]
 * options as the unit's registry gives them (socketOptionValues(): one field per setsockopt row).
 */
export function openSocketSpec(
  unit: SocketUnit,
  kind: SocketKind,
  address: SockAddr,
  protocol: number,
): OpenSocketSpec {
  return {
    kind,
    address,
    protocol,
    backlog: Math.min(unit.backlog, 0x7fffffff),
    bindIPv6Only: unit.bindIPv6Only,
    directoryMode: unit.directoryMode,
    socketMode: unit.socketMode,
    nonBlocking: true,
    ...socketOptionValues(unit),
  };
}

function transportOf(kind: SocketKind, address: SockAddr, protocol: number, fellBack: boolean): Transport {
  if (address.family === 'unix') return 'unix';
  if (address.family === 'vsock') return 'vsock';
  if (fellBack) return 'fallback';
  if (protocol === IPPROTO_MPTCP) return 'mptcp';
  if (protocol === IPPROTO_SCTP) return 'sctp';
  if (protocol === IPPROTO_UDPLITE) return 'udplite';
  return kind === 'datagram' ? 'udp' : 'tcp';
}

/** Listeners opened ahead by preopenPorts(), by entry; openPorts() takes each one it finds. */
export type Preopened = Map<ListenEntry, OpenedSocket>;

/** openSocket()'s spec for an entry, as openSocketPort() builds it (`mptcp`: the mode for IP sockets). */
function listenSpec(
  unit: SocketUnit,
  kind: SocketKind,
  address: SockAddr,
  wanted: number,
  mptcp: 'prefer' | 'require' | undefined,
  unixFallback: boolean,
): OpenSocketSpec {
  const spec = openSocketSpec(unit, kind, address, mptcp === undefined && !unixFallback ? wanted : 0);
  if (mptcp !== undefined) {
    spec.mptcp = mptcp;
    spec.disabledByEnv = 'tcp';
  }
  return spec;
}

/**
 * Opens, with one native call (NativeApi.openSockets), the listeners that start-up would open first
 * anyway: the leading run, in unit and Listen= order, of IPv4/IPv6 stream entries, over the units
 * whose service is loaded (`skip`: the others open nothing in either case). The run ends at the first
 * entry of another kind, so nothing is opened out of order; what native leaves to openSocket() (a
 * failure, an option it does not batch) is opened by openPorts() as before, at its turn.
 */
export function preopenPorts(
  units: readonly SocketUnit[],
  native: NativeApi,
  skip: (unit: SocketUnit) => boolean,
): Preopened {
  const preopened: Preopened = new Map();
  if (!native.openSockets) return preopened;
  const entries: ListenEntry[] = [];
  const specs: OpenSocketSpec[] = [];
  // Indexed loops (here and in openPorts()): they run once per unit at daemon start, in V8's interpreter
  // (mptcpd-lite runs with --no-opt), where each for-of step allocates an iterator result.
  run: for (let u = 0; u < units.length; u++) {
    const unit = units[u] as SocketUnit;
    if (skip(unit)) continue;
    for (let l = 0; l < unit.listen.length; l++) {
      const entry = unit.listen[l] as ListenEntry;
      const address = entry.kind === 'stream' ? toSockAddr(entry.address) : undefined;
      if (!address || (address.family !== 'inet' && address.family !== 'inet6')) break run;
      const wanted = protocolFor('stream', unit.socketProtocol);
      const mptcp = wanted === IPPROTO_MPTCP ? (unit.mptcpFallback ? 'prefer' : 'require') : undefined;
      entries.push(entry);
      specs.push(listenSpec(unit, 'stream', address, wanted, mptcp, false));
    }
  }
  if (specs.length === 0) return preopened;
  const opened = native.openSockets(specs);
  for (let i = 0; i < entries.length; i++) {
    const o = opened[i];
    if (o) preopened.set(entries[i] as ListenEntry, o);
  }
  return preopened;
}

/** Closes what preopenPorts() opened and no unit took (its unit failed before reaching it). */
export function closePreopened(preopened: Preopened, native: NativeApi): void {
  for (const o of preopened.values()) native.close(o.fd);
  preopened.clear();
}

/** Opens every entry; on failure closes what was opened and throws an ActivationError. */
export function openPorts(unit: SocketUnit, native: NativeApi, logger: Logger, preopened?: Preopened): OpenedPort[] {
  const opened: OpenedPort[] = [];
  try {
    for (let l = 0; l < unit.listen.length; l++) {
      const port = openPort(unit, unit.listen[l] as ListenEntry, native, logger, preopened);
      if (port) opened.push(port);
    }
    if (unit.symlinks.length > 0) createSymlinks(unit, opened, logger);
  } catch (err) {
    closePorts(opened, native, false);
    throw err;
  }
  return opened;
}

function openPort(
  unit: SocketUnit,
  entry: ListenEntry,
  native: NativeApi,
  logger: Logger,
  preopened: Preopened | undefined,
): OpenedPort | undefined {
  switch (entry.kind) {
    case 'stream':
    case 'datagram':
    case 'seqpacket':
      return openSocketPort(unit, entry, entry.kind, native, logger, preopened);
    case 'fifo':
      return openFifo(unit, entry);
    case 'special':
      return openSpecial(unit, entry);
    default:
      logger.warn(`Listen${entry.kind}=${entry.value} is not supported by mptcpd-lite, ignoring.`, { unit: unit.name });
      return undefined;
  }
}

function openSocketPort(
  unit: SocketUnit,
  entry: ListenEntry,
  listenKind: SocketKind,
  native: NativeApi,
  logger: Logger,
  preopened?: Preopened,
): OpenedPort {
  const address = toSockAddr(entry.address);
  if (!address)
    throw new ActivationError('UNSUPPORTED_LISTEN', `Unsupported address ${entry.value}`, {
      unit: unit.name,
      address: entry.value,
    });
  const kind: SocketKind =
    entry.address.family === 'vsock' && entry.address.type !== undefined ? vsockKind(entry.address.type) : listenKind;
  const wanted = protocolFor(kind, unit.socketProtocol);
  if (address.family === 'unix' && !address.abstract) prepareUnixPath(address.path);
  // MPTCP policy (NODE_MPTCP, the fallback) is @mptcp/native's: we pass the mode and read back the
  // transport. NODE_MPTCP=0 is the operator's switch and overrides SocketProtocol=mptcp.
  const ip = address.family === 'inet' || address.family === 'inet6';
  const mptcp = wanted === IPPROTO_MPTCP && ip ? (unit.mptcpFallback ? 'prefer' : 'require') : undefined;
  // AF_UNIX cannot be MPTCP: systemd 257 fails with EPROTONOSUPPORT; X-MPTCPFallback=yes listens without it.
  const unixMptcp = wanted === IPPROTO_MPTCP && address.family === 'unix';
  if (unixMptcp && unit.mptcpFallback)
    logger.warn(
      `SocketProtocol=mptcp does not apply to AF_UNIX ${entry.value}; X-MPTCPFallback=yes: listening without it.`,
      { unit: unit.name },
    );
  let opened = preopened?.get(entry);
  if (opened) preopened?.delete(entry);
  else
    try {
      opened = native.openSocket(listenSpec(unit, kind, address, wanted, mptcp, unixMptcp && unit.mptcpFallback));
    } catch (err) {
      const errno = errnoOf(err);
      if (unixMptcp && errno === 'EPROTONOSUPPORT') {
        throw new ActivationError(
          'UNSUPPORTED_LISTEN',
          `Failed to create listening socket (${entry.value}): Protocol not supported: SocketProtocol=mptcp applies to IPv4/IPv6 sockets, not AF_UNIX (drop it, or set X-MPTCPFallback=yes to listen without MPTCP) [${errno}]`,
          { unit: unit.name, address: entry.value, syscall: 'socket', errno: errnoNumberOf(err), cause: err },
        );
      }
      const reason = mptcp !== undefined && errno !== undefined ? mptcpUnavailableReason(errno) : undefined;
      if (reason === undefined) throw socketError(unit, entry, err);
      throw new ActivationError(
        'MPTCP_UNAVAILABLE',
        `Failed to create listening socket (${entry.value}): ${mptcpUnavailableHint(reason)}; or allow plain TCP with X-MPTCPFallback=yes [${errno}]`,
        { unit: unit.name, address: entry.value, syscall: 'socket', errno: errnoNumberOf(err), cause: err },
      );
    }
  const fellBack = opened.fallbackReason !== undefined;
  if (opened.fallbackReason === 'disabled-by-env') {
    logger.warn(`MPTCP disabled by NODE_MPTCP=0: listening on ${entry.value} with plain TCP.`, { unit: unit.name });
  } else if (opened.fallbackReason !== undefined) {
    const hint = mptcpUnavailableHint(
      opened.fallbackReason === 'disabled-by-sysctl' ? 'disabled-by-sysctl' : 'kernel-without-mptcp',
    );
    logger.warn(`MPTCP unavailable for ${entry.value} (${hint}); X-MPTCPFallback=yes: listening with plain TCP.`, {
      unit: unit.name,
    });
  }
  for (const w of opened.warnings) {
    logger.warn(`${w.option} failed on ${entry.value}, ignoring: ${w.message}`, { unit: unit.name });
  }
  const nodes: string[] = [];
  if (address.family === 'unix' && !address.abstract) {
    nodes.push(address.path);
    chownNode(unit, address.path);
  }
  return {
    entry,
    fd: opened.fd,
    local: opened.local,
    protocol: opened.protocol,
    transport: transportOf(kind, address, opened.protocol, fellBack),
    nodes,
  };
}

function vsockKind(type: 'stream' | 'dgram' | 'seqpacket'): SocketKind {
  return type === 'dgram' ? 'datagram' : type;
}

function socketError(unit: SocketUnit, entry: ListenEntry, err: unknown): ActivationError {
  const errno = errnoNumberOf(err);
  const syscall =
    typeof err === 'object' && err !== null && 'syscall' in err
      ? String((err as { syscall: unknown }).syscall)
      : undefined;
  const proto = unit.socketProtocol
    ? ` (SocketProtocol=${ipProtocolName(unit.socketProtocol) ?? unit.socketProtocol})`
    : '';
  return new ActivationError(
    'SOCKET_OPEN_FAILED',
    `Failed to create listening socket (${entry.value})${proto}: ${messageOf(err)}`,
    {
      unit: unit.name,
      address: entry.value,
      ...(syscall !== undefined ? { syscall } : {}),
      ...(errno !== undefined ? { errno } : {}),
      cause: err,
    },
  );
}

/** systemd unlinks a stale socket node before bind (sockaddr_un_unlink()); only sockets, never other files. */
function prepareUnixPath(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there.
  }
}

function chownNode(unit: SocketUnit, path: string): void {
  if (unit.socketUser === undefined && unit.socketGroup === undefined) return;
  const user = unit.socketUser !== undefined ? resolveUser(unit.socketUser, unit.name) : undefined;
  const gid = unit.socketGroup !== undefined ? resolveGroup(unit.socketGroup, unit.name) : (user?.gid ?? -1);
  chownSync(path, user?.uid ?? -1, gid);
}

function openFifo(unit: SocketUnit, entry: ListenEntry): OpenedPort {
  const path = entry.address.family === 'path' ? entry.address.path : entry.value;
  mkdirSync(dirname(path), { recursive: true, mode: unit.directoryMode });
  let exists = false;
  try {
    const st = lstatSync(path);
    if (!st.isFIFO())
      throw new ActivationError('SOCKET_OPEN_FAILED', `Failed to open FIFO ${path}: File exists and is not a FIFO`, {
        unit: unit.name,
        address: path,
        errno: errnoNumberOf('EEXIST'),
      });
    exists = true;
  } catch (err) {
    if (err instanceof ActivationError) throw err;
  }
  // Node has no mkfifo(); coreutils' mkfifo -m sets the mode exactly (no umask window).
  if (!exists)
    (createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process')).execFileSync(
      'mkfifo',
      ['-m', (unit.socketMode & 0o7777).toString(8), path],
    );
  // O_RDWR keeps the FIFO open with a writer so that it never reports EOF; Node adds O_CLOEXEC.
  const fd = openSync(path, fsc.O_RDWR | fsc.O_NONBLOCK | fsc.O_NOCTTY | fsc.O_NOFOLLOW);
  try {
    chownNode(unit, path);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { entry, fd, local: undefined, protocol: 0, transport: 'fifo', nodes: [path] };
}

function openSpecial(unit: SocketUnit, entry: ListenEntry): OpenedPort {
  const path = entry.address.family === 'path' ? entry.address.path : entry.value;
  const fd = openSync(path, (unit.writable ? fsc.O_RDWR : fsc.O_RDONLY) | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  return { entry, fd, local: undefined, protocol: 0, transport: 'special', nodes: [] };
}

/** Symlinks= point at the unit's single file-system node (the parser enforces "exactly one"). */
function createSymlinks(unit: SocketUnit, ports: OpenedPort[], logger: Logger): void {
  const target = ports.flatMap((p) => p.nodes)[0];
  if (target === undefined) {
    logger.warn('Symlinks= set, but the unit has no file-system socket or FIFO, ignoring.', { unit: unit.name });
    return;
  }
  const owner = ports.find((p) => p.nodes.includes(target));
  for (const link of unit.symlinks) {
    try {
      mkdirSync(dirname(link), { recursive: true, mode: unit.directoryMode });
      symlinkSync(target, link);
      owner?.nodes.push(link);
    } catch (err) {
      // systemd's symlink_idempotent(): a link that already points at the node is ours; anything
      // else at that path belongs to someone else and is left alone (never replaced, never removed
      // by RemoveOnStop=), with a warning.
      if (errnoOf(err) === 'EEXIST' && readlinkOrUndefined(link) === target) {
        owner?.nodes.push(link);
        continue;
      }
      logger.warn(
        `Failed to create symlink ${target} → ${link}, ignoring: ${errnoOf(err) === 'EEXIST' ? 'File exists (not ours: left in place)' : messageOf(err)}`,
        { unit: unit.name },
      );
    }
  }
}

function readlinkOrUndefined(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Closes the fds; removes the nodes when `removeNodes` (RemoveOnStop=yes). */
export function closePorts(ports: readonly OpenedPort[], native: NativeApi, removeNodes: boolean): void {
  for (const p of ports) {
    try {
      if (p.transport === 'fifo' || p.transport === 'special') closeSync(p.fd);
      else native.close(p.fd);
    } catch {
      // Closing twice is a bug elsewhere; closing must never throw during shutdown.
    }
    if (removeNodes) {
      for (const node of p.nodes) rmSync(node, { force: true });
    }
  }
}

export { formatSockAddr };
