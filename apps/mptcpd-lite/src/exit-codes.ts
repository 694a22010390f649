/**
 * Exit codes shared by every command. They are part of the CLI contract: documented in each
 * command's --help and in the README.
 */
import { MptcpdLiteError } from './errors.js';

export const EXIT_OK = 0;
/** The check failed / the thing asked about is not true (verify found errors, check: not ready, connect: refused). */
export const EXIT_FAILURE = 1;
/** Usage or environment error: bad arguments, a missing capability, an I/O error that stopped the command. */
export const EXIT_ERROR = 2;

/**
 * An error that ends the command with a chosen exit code; its message goes to stderr as is. `code` is
 * the errno name or code of what failed (`ECONNREFUSED`, `ENDPOINT_MANAGER_CONFLICT`…), else `CLI_ERROR`.
 */
export class CliError extends MptcpdLiteError {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT_ERROR, code?: string) {
    super(code ?? 'CLI_ERROR', message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

// The errno name (`ECONNREFUSED`…) of a thrown error (`errnoOf`), and the message of anything thrown:
// @mptcp/activation's helpers (its dependency-free errors module, so no command loads the engine).
// Not to be confused with @mptcp/constants' errnoName(number) (errno number → name).
export { errnoOf, messageOf } from '@mptcp/activation/errors';
