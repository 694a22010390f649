/** The mptcpd-lite command tree. */
import { Command } from 'commander';
import { activateCommand } from './commands/activate.js';
import { checkCommand } from './commands/check.js';
import { connectCommand } from './commands/connect.js';
import { infoCommand } from './commands/info.js';
import { runCommand } from './commands/run.js';
import { verifyCommand } from './commands/verify.js';
import { statusCommand } from './commands/status.js';
import { VERSION } from './version.js';

export function createProgram(): Command {
  const program = new Command('mptcpd-lite')
    .description('A socket-activation daemon with MPTCP: reads systemd .socket/.service units, opens the sockets with IPPROTO_MPTCP, and starts services on demand')
    .version(VERSION)
    .showHelpAfterError();
  program.addCommand(runCommand());
  program.addCommand(statusCommand());
  program.addCommand(verifyCommand());
  program.addCommand(activateCommand());
  program.addCommand(checkCommand());
  program.addCommand(connectCommand());
  program.addCommand(infoCommand());
  return program;
}
