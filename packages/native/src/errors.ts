/**
 * The typed error of @mptcp/native. `code` is the errno name ('ENOPROTOOPT', 'ECONNREFUSED'…) or
 * one of our own codes; `errno` is the positive Linux errno (0 for our own codes). Messages are
 * built here, never in C++, and name the fix when there is one.
 */
import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';
import { mptcpUnavailableHint, mptcpUnavailableReason, IPPROTO_MPTCP } from '@mptcp/constants';

/** Our own error codes (not errno names). */
export type MptcpErrorCode = 'MPTCP_DISABLED_BY_ENV' | 'MPTCP_ADDON_UNAVAILABLE' | 'EBADF';

export interface MptcpSocketErrorInit {
  code: string;
  message: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
  cause?: unknown;
}

export class MptcpSocketError extends Error {
  /** errno name or own code, stable for programs. */
  readonly code: string;
  /** Positive Linux errno; 0 when the error is not a failed syscall. */
  readonly errno: number;
  readonly syscall: string | undefined;
  readonly address: string | undefined;
  readonly port: number | undefined;

  constructor(init: MptcpSocketErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'MptcpSocketError';
    this.code = init.code;
    this.errno = init.errno ?? 0;
    this.syscall = init.syscall;
    this.address = init.address;
    this.port = init.port;
  }
}

const systemErrors = getSystemErrorMap();

// os.constants.errno has aliases (EWOULDBLOCK = EAGAIN, ENOTSUP = EOPNOTSUPP, EDEADLOCK = EDEADLK):
// the first name wins, and these canonical names are put first.
const CANONICAL = ['EAGAIN', 'EOPNOTSUPP', 'EDEADLK'];
const errnoNames = new Map<number, string>();
for (const name of [...CANONICAL, ...Object.keys(constants.errno)]) {
  const n = (constants.errno as Record<string, number | undefined>)[name];
  if (n !== undefined && !errnoNames.has(n)) errnoNames.set(n, name);
}

/** errno number (positive) → name, e.g. 92 → 'ENOPROTOOPT'. Unknown numbers give 'E<n>'. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return errnoNames.get(n) ?? `E${n}`;
}

/** errno number → the libc message ("Protocol not available"), or the name when libuv has none. */
export function errnoMessage(errno: number): string {
  return systemErrors.get(-Math.abs(errno))?.[1] ?? errnoName(errno);
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

/** Unwraps a native Result: the value, or throws the typed error. */
export function check<T>(result: T | number, ctx: SyscallContext): T {
  if (typeof result === 'number' && result < 0) throw syscallError(-result, ctx);
  return result as T;
}
