/**
 * Where one command of a service reads and writes its stdio (systemd's setup_input()/setup_output()):
 * StandardOutput=null / StandardError=null discard; file:, append:, truncate: (and StandardInput=file:)
 * are opened by the daemon as 257 opens them; with the connection fd (any of StandardInput=/StandardOutput=/
 * StandardError=socket) each stream is the connection as its setting says; otherwise, when the
 * daemon captures output, a capture fd (output-capture.ts) whose lines are the service's own
 * output, never the daemon's.
 */
import { closeSync, constants as fsConstants } from 'node:fs';
import { errnoMessage } from '@mptcp/constants';
import type { ServiceUnit } from '@mptcp/unit';
import { ActivationError } from './errors.js';
import { execContextOf } from './exec-context.js';
import type { OutputMode } from './exec.js';
import { openNoWait } from './open-no-wait.js';
import type { ServiceProcessOptions, StartContext } from './service-types.js';

export interface OutputRoute {
  output: OutputMode;
  /** The capture's fd for stdout+stderr (with `output: 'inherit'`). */
  outputFd?: number;
  /** With the connection fd (ctx.socketStdio): which of stdin/stdout/stderr it is. */
  socketStdin: boolean;
  socketStdout: boolean;
  socketStderr: boolean;
  /** fd 0/1/2 overrides: StandardInput=file:, StandardOutput=/StandardError= file:, append:, truncate:, null. */
  stdioFds?: readonly [number | undefined, number | undefined, number | undefined];
  /** Closes the daemon's copy of the capture fd and the files once the child has its own (the launcher ran). */
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

/** A StandardOutput=/StandardError= value that is a file: `file:`, `append:` or `truncate:` and the path. */
function fileOutput(v: string): { kind: 'file' | 'append' | 'truncate'; path: string } | undefined {
  const m = /^(file|append|truncate):(\/.*)$/.exec(v);
  return m ? { kind: m[1] as 'file' | 'append' | 'truncate', path: m[2] as string } : undefined;
}

/**
 * What one output stream is, as setup_output() decides it: the connection, /dev/null, a file, or
 * the log (journal, kmsg, inherit…: the daemon's capture). StandardError=inherit is stdout's.
 */
type Stream = 'socket' | 'null' | 'log' | { kind: 'file' | 'append' | 'truncate'; path: string };

function streamOf(v: string, socket: boolean): Stream {
  if (socket) return 'socket';
  if (v === 'null') return 'null';
  return fileOutput(v) ?? 'log';
}

/**
 * 257's acquire_path() for StandardInput=file: (O_RDONLY, O_RDWR when StandardOutput= is file: of
 * the same path) and StandardOutput=/StandardError= file: (O_WRONLY|O_CREAT, written over from
 * offset 0), append: (O_APPEND), truncate: (O_TRUNC) (libuv adds O_CLOEXEC), mode 0666 & ~UMask= (and the daemon's umask,
 * as PID 1's 022 in 257). Opened by the daemon (root, as 257's child before it drops privileges),
 * never waiting (open-no-wait.ts: a FIFO without its other end must not stop the daemon);
 * a file that cannot be opened fails the process at 257's step: `Failed to set up standard output:
 * No such file or directory`, 208/STDIN, 209/STDOUT, 222/STDERR.
 */
function openStdioFile(
  path: string,
  flags: number,
  umask: number,
  step: { status: number; what: string },
  unit: string,
): number {
  try {
    return openNoWait(path, flags, 0o666 & ~umask);
  } catch (err) {
    const errno = Math.abs((err as NodeJS.ErrnoException).errno ?? 5);
    throw new ActivationError('EXEC_FAILED', `Failed to set up ${step.what}: ${errnoMessage(errno)}`, {
      unit,
      errno,
      exitStatus: step.status,
    });
  }
}

const STDIN_STEP = { status: 208, what: 'standard input' };
const STDOUT_STEP = { status: 209, what: 'standard output' };
const STDERR_STEP = { status: 222, what: 'standard error output' };

function writeFlags(kind: 'file' | 'append' | 'truncate'): number {
  const base = fsConstants.O_WRONLY | fsConstants.O_CREAT;
  return kind === 'append' ? base | fsConstants.O_APPEND : kind === 'truncate' ? base | fsConstants.O_TRUNC : base;
}

/** EOPNOTSUPP: a stream mptcpd-lite does not set up. */
const EOPNOTSUPP = 95;

/**
 * A terminal (`tty`, `tty-force`, `tty-fail`; TTYPath=), a named fd (`fd:NAME`, from the sockets'
 * FileDescriptorName= or the fd store) or `StandardInput=data` are not set up by mptcpd-lite: the
 * process fails at the stream's step (208/STDIN, 209/STDOUT, 222/STDERR) instead of running with
 * another stdio than its unit asks for.
 */
function refuseUnsupported(unit: ServiceUnit, streams: { stdin: boolean; stdout: boolean; stderr: boolean }): void {
  const unsupported = (v: string): boolean => v.startsWith('tty') || v.startsWith('fd:') || v === 'data';
  const check = (key: string, v: string, socket: boolean, step: { status: number; what: string }): void => {
    if (socket || !unsupported(v)) return;
    throw new ActivationError(
      'EXEC_FAILED',
      `Failed to set up ${step.what}: ${key}=${v} is not supported by mptcpd-lite`,
      { unit: unit.name, errno: EOPNOTSUPP, exitStatus: step.status },
    );
  };
  check('StandardInput', unit.standardInput, streams.stdin, STDIN_STEP);
  check('StandardOutput', unit.standardOutput, streams.stdout, STDOUT_STEP);
  check('StandardError', unit.standardError, streams.stderr, STDERR_STEP);
}

export function routeOutput(
  unit: ServiceUnit,
  options: ServiceProcessOptions,
  ctx: StartContext,
  pid: () => number | undefined,
): OutputRoute {
  // With the connection fd, the streams systemd puts on it; the output left (if any) is captured.
  const streams = ctx.socketStdio !== undefined ? socketStreams(unit) : { stdin: false, stdout: false, stderr: false };
  refuseUnsupported(unit, streams);
  const socket = { socketStdin: streams.stdin, socketStdout: streams.stdout, socketStderr: streams.stderr };
  const out = streamOf(unit.standardOutput, streams.stdout);
  const err = unit.standardError === 'inherit' ? out : streamOf(unit.standardError, streams.stderr);
  const files = openFiles(unit, streams.stdin, out, err);
  const captured = options.output === 'log' && (out === 'log' || err === 'log');
  // Lines are attributed to the process that writes them: this command's PID.
  let capture: ReturnType<NonNullable<ServiceProcessOptions['capture']>['open']> | undefined;
  try {
    capture = captured ? options.capture?.open(unit.name, pid) : undefined;
  } catch (e) {
    files.close();
    throw e;
  }
  const release = (): void => {
    files.close();
    capture?.release();
  };
  const stdioFds = files.fds;
  if (capture) return { output: 'inherit', outputFd: capture.fd, ...socket, stdioFds, release };
  return {
    output: out === 'null' && err === 'null' ? 'ignore' : options.output === 'log' ? 'ignore' : options.output,
    ...socket,
    stdioFds,
    release,
  };
}

/** The fds 0/1/2 override for files and null (undefined: as routed), and their closing. */
function openFiles(
  unit: ServiceUnit,
  socketStdin: boolean,
  out: Stream,
  err: Stream,
): { fds: [number | undefined, number | undefined, number | undefined]; close: () => void } {
  const opened: number[] = [];
  const close = (): void => {
    for (const fd of opened.splice(0)) closeSync(fd);
  };
  // Read only for a file (execContextOf() is not free for a per-connection instance).
  let umaskValue: number | undefined;
  const umask = (): number => (umaskValue ??= execContextOf(unit).umask);
  const fds: [number | undefined, number | undefined, number | undefined] = [undefined, undefined, undefined];
  try {
    const input = socketStdin ? undefined : /^file:(\/.*)$/.exec(unit.standardInput)?.[1];
    const outFile = typeof out === 'object' ? out : undefined;
    // StandardOutput=file: of the input's path: the same fd, opened read-write (exec-invoke.c `rw`).
    const rw = input !== undefined && outFile?.kind === 'file' && outFile.path === input;
    if (input !== undefined) {
      const flags = rw ? fsConstants.O_RDWR | fsConstants.O_CREAT : fsConstants.O_RDONLY;
      opened.push((fds[0] = openStdioFile(input, flags, umask(), STDIN_STEP, unit.name)));
    }
    if (out === 'null') fds[1] = -1;
    else if (outFile) {
      if (rw) fds[1] = fds[0];
      else
        opened.push((fds[1] = openStdioFile(outFile.path, writeFlags(outFile.kind), umask(), STDOUT_STEP, unit.name)));
    }
    if (err === 'null') fds[2] = -1;
    else if (typeof err === 'object') {
      // can_inherit_stderr_from_stdout(): inherit, or the same kind and path as stdout: one fd.
      if (err === out || (outFile && err.kind === outFile.kind && err.path === outFile.path)) fds[2] = fds[1];
      else if (input !== undefined && err.kind === 'file' && err.path === input) fds[2] = fds[0];
      else opened.push((fds[2] = openStdioFile(err.path, writeFlags(err.kind), umask(), STDERR_STEP, unit.name)));
    }
  } catch (e) {
    close();
    throw e;
  }
  return { fds, close };
}
