/**
 * Where one command of a service reads and writes its stdio (systemd's setup_input()/setup_output()):
 * StandardOutput=null discards; with the connection fd (any of StandardInput=/StandardOutput=/
 * StandardError=socket) each stream is the connection as its setting says; otherwise, when the
 * daemon captures output, a capture fd (output-capture.ts) whose lines are the service's own
 * output, never the daemon's.
 */
import type { ServiceUnit } from '@mptcp/unit';
import type { OutputMode } from './exec.js';
import type { ServiceProcessOptions, StartContext } from './service-types.js';

export interface OutputRoute {
  output: OutputMode;
  /** The capture's fd for stdout+stderr (with `output: 'inherit'`). */
  outputFd?: number;
  /** With the connection fd (ctx.socketStdio): which of stdin/stdout/stderr it is. */
  socketStdin: boolean;
  socketStdout: boolean;
  socketStderr: boolean;
  /** Closes the daemon's copy of the capture fd once the child has its own (the launcher ran). */
  release?: () => void;
}

/**
 * StandardInput=, StandardOutput= or StandardError=socket: the service gets its one socket as
 * stdio and no LISTEN_FDS (exec_invoke()'s socket_fd; "Got no socket." / "Got more than one socket."
 * when it has not exactly one).
 */
export function usesSocketStdio(unit: ServiceUnit): boolean {
  return unit.standardInput === 'socket' || unit.standardOutput === 'socket' || unit.standardError === 'socket';
}

/**
 * Which streams are the connection, as exec-invoke.c decides with socket_fd set: stdin for
 * StandardInput=socket (else /dev/null); stdout for StandardOutput=socket, or =inherit when stdin is
 * the connection (inherit dups stdin); stderr dups stdout for StandardError=inherit or the same
 * setting as stdout (can_inherit_stderr_from_stdout()), else the connection for =socket.
 */
export function socketStreams(unit: ServiceUnit): { stdin: boolean; stdout: boolean; stderr: boolean } {
  const stdin = unit.standardInput === 'socket';
  const o = unit.standardOutput;
  const stdout = o === 'socket' || (o === 'inherit' && stdin);
  const e = unit.standardError;
  const stderr = e === 'inherit' || e === o ? stdout : e === 'socket';
  return { stdin, stdout, stderr };
}

export function routeOutput(
  unit: ServiceUnit,
  options: ServiceProcessOptions,
  ctx: StartContext,
  pid: () => number | undefined,
): OutputRoute {
  // With the connection fd, the streams systemd puts on it; the output left (if any) is captured.
  const streams = ctx.socketStdio !== undefined ? socketStreams(unit) : { stdin: false, stdout: false, stderr: false };
  const socket = { socketStdin: streams.stdin, socketStdout: streams.stdout, socketStderr: streams.stderr };
  const captured = options.output === 'log' && unit.standardOutput !== 'null' && !(streams.stdout && streams.stderr);
  // Lines are attributed to the process that writes them: this command's PID.
  const capture = captured ? options.capture?.open(unit.name, pid) : undefined;
  if (capture) return { output: 'inherit', outputFd: capture.fd, ...socket, release: () => capture.release() };
  return {
    output: unit.standardOutput === 'null' ? 'ignore' : options.output === 'log' ? 'ignore' : options.output,
    ...socket,
  };
}
