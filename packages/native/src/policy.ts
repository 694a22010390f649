/**
 * MPTCP policy as data: which mode a listener or dialer gets (NODE_MPTCP and defaults), and on
 * which errors 'prefer' falls back to plain TCP.
 *
 * NODE_MPTCP (like Go's GODEBUG=multipathtcp):
 * - unset or `2`: listeners default to 'prefer', dialers to false (the default, as Go ≥ 1.24);
 * - `1`: listeners and dialers default to 'prefer';
 * - `3`: dialers default to 'prefer', listeners to false;
 * - `0`: MPTCP off everywhere — the default and an explicit 'prefer' both become plain TCP, and an
 *   explicit 'require' fails with code MPTCP_DISABLED_BY_ENV.
 * Values 1–3 only change defaults: an explicit `mptcp` option always wins. Any other value is
 * ignored (with one process warning) and behaves as `2`.
 */
import { IPPROTO_MPTCP, IPPROTO_TCP, mptcpUnavailableReason, type MptcpUnavailableReason } from '@mptcp/constants';
import { binding, sysconst } from './binding.js';
import { MptcpSocketError, errnoName, syscallError } from './errors.js';
import {
  applySocketOptions,
  optionBlockingMptcp,
  warnOptionFallback,
  type MptcpSocketOptions,
} from './socket-options.js';
import type { MptcpMode, MptcpRole, MptcpUnavailable, SockAddr, SocketKind, Transport } from './types.js';

export type Role = MptcpRole;

export type NodeMptcpValue = '0' | '1' | '2' | '3';

/** Defaults per NODE_MPTCP value: [listener, dialer]. */
export const NODE_MPTCP_DEFAULTS: Readonly<Record<NodeMptcpValue, readonly [MptcpMode, MptcpMode]>> = Object.freeze({
  '0': [false, false],
  '1': ['prefer', 'prefer'],
  '2': ['prefer', false],
  '3': [false, 'prefer'],
});

let warnedValue: string | undefined;

/** The effective NODE_MPTCP value (read on every call, so tests and programs can change it). */
export function nodeMptcp(env: NodeJS.ProcessEnv = process.env): NodeMptcpValue {
  const raw = env['NODE_MPTCP'];
  if (raw === undefined || raw === '') return '2';
  const v = raw.trim();
  if (v === '0' || v === '1' || v === '2' || v === '3') return v;
  if (warnedValue !== raw) {
    warnedValue = raw;
    process.emitWarning(
      `NODE_MPTCP=${raw} is not one of 0, 1, 2, 3; using 2 (MPTCP on listeners only)`,
      'MptcpWarning',
    );
  }
  return '2';
}

/** The mode a socket is created with, or the error when the environment forbids the request. */
export function effectiveMode(
  role: Role,
  requested: MptcpMode | undefined,
  env: NodeJS.ProcessEnv = process.env,
): MptcpMode {
  return modeFor(nodeMptcp(env), role, requested);
}

/** effectiveMode() for a NODE_MPTCP value already read (one environment read per socket). */
function modeFor(setting: NodeMptcpValue, role: Role, requested: MptcpMode | undefined): MptcpMode {
  if (setting === '0') {
    if (requested === 'require') {
      throw disabledByEnvError();
    }
    return false;
  }
  if (requested !== undefined) return requested;
  const [listener, dialer] = NODE_MPTCP_DEFAULTS[setting];
  return role === 'listener' ? listener : dialer;
}

function disabledByEnvError(): MptcpSocketError {
  return new MptcpSocketError({
    code: 'MPTCP_DISABLED_BY_ENV',
    message:
      "MPTCP is required (mptcp: 'require') but disabled by NODE_MPTCP=0 (unset it, or allow plain TCP with mptcp: 'prefer')",
  });
}

/** Whether a mode asks for MPTCP at all ('off' and false do not). */
export function wantsMptcp(mode: MptcpMode | undefined): mode is 'require' | 'prefer' {
  return mode === 'require' || mode === 'prefer';
}

/** What to create: an address family, a kind and the MPTCP policy for IP stream sockets. */
export interface SocketRequest {
  family: SockAddr['family'];
  kind: SocketKind;
  /** socket()'s protocol for non-MPTCP cases (SCTP, UDP-Lite); IPPROTO_MPTCP alone means mptcp: 'require'. */
  protocol?: number;
  mptcp?: MptcpMode;
  /** Whose NODE_MPTCP default applies when `mptcp` is unset (none: plain TCP). */
  role?: Role;
  /** NODE_MPTCP=0 with 'require': an error (default) or plain TCP. */
  disabledByEnv?: 'error' | 'tcp';
  /** Emit one process warning (per reason) when 'prefer' falls back to TCP. */
  warn?: boolean;
}

/** What was created. `protocol` is what socket() got (262 or 0 for IP streams). */
export interface CreatedSocket {
  fd: number;
  protocol: number;
  /** IP stream sockets only. */
  transport?: Transport;
  /** Why MPTCP was asked for but plain TCP was opened. */
  fallbackReason?: MptcpUnavailable;
  /** The errno name socket(…, 262) gave, when it was the reason. */
  fallbackCode?: string;
}

const warned = new Set<string>();

function warnFallback(reason: MptcpUnavailable, errno: string | undefined): void {
  if (warned.has(reason)) return;
  warned.add(reason);
  process.emitWarning(
    `MPTCP is unavailable (${reason}${errno ? `, socket() gave ${errno}` : ''}); using plain TCP`,
    'MptcpWarning',
  );
}

function familyAf(family: SockAddr['family']): number {
  return sysconst(
    family === 'inet' ? 'AF_INET' : family === 'inet6' ? 'AF_INET6' : family === 'unix' ? 'AF_UNIX' : 'AF_VSOCK',
  );
}

