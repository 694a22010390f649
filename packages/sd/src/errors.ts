/**
 * The base class of every error @mptcp/sd throws (as undici's errors): `code` is stable and never
 * changes meaning; a code that is an errno name (ETIMEDOUT) comes with `errno`, the positive Linux
 * number, as Node's SystemError has `code` (name) and `errno` (number).
 */
export type SdErrorCode =
  | 'LISTEN_PID_MISMATCH'
  | 'LISTEN_FDS_INVALID'
  | 'NOTIFY_SOCKET_INVALID'
  | 'NOTIFY_FDS_UNSUPPORTED'
  | 'NOTIFY_STATE_INVALID'
  | 'ETIMEDOUT';

/** Positive Linux errno of the codes that are errno names (no import: this package loads nothing eagerly). */
const ERRNO: Partial<Record<SdErrorCode, number>> = { ETIMEDOUT: 110 };

export class SdError extends Error {
  readonly code: SdErrorCode;
  /** Positive Linux errno when `code` is an errno name, else undefined. */
  readonly errno: number | undefined;

  constructor(code: SdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SdError';
    this.code = code;
    this.errno = ERRNO[code];
  }
}
