/**
 * The typed error of @mptcp/native. `code` is the errno name ('ENOPROTOOPT', 'ECONNREFUSED'…) or
 * one of our own codes; `errno` is the positive Linux errno (0 for our own codes), except on the
 * errors emitted on net.Socket/net.Server objects, which are shaped as net's (negative errno, net's
 * message: netSyscallError). Messages are built here, never in C++, and name the fix when there is one.
 */
import { getSystemErrorMap } from 'node:util';
import {
  errnoMessage as errnoMessageOf,
  errnoName as errnoNameOf,
  errnoNumber,
  mptcpUnavailableHint,
  mptcpUnavailableReason,
  IPPROTO_MPTCP,
} from '@mptcp/constants';

/** Our own error codes (not errno names). */
export type MptcpErrorCode = 'MPTCP_DISABLED_BY_ENV' | 'MPTCP_ADDON_UNAVAILABLE' | 'MPTCP_OPTION_UNSUPPORTED' | 'EBADF';

export interface MptcpNativeErrorInit {
  code: string;
  message: string;
  errno?: number;
  syscall?: string;
  cause?: unknown;
}

export interface MptcpSocketErrorInit extends MptcpNativeErrorInit {
  address?: string;
  port?: number;
}

/**
 * The base class of every error @mptcp/native throws (as undici's UndiciError): `code` is the
 * errno name or one of our own codes and never changes meaning; `errno` is the positive Linux
 * number (0 for our own codes), or, on an error emitted by a net.Socket/net.Server (connect,
 * listen), the negative one as net has it.
 */
export class MptcpNativeError extends Error {
  /** errno name or own code, stable for programs. */
  readonly code: string;
  /** Positive Linux errno; 0 when the error is not a failed syscall; negative (as net) on net objects' errors. */
  readonly errno: number;
  readonly syscall: string | undefined;

  constructor(init: MptcpNativeErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'MptcpNativeError';
    this.code = init.code;
    // An errno-named code always carries its number (`code: 'EIO'` → 5), as Node's SystemError.
    this.errno = init.errno ?? errnoNumber(init.code) ?? 0;
    this.syscall = init.syscall;
  }
}

/** A socket operation failed (socket, bind, connect, setsockopt…) or MPTCP is unavailable/forbidden. */
export class MptcpSocketError extends MptcpNativeError {
  readonly address: string | undefined;
  readonly port: number | undefined;

  constructor(init: MptcpSocketErrorInit) {
    super(init);
    this.name = 'MptcpSocketError';
    this.address = init.address;
    this.port = init.port;
  }
}

/** Starting a process failed in one of its steps (`syscall`: execve, chdir, setuid, dup3…); `path` names the file. */
export class ProcessSpawnError extends MptcpNativeError {
  readonly path: string | undefined;

  constructor(init: MptcpNativeErrorInit & { path?: string }) {
    super(init);
    this.name = 'ProcessSpawnError';
    this.path = init.path;
  }
}

/** The typed error for a failed step of a process start: "execve ENOENT /x (No such file or directory)". */
export function spawnError(errno: number, ctx: { syscall: string; path?: string; detail?: string }): ProcessSpawnError {
  const n = Math.abs(errno);
  const code = errnoName(n);
  return new ProcessSpawnError({
    code,
    errno: n,
    syscall: ctx.syscall,
    message: `${ctx.syscall} ${code}${ctx.path === undefined ? '' : ` ${ctx.path}`} (${errnoMessage(n)})${ctx.detail === undefined ? '' : ` ${ctx.detail}`}`,
    ...(ctx.path === undefined ? {} : { path: ctx.path }),
  });
}

/** errno number (positive) → name, e.g. 92 → 'ENOPROTOOPT' (the table is @mptcp/constants'). */
export const errnoName = errnoNameOf;

/** errno number → glibc's strerror() text ("Protocol not available"). */
export function errnoMessage(errno: number): string {
  return errnoMessageOf(errno);
}

export interface SyscallContext {
  syscall: string;
  address?: string;
  port?: number;
  /** The protocol passed to socket(), so that MPTCP errnos get their hint. */
  protocol?: number;
  /** Extra words after the standard message. */
  detail?: string;
}

function formatAddress(address: string | undefined, port: number | undefined): string {
  if (address === undefined) return '';
  if (port === undefined) return ` ${address}`;
  return address.includes(':') ? ` [${address}]:${port}` : ` ${address}:${port}`;
}

/** Builds the typed error for a failed syscall: "connect ECONNREFUSED 127.0.0.1:9 (Connection refused)". */
export function syscallError(errno: number, ctx: SyscallContext): MptcpSocketError {
  const n = Math.abs(errno);
  const code = errnoName(n);
  let message = `${ctx.syscall} ${code}${formatAddress(ctx.address, ctx.port)} (${errnoMessage(n)})`;
  if (ctx.protocol === IPPROTO_MPTCP && ctx.syscall === 'socket') {
    const reason = mptcpUnavailableReason(code);
    if (reason) message += `: ${mptcpUnavailableHint(reason)}; or allow plain TCP with mptcp: 'prefer'`;
  }
  if (ctx.detail) message += ` ${ctx.detail}`;
  return new MptcpSocketError({
    code,
    errno: n,
    message,
    syscall: ctx.syscall,
    ...(ctx.address === undefined ? {} : { address: ctx.address }),
    ...(ctx.port === undefined ? {} : { port: ctx.port }),
  });
}

/**
 * The error net emits for a failed syscall on a net.Socket or net.Server: `errno` negative (so
 * util.getSystemErrorName(err.errno) works), `address`, and `port` when > 0. The message as net
 * builds it: listen() with uvExceptionWithHostPort ("listen EADDRINUSE: address already in use
 * 127.0.0.1:8080"), connect() and bind() with exceptionWithHostPort ("connect ECONNREFUSED
 * 127.0.0.1:9"). Still an MptcpSocketError, so `instanceof` and `code` keep working.
 */
export function netSyscallError(
  errno: number,
  ctx: { syscall: 'listen' | 'connect' | 'bind'; address?: string; port?: number; local?: string },
): MptcpSocketError {
  const n = Math.abs(errno);
  const [code, text] = getSystemErrorMap().get(-n) ?? [errnoName(n), errnoMessage(n)];
  const uvmsg = ctx.syscall === 'listen' ? `: ${text}` : '';
  let details = '';
  if (ctx.port !== undefined && ctx.port > 0) details = ` ${ctx.address}:${ctx.port}`;
  else if (ctx.address !== undefined) details = ` ${ctx.address}`;
  if (ctx.local !== undefined) details += ` - Local (${ctx.local})`;
  return new MptcpSocketError({
    code,
    errno: -n,
    message: `${ctx.syscall} ${code}${uvmsg}${details}`,
    syscall: ctx.syscall,
    ...(ctx.address === undefined ? {} : { address: ctx.address }),
    ...(ctx.port === undefined || ctx.port <= 0 ? {} : { port: ctx.port }),
  });
}

/** Unwraps a native Result: the value, or throws the typed error. */
export function check<T>(result: T | number, ctx: SyscallContext): T {
  if (typeof result === 'number' && result < 0) throw syscallError(-result, ctx);
  return result as T;
}
