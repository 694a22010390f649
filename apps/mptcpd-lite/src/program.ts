/** The mptcpd-lite command tree. */
import { Command } from 'commander';
import { activateCommand } from './commands/activate.js';
import { checkCommand } from './commands/check.js';
import { connectCommand } from './commands/connect.js';
import { endpointsCommand } from './commands/endpoints.js';
import { proxyCommand } from './commands/proxy.js';
import { devCommand } from './commands/dev.js';
import { infoCommand } from './commands/info.js';
import { runCommand } from './commands/run.js';
import { verifyCommand } from './commands/verify.js';
import { statusCommand } from './commands/status.js';
import { listSocketsCommand, listUnitsCommand, reloadCommand, restartCommand, startCommand, stopCommand } from './commands/units.js';
import { EXIT_ERROR } from './exit-codes.js';
import { VERSION } from './version.js';

export function createProgram(): Command {
  const program = new Command('mptcpd-lite')
    .description('A socket-activation daemon with MPTCP: reads systemd .socket/.service units, opens the sockets with IPPROTO_MPTCP, and starts services on demand')
    .version(VERSION)
    .showHelpAfterError();
  program.addCommand(runCommand());
  program.addCommand(statusCommand());
  program.addCommand(startCommand());
  program.addCommand(stopCommand());
  program.addCommand(restartCommand());
  program.addCommand(reloadCommand());
  program.addCommand(listSocketsCommand());
  program.addCommand(listUnitsCommand());
  program.addCommand(verifyCommand());
  program.addCommand(activateCommand());
  program.addCommand(checkCommand());
  program.addCommand(connectCommand());
  program.addCommand(infoCommand());
  program.addCommand(endpointsCommand());
  program.addCommand(proxyCommand());
  program.addCommand(devCommand());
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
