/**
 * Where one command of a service writes its stdout/stderr (systemd's setup_output()):
 * StandardOutput=null discards; in inetd mode (StandardInput=socket) stderr may go to the
 * connection; otherwise, when the daemon captures output, a capture fd (output-capture.ts) whose
 * lines are the service's own output, never the daemon's.
 */
import type { ServiceUnit } from '@mptcp/unit';
import type { OutputMode } from './exec.js';
import type { ServiceProcessOptions, StartContext } from './service-types.js';

export interface OutputRoute {
  output: OutputMode;
  /** The capture's fd for stdout+stderr (with `output: 'inherit'`). */
  outputFd?: number;
  /** StandardInput=socket: stderr is the connection too. */
  socketStderr: boolean;
  /** Closes the daemon's copy of the capture fd once the child has its own (the launcher ran). */
  release?: () => void;
}

export function routeOutput(
  unit: ServiceUnit,
  options: ServiceProcessOptions,
  ctx: StartContext,
  pid: () => number | undefined,
): OutputRoute {
  // inetd mode with stdout on the connection (StandardOutput=socket/inherit): StandardError=inherit
  // (the default) duplicates stdout as systemd's setup_output() does; nothing is left to capture.
  const stdoutSocket = unit.standardOutput === 'socket' || unit.standardOutput === 'inherit';
  const socketStderr =
    ctx.socketStdio !== undefined &&
    (unit.standardError === 'socket' || (unit.standardError === 'inherit' && stdoutSocket));
  const captured = options.output === 'log' && unit.standardOutput !== 'null' && !socketStderr;
  // Lines are attributed to the process that writes them: this command's PID.
  const capture = captured ? options.capture?.open(unit.name, pid) : undefined;
  if (capture) return { output: 'inherit', outputFd: capture.fd, socketStderr, release: () => capture.release() };
  return {
    output: unit.standardOutput === 'null' ? 'ignore' : options.output === 'log' ? 'ignore' : options.output,
    socketStderr,
  };
}
