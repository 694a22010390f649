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
 * The [Socket] options are @mptcp/constants' SOCKET_OPTION_DESCRIPTORS, applied here generically
 * (stage, order, families, SCTP/IPv6 variants and fatal-or-warning come from the table). As in
 * systemd, a failing IPV6_V6ONLY, BindToDevice or SO_REUSEADDR is fatal (the socket would not be
 * what the unit asks for); ReusePort/FreeBind/Transparent and every option after listen() that the
 * kernel refuses become warnings in the result (e.g. IP_TTL on MPTCP: EOPNOTSUPP).
 */
import { mkdirSync, chmodSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  IPPROTO_MPTCP,
  IPPROTO_TCP,
  SOCKET_OPTION_DESCRIPTORS,
  sockoptTarget,
  sockoptValue,
  type SocketOptionDescriptor,
} from '@mptcp/constants';
import { binding, sysconst, type StreamListenerSpec } from './binding.js';
import { MptcpSocketError, check, errnoName, errnoMessage, syscallError } from './errors.js';
import { createSocket, nodeMptcp, wantsMptcp, type SocketRequest } from './policy.js';
import { formatSockAddr, fromNative } from './sockaddr.js';
import type { MptcpMode, OpenedSocket, OpenSocketSpec, SocketOptionWarning, SockAddr } from './types.js';

type Family = SockAddr['family'];

function setInt(fd: number, level: string, name: string, value: number): number {
  return binding().setsockoptInt(fd, sysconst(level), sysconst(name), value);
}

/** The descriptors of each stage, in the table's (systemd's) order: one short list per socket, not the table twice. */
const STAGES = {
  'pre-bind': SOCKET_OPTION_DESCRIPTORS.filter((d) => d.stage === 'pre-bind'),
  'post-listen': SOCKET_OPTION_DESCRIPTORS.filter((d) => d.stage === 'post-listen'),
} satisfies Record<SocketOptionDescriptor['stage'], readonly SocketOptionDescriptor[]>;

/** The spec's value for descriptor `d` (its `field`). */
const optionValue = (spec: OpenSocketSpec, d: SocketOptionDescriptor): boolean | number | string | undefined =>
  spec[d.field as keyof OpenSocketSpec] as boolean | number | string | undefined;

/**
 * setsockopt of one [Socket] option (a descriptor of @mptcp/constants): 0, -errno, or undefined
 * when the spec does not ask for it. The FORCE variant first when there is one (root may exceed
 * rmem_max), then the plain option.
 */
function applyOption(fd: number, d: SocketOptionDescriptor, spec: OpenSocketSpec, family: Family): number | undefined {
  const raw = optionValue(spec, d);
  const value = sockoptValue(d, raw, family);
  if (value === undefined) return undefined;
  const native = binding();
  const set = (target: { level: number; optname: number }): number =>
    typeof value === 'number'
      ? native.setsockoptInt(fd, target.level, target.optname, value)
      : native.setsockoptBuffer(fd, target.level, target.optname, Buffer.from(value));
  if (d.force && set(d.force) === 0) return 0;
  return set(sockoptTarget(d, family, spec.protocol, raw));
}

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
  // The address as text only for an error message (not formatted for each socket that opens).
  const where = (): string => formatSockAddr(spec.address);
  const request: SocketRequest = { family, kind: spec.kind };
  if (spec.protocol !== undefined) request.protocol = spec.protocol;
  if (spec.mptcp !== undefined) request.mptcp = spec.mptcp;
  if (spec.role !== undefined) request.role = spec.role;
  if (spec.disabledByEnv !== undefined) request.disabledByEnv = spec.disabledByEnv;
  let created;
  try {
    created = createSocket(request);
  } catch (err) {
    if (err instanceof MptcpSocketError && err.syscall === 'socket') throw withDetail(err, `for ${where()}`);
    throw err;
  }
  const { fd } = created;
  try {
    return configureSocket(spec, created, where);
  } catch (err) {
    // Every error path, a malformed address or port the addon refuses (TypeError) included: no fd leaks.
    native.close(fd);
    throw err;
  }
}

