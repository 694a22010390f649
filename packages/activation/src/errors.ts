/**
 * Typed errors of the activation engine. `code` is stable (one of ours, below); `errno` is the positive
 * Linux errno number of the failed system call (as Node's SystemError and @mptcp/native's errors: a
 * number, never a name; `errnoName(err.errno)` of @mptcp/constants names it). Messages say what to do
 * when there is something to do. Every CLI command loads this module: it imports only node:os.
 */
import { constants } from 'node:os';

const ERRNO: Readonly<Record<string, number>> = constants.errno;

export type ActivationErrorCode =
  | 'MPTCP_UNAVAILABLE'
  | 'SOCKET_OPEN_FAILED'
  | 'UNSUPPORTED_LISTEN'
  | 'SERVICE_NOT_FOUND'
  | 'TEMPLATE_NOT_FOUND'
  | 'EXEC_FAILED'
  | 'NOT_RELOADABLE'
  | 'UNIT_NOT_FOUND'
  | 'NO_EXEC_START'
  | 'USER_NOT_FOUND'
  | 'GROUP_NOT_FOUND'
  | 'INVALID_CREDENTIALS'
  | 'ENVIRONMENT_FILE'
  | 'WORKING_DIRECTORY'
  | 'NATIVE_UNAVAILABLE'
  | 'LISTEN_PID_MISMATCH'
  | 'LISTEN_FDS_INVALID'
  | 'SANDBOX_NOT_ENFORCED'
  | 'JOB_CANCELED'
  | 'JOB_FAILED'
  | 'JOB_DEPENDENCY'
  | 'JOB_ASSERT'
  /** A job the manager refuses to queue (a job mode's rule: OnFailureJobMode=isolate, triggering, fail). */
  | 'JOB_REFUSED'
  | 'CONDITION_UNMET'
  | 'ENGINE_STATE';

export interface ActivationErrorDetails {
  /** The unit the error is about. */
  unit?: string;
  /** The failing system call, e.g. `socket`, `bind`. */
  syscall?: string;
  /** The address as written in the unit. */
  address?: string;
  /** The positive errno number from the kernel, when there is one (see errnoNumberOf). */
  errno?: number | undefined;
  /** The exit status systemd's process would have ended with (e.g. 226 for an unenforced PrivateTmp=). */
  exitStatus?: number;
  cause?: unknown;
}

export class ActivationError extends Error {
  readonly code: ActivationErrorCode;
  readonly unit: string | undefined;
  readonly syscall: string | undefined;
  readonly address: string | undefined;
  /** Positive Linux errno of the failed system call, when there is one. */
  readonly errno: number | undefined;
  /** The exit status systemd's process would have ended with, for a start refused before exec. */
  readonly exitStatus: number | undefined;

  constructor(code: ActivationErrorCode, message: string, details: ActivationErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'ActivationError';
    this.code = code;
    this.unit = details.unit;
    this.syscall = details.syscall;
    this.address = details.address;
    this.errno = details.errno;
    this.exitStatus = details.exitStatus;
  }
}

/** The errno name of a Node or addon error (`err.code`), if it has one. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * The positive Linux errno of a thrown error, from its errno name (`err.code`; Node's own `err.errno` is
 * libuv's negative number, @mptcp/native's the positive one), or of an errno name given as a string.
 */
export function errnoNumberOf(err: unknown): number | undefined {
  const name = typeof err === 'string' ? err : errnoOf(err);
  return name !== undefined && Object.hasOwn(ERRNO, name) ? ERRNO[name] : undefined;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
