/**
 * `mptcpd-lite run` on its own: the entry of dist/run.bundle.cjs (scripts/bundle-run.mjs), which
 * holds the daemon and the packages it uses in one file. cli.ts loads the bundle when it is at
 * least as new as every file it was built from (run-bundle.ts), else main.ts.
 */
import { reportError } from './action.js';
import { createRunProgram } from './program-run.js';

// For the bundle loader (run-bundle.ts): it writes the code cache once the daemon is ready.
export { afterReady } from './daemon/daemon.js';

createRunProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.exitCode = reportError(err);
  });