/** openSocket() after socket(): options, bind, listen; throws (the caller closes the fd). */
function configureSocket(
  spec: OpenSocketSpec,
  created: ReturnType<typeof createSocket>,
  where: () => string,
): OpenedSocket {
  const native = binding();
  const family = spec.address.family;
  const { fd, protocol } = created;
  const warnings: SocketOptionWarning[] = [];
  const fail = (errno: number, syscall: string): never => {
    throw syscallError(errno, { syscall, detail: `on ${where()}` });
  };

  if (family === 'inet6' && spec.bindIPv6Only !== undefined && spec.bindIPv6Only !== 'default') {
    const r = setInt(fd, 'IPPROTO_IPV6', 'IPV6_V6ONLY', spec.bindIPv6Only === 'ipv6-only' ? 1 : 0);
    if (r < 0) fail(-r, 'setsockopt(IPV6_V6ONLY)');
  }
  // The [Socket] options of one stage, in the table's (systemd's) order: fatal or a warning.
  const applyStage = (stage: SocketOptionDescriptor['stage']): void => {
    for (const d of STAGES[stage]) {
      // Most units set few options: an unset field costs one property read.
      if (optionValue(spec, d) === undefined) continue;
      const r = applyOption(fd, d, spec, family);
      if (r === undefined || r === 0) continue;
      if (d.onError === 'fatal')
        fail(-r, `setsockopt(${sockoptTarget(d, family, spec.protocol, optionValue(spec, d)).name})`);
      warnings.push(warn(d.directive, -r));
    }
  };
  applyStage('pre-bind');
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

  applyStage('post-listen');

  if (spec.nonBlocking === false) check(native.setNonBlocking(fd, false), { syscall: 'fcntl' });

  const local = fromNative(check(native.getsockname(fd), { syscall: 'getsockname' }));
  const proto = native.getsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_PROTOCOL'));
  const opened: OpenedSocket = { fd, local, protocol: typeof proto === 'number' ? protocol : proto.value, warnings };
  if (created.transport !== undefined) opened.transport = created.transport;
  if (created.fallbackReason !== undefined) opened.fallbackReason = created.fallbackReason;
  if (created.fallbackCode !== undefined) opened.fallbackCode = created.fallbackCode;
  return opened;
}

/** The (level, optname, value) triples of one stage's options, or undefined when one is not a plain int option. */
function intOptions(spec: OpenSocketSpec, stage: SocketOptionDescriptor['stage'], out: number[]): boolean {
  const family = spec.address.family;
  const rows = STAGES[stage];
  // Indexed, not for-of: a daemon opening 1,000 listeners runs this in V8's interpreter (mptcpd-lite
  // runs with --no-opt), where each for-of step allocates an iterator result (~1 MB of garbage).
  for (let i = 0; i < rows.length; i++) {
    const d = rows[i] as SocketOptionDescriptor;
    const raw = optionValue(spec, d);
    if (raw === undefined) continue;
    const value = sockoptValue(d, raw, family);
    if (value === undefined) continue;
    if (typeof value !== 'number' || d.force) return false;
    const target = sockoptTarget(d, family, spec.protocol, raw);
    out.push(target.level, target.optname, value);
  }
  return true;
}

/**
 * What openSocket() would do for `spec` when it is a plain listening IPv4/IPv6 stream socket: the
 * addon's spec and the protocol and transport createSocket() would give, or undefined (then only
 * openSocket() opens it): another family or kind, non-blocking mode off, a NODE_MPTCP-dependent
 * default (a `role` without `mptcp`, or NODE_MPTCP=0), a string option or one with a FORCE variant.
 */
