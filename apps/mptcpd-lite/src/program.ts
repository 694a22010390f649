/** The mptcpd-lite command tree. */
import type { Command } from 'commander';
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
import {
  listSocketsCommand,
  listUnitsCommand,
  reloadCommand,
  restartCommand,
  startCommand,
  stopCommand,
} from './commands/units.js';
import { baseProgram, finishProgram } from './program-base.js';

export function createProgram(): Command {
  const program = baseProgram();
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
  return finishProgram(program);
}
