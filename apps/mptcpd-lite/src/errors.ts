/**
 * The base class of every error mptcpd-lite's own code throws (as undici's errors share UndiciError):
 * `code` is stable and never changes meaning. When `code` is an errno name, `errno` is the positive
 * Linux errno (a number, as Node's SystemError: `code` the name, `errno` the number). Every command
 * loads this module: it imports only node:os.
 */
import { constants } from 'node:os';

const ERRNO: Readonly<Record<string, number>> = constants.errno;

export class MptcpdLiteError extends Error {
  /** An errno name (`ENOENT`…) or one of ours (`ENDPOINT_MANAGER_CONFLICT`, `CLI_ERROR`…). */
  readonly code: string;
  /** Positive Linux errno when `code` is an errno name, else undefined. */
  readonly errno: number | undefined;

  /** `options.errno`: the number as received (default: the number of an errno-named `code`). */
  constructor(code: string, message: string, options?: { cause?: unknown; errno?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MptcpdLiteError';
    this.code = code;
    this.errno = options?.errno ?? (Object.hasOwn(ERRNO, code) ? ERRNO[code] : undefined);
  }
}
