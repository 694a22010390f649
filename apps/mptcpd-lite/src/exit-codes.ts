/**
 * Exit codes shared by every command. They are part of the CLI contract: documented in each
 * command's --help and in the README.
 */
export const EXIT_OK = 0;
/** The check failed / the thing asked about is not true (verify found errors, check: not ready, connect: refused). */
export const EXIT_FAILURE = 1;
/** Usage or environment error: bad arguments, a missing capability, an I/O error that stopped the command. */
export const EXIT_ERROR = 2;

/** An error that ends the command with a chosen exit code; its message goes to stderr as is. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly code: string | undefined;
  constructor(message: string, exitCode: number = EXIT_ERROR, code?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.code = code;
  }
}

// The errno name (`ECONNREFUSED`…) of a thrown error, and the message of anything thrown: the same
// helpers as @mptcp/activation's (its dependency-free errors module, so no command loads the engine).
// `errnoName` here is activation's `errnoOf`, not @mptcp/constants' errnoName(number).
export { errnoOf as errnoName, messageOf } from '@mptcp/activation/errors';
