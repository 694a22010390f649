/** Parses the command line and runs the command (loaded by cli.ts after the V8 tuning). */
import { reportError } from './action.js';

// The daemon (`run`) loads only its own command; every other command line gets the full program.
const program =
  process.argv[2] === 'run'
    ? (await import('./program-run.js')).createRunProgram()
    : (await import('./program.js')).createProgram();
program.parseAsync(process.argv).catch((err: unknown) => {
  process.exitCode = reportError(err);
});
