/**
 * What every command line of mptcpd-lite shares (name, version, usage exits, help text), apart
 * from the commands: `run` loads only its own command (program-run.ts), so that the daemon does not
 * load the code of fifteen client commands before it opens its sockets (~80 ms).
 */
import { Command } from 'commander';
import { EXIT_ERROR } from './exit-codes.js';
import { VERSION } from './version.js';

export function baseProgram(): Command {
  return new Command('mptcpd-lite')
    .description(
      'A socket-activation daemon with MPTCP: reads systemd .socket/.service units, opens the sockets with IPPROTO_MPTCP, and starts services on demand',
    )
    .version(VERSION)
    .showHelpAfterError();
}

/** After the commands are added. */
export function finishProgram(program: Command): Command {
  // Usage errors (unknown option, missing argument, bad choice) exit 2, as documented; --help and
  // --version exit 0.
  const usageExit = (cmd: Command): void => {
    cmd.exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : EXIT_ERROR);
    });
    for (const sub of cmd.commands) usageExit(sub);
  };
  usageExit(program);
  program.addHelpText(
    'after',
    `
Exit codes (every command): 0 success, 1 the answer is "no" (verify found errors, check: not ready,
connect: connection failed), 2 usage or environment error. See each command's --help.`,
  );
  return program;
}