function streamListener(
  spec: OpenSocketSpec,
): { req: StreamListenerSpec; protocol: number; transport: 'mptcp' | 'tcp' } | undefined {
  const family = spec.address.family;
  if ((family !== 'inet' && family !== 'inet6') || spec.kind !== 'stream' || spec.nonBlocking === false)
    return undefined;
  const protocol = spec.protocol ?? 0;
  if (protocol !== 0 && protocol !== IPPROTO_TCP && protocol !== IPPROTO_MPTCP) return undefined;
  const requested: MptcpMode | undefined =
    spec.mptcp ?? (protocol === IPPROTO_MPTCP ? 'require' : spec.role === undefined ? 'off' : undefined);
  if (requested === undefined || nodeMptcp() === '0') return undefined;
  const mptcp = wantsMptcp(requested);
  const pre: number[] = [];
  if (family === 'inet6' && spec.bindIPv6Only !== undefined && spec.bindIPv6Only !== 'default')
    pre.push(sysconst('IPPROTO_IPV6'), sysconst('IPV6_V6ONLY'), spec.bindIPv6Only === 'ipv6-only' ? 1 : 0);
  const post: number[] = [];
  if (!intOptions(spec, 'pre-bind', pre) || !intOptions(spec, 'post-listen', post)) return undefined;
  pre.push(sysconst('SOL_SOCKET'), sysconst('SO_REUSEADDR'), 1);
  return {
    req: {
      af: sysconst(family === 'inet' ? 'AF_INET' : 'AF_INET6'),
      protocol: mptcp ? IPPROTO_MPTCP : 0,
      address: spec.address,
      backlog: Math.min(spec.backlog ?? 2147483647, 2147483647),
      pre: Int32Array.from(pre),
      post: Int32Array.from(post),
    },
    protocol: mptcp ? IPPROTO_MPTCP : 0,
    transport: mptcp ? 'mptcp' : 'tcp',
  };
}

/**
 * openSocket() for many listening sockets at once (a daemon's start-up): the leading specs that are
 * plain IPv4/IPv6 stream listeners (see streamListener()) are opened by one addon call instead of ~8
 * calls each, exactly as openSocket() opens them (same syscalls, options and order). Returns one
 * entry per spec: the opened socket, or undefined for the specs left to openSocket() — every spec
 * from the first that does not qualify or that fails, so that opening the rest one by one, in
 * order, gives what opening all of them one by one gives (a failure and its message come from
 * openSocket()). An addon without the call leaves every spec to openSocket().
 */
export function openStreamListeners(specs: readonly OpenSocketSpec[]): Array<OpenedSocket | undefined> {
  const out: Array<OpenedSocket | undefined> = specs.map(() => undefined);
  const native = binding();
  if (typeof native.openStreamListeners !== 'function') return out;
  const batch: Array<NonNullable<ReturnType<typeof streamListener>>> = [];
  for (const spec of specs) {
    const one = streamListener(spec);
    if (!one) break;
    batch.push(one);
  }
  if (batch.length === 0) return out;
  const fds = native.openStreamListeners(batch.map((b) => b.req));
  for (let i = 0; i < batch.length; i++) {
    const fd = fds[i] ?? -1;
    if (fd < 0) break;
    const b = batch[i] as (typeof batch)[number];
    // An IPv4 address with a fixed port is bound as given (isIPv4() text is the kernel's own
    // form): no getsockname(), and the spec's address object is shared. A port 0 or an IPv6 address
    // (its text may not be the canonical one) is read back.
    let local: SockAddr = b.req.address;
    if (local.family !== 'inet' || local.port === 0) {
      const name = native.getsockname(fd);
      if (typeof name === 'number') {
        // Not expected of a listening socket: this one and the rest are closed and opened one by one.
        for (let j = i; j < batch.length && (fds[j] ?? -1) >= 0; j++) native.close(fds[j] ?? -1);
        break;
      }
      local = fromNative(name);
    }
    // socket() succeeded with this protocol: SO_PROTOCOL would say the same (0 is TCP for a stream).
    out[i] = { fd, local, protocol: b.protocol || IPPROTO_TCP, warnings: [], transport: b.transport };
  }
  return out;
}
