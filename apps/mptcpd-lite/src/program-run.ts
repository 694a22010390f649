/** `mptcpd-lite run …` with only the run command loaded (see program-base.ts). */
import type { Command } from 'commander';
import { runCommand } from './commands/run.js';
import { baseProgram, finishProgram } from './program-base.js';

export function createRunProgram(): Command {
  const program = baseProgram();
  program.addCommand(runCommand());
  return finishProgram(program);
}
