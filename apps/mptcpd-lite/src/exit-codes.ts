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

/** The errno name (`ECONNREFUSED`…) of a Node system error, if it has one. */
export function errnoName(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
