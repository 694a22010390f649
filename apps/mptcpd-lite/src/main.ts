/** Parses the command line and runs the command (loaded by cli.ts after the V8 tuning). */
import { reportError } from './action.js';

// `mptcpd-lite status | head`: the reader has gone, so has the point of writing more; no stack trace
// (Node ignores SIGPIPE, so the write fails with EPIPE instead of ending the process).
// Not for `run`: the daemon writes its lines with write(2) (log.ts) and never loads process.stdout.
if (process.argv[2] !== 'run') {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

// The daemon (`run`) loads only its own command; every other command line gets the full program.
const program =
  process.argv[2] === 'run'
    ? (await import('./program-run.js')).createRunProgram()
    : (await import('./program.js')).createProgram();
program.parseAsync(process.argv).catch((err: unknown) => {
  process.exitCode = reportError(err);
});
