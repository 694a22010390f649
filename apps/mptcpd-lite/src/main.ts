/** Parses the command line and runs the command (loaded by cli.ts after the V8 tuning). */
import { reportError } from './action.js';
import { createProgram } from './program.js';

createProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.exitCode = reportError(err);
  });