function kindType(kind: SocketKind): number {
  return sysconst(kind === 'stream' ? 'SOCK_STREAM' : kind === 'datagram' ? 'SOCK_DGRAM' : 'SOCK_SEQPACKET');
}

/**
 * socket(SOCK_CLOEXEC|SOCK_NONBLOCK) with the MPTCP policy applied — the one place that decides:
 * NODE_MPTCP (role defaults, the 0 kill switch), then socket(…, 262), then the fallback to TCP on
 * exactly ENOPROTOOPT/EPROTONOSUPPORT/EINVAL for 'prefer'. Other errors are thrown.
 */
export function createSocket(req: SocketRequest): CreatedSocket {
  const native = binding();
  const af = familyAf(req.family);
  const type = kindType(req.kind);
  const protocol = req.protocol ?? 0;
  const ipStream =
    (req.family === 'inet' || req.family === 'inet6') &&
    req.kind === 'stream' &&
    (protocol === 0 || protocol === IPPROTO_TCP || protocol === IPPROTO_MPTCP);
  if (!ipStream) {
    const fd = native.socket(af, type, protocol);
    if (fd < 0) throw syscallError(-fd, { syscall: 'socket', protocol });
    return { fd, protocol };
  }
  const requested: MptcpMode | undefined =
    req.mptcp ?? (protocol === IPPROTO_MPTCP ? 'require' : req.role === undefined ? 'off' : undefined);
  let mode: MptcpMode;
  let envReason: MptcpUnavailable | undefined;
  const setting = nodeMptcp();
  if (setting === '0' && requested === 'require' && req.disabledByEnv === 'tcp') {
    mode = 'off';
    envReason = 'disabled-by-env';
  } else {
    mode = modeFor(setting, req.role ?? 'listener', requested);
    if (!wantsMptcp(mode) && wantsMptcp(requested)) envReason = 'disabled-by-env';
  }
  const tcp = (fallbackReason?: MptcpUnavailable, fallbackCode?: string): CreatedSocket => {
    const fd = native.socket(af, type, 0);
    if (fd < 0) throw syscallError(-fd, { syscall: 'socket' });
    const created: CreatedSocket = { fd, protocol: 0, transport: 'tcp' };
    if (fallbackReason !== undefined) created.fallbackReason = fallbackReason;
    if (fallbackCode !== undefined) created.fallbackCode = fallbackCode;
    return created;
  };
  if (!wantsMptcp(mode)) return tcp(envReason);
  const fd = native.socket(af, type, IPPROTO_MPTCP);
  if (fd >= 0) return { fd, protocol: IPPROTO_MPTCP, transport: 'mptcp' };
  const code = errnoName(-fd);
  const reason = mptcpUnavailableReason(code);
  if (mode === 'require' || reason === undefined)
    throw syscallError(-fd, { syscall: 'socket', protocol: IPPROTO_MPTCP });
  if (req.warn) warnFallback(reason, code);
  return tcp(reason, code);
}

/**
 * The socket() errno names on which 'prefer' retries with plain TCP: exactly the "this host has
 * no usable MPTCP" errors (ENOPROTOOPT, EPROTONOSUPPORT, EINVAL). Unlike Go, a failed connect()
 * is never retried over TCP: a refused or unreachable peer is refused over TCP too, and a silent
 * second attempt doubles the time to report the error.
 */
export function fallbackReason(code: string): MptcpUnavailableReason | undefined {
  return mptcpUnavailableReason(code);
}

/**
 * createSocket() plus socket options: `check` options are only looked up in the per-kernel table
 * (Node sets them later, e.g. on accepted sockets), `apply` options are also set now. An option
 * MPTCP does not support on this kernel makes this socket plain TCP ('prefer', one warning per
 * option) or fails with MPTCP_OPTION_UNSUPPORTED ('require').
 */
export function createConfiguredSocket(
  req: SocketRequest & { family: 'inet' | 'inet6' },
  options: { check?: MptcpSocketOptions; apply?: MptcpSocketOptions },
  role: 'listener' | 'dial',
): CreatedSocket {
  const roleName: Role = role === 'dial' ? 'dialer' : 'listener';
  const requestedMode =
    req.mptcp ?? (req.protocol === IPPROTO_MPTCP ? 'require' : req.role === undefined ? 'off' : undefined);
  const setting = nodeMptcp();
  const mode = setting === '0' ? 'off' : modeFor(setting, req.role ?? roleName, requestedMode);
  let blocked: string | undefined;
  if (wantsMptcp(mode)) {
    blocked = optionBlockingMptcp({ ...options.check, ...options.apply }, mode, role);
  }
  const asTcp = (): CreatedSocket => {
    const created = createSocket({ ...req, mptcp: 'off' });
    created.fallbackReason = 'option-unsupported';
    return created;
  };
  let created = blocked === undefined ? createSocket(req) : asTcp();
  if (options.apply) {
    const refused = applySocketOptions(created.fd, options.apply, req.family, created.transport === 'mptcp');
    if (refused) {
      binding().close(created.fd);
      if (mode === 'require') {
        throw new MptcpSocketError({
          code: 'MPTCP_OPTION_UNSUPPORTED',
          errno: refused.errno,
          syscall: 'setsockopt',
          message: `setsockopt ${refused.name} ${refused.code}: not supported on MPTCP sockets by this kernel (drop the option, or allow plain TCP with mptcp: 'prefer')`,
        });
      }
      warnOptionFallback(refused.name, role);
      created = asTcp();
      applySocketOptions(created.fd, options.apply, req.family, false);
    }
  }
  return created;
}
