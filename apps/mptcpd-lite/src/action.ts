/** Runs a command's action: a CliError (or any error) becomes a stderr line and an exit code. */
import { CliError, EXIT_ERROR, errnoOf, messageOf } from './exit-codes.js';

export function reportError(err: unknown): number {
  if (err instanceof CliError) {
    process.stderr.write(`mptcpd-lite: ${err.message}\n`);
    return err.exitCode;
  }
  const code = errnoOf(err);
  const msg = messageOf(err);
  process.stderr.write(`mptcpd-lite: ${code && !msg.includes(code) ? `${code}: ` : ''}${msg}\n`);
  return EXIT_ERROR;
}

/**
 * Wraps an async action: its resolved number is the exit code (undefined = 0). The code is set on
 * process.exitCode so pending stdout is flushed before Node exits.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<number | void> | number | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? 0;
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

/** Help text block listing exit codes, appended to each command's --help. */
export function exitCodesHelp(rows: Array<[number, string]>): string {
  return `\nExit codes:\n${rows.map(([c, t]) => `  ${String(c).padEnd(3)} ${t}`).join('\n')}\n`;
}

export function examplesHelp(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}
