/**
 * The base class of what @mptcp/unit throws (as undici's errors share UndiciError). The package mostly
 * reports problems as diagnostics (file:line, systemd's wording); only a failed read of a unit file is
 * thrown, and the loader turns it into a "Failed to load configuration: CODE" diagnostic. `code` is the
 * errno name and `errno` its positive Linux number (as Node's SystemError), from @mptcp/constants' table.
 */
import { errnoNumber } from '@mptcp/constants';

/** The codes @mptcp/unit throws: not a regular file (`EISDIR` for a directory, else `EBADFD`), too large. */
export type UnitErrorCode = 'EISDIR' | 'EBADFD' | 'EFBIG';

export class UnitError extends Error {
  readonly code: UnitErrorCode;
  /** Positive Linux errno of `code`. */
  readonly errno: number;
  /** The file read. */
  readonly path: string;

  constructor(code: UnitErrorCode, path: string, message: string) {
    super(message);
    this.name = 'UnitError';
    this.code = code;
    this.errno = errnoNumber(code) ?? 0;
    this.path = path;
  }
}
