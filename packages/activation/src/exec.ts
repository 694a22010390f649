/**
 * Starting one command line of a service. Node cannot run code between fork() and exec(), so the
 * values that must equal the service's own PID (LISTEN_PID, SYSTEMD_EXEC_PID) are set by a tiny
 * /bin/sh wrapper that then execs the program in place — exec keeps the PID, so a strict
 * sd_listen_fds() client accepts them. The fds go to 3.. through spawn's stdio array; libuv dup2()s
 * them into place, which also clears FD_CLOEXEC on the child's copies only.
 */
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ExecCommand } from '@mptcp/unit';
import { expandArgv } from './exec-expand.js';

/** `exec "$0" "$@"` after exporting the PID-valued variables; `$$` is the shell's PID = the program's. */
const PROLOGUE =
  'LISTEN_PID=$$; SYSTEMD_EXEC_PID=$$; [ -n "$MPTCPD_SET_EXEC_PID" ] && export SYSTEMD_EXEC_PID; [ -n "$LISTEN_FDS" ] && export LISTEN_PID; ' +
  // The shell exports a PWD of its own; systemd passes none unless configured.
  '[ -n "$MPTCPD_UNSET_PWD" ] && unset PWD; unset MPTCPD_SET_EXEC_PID MPTCPD_UNSET_PWD; ';
const SH_WRAPPER = `${PROLOGUE}exec "$0" "$@"`;
/** Same with an explicit argv[0] (`@` prefix): dash has no `exec -a`, bash has. */
const BASH_ARGV0_WRAPPER = `${PROLOGUE}a=$1; shift; exec -a "$a" "$0" "$@"`;

const SH = '/bin/sh';
const BASH = ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p));

export type OutputMode = 'inherit' | 'ignore';

export interface ExecOptions {
  command: ExecCommand;
  env: Record<string, string>;
  /** fds placed at 3, 4, … in this order. */
  fds?: readonly number[];
  /** inetd mode: this fd becomes stdin and stdout (StandardInput=socket). */
  socketStdio?: number;
  /** StandardError=socket too. */
  socketStderr?: boolean;
  output?: OutputMode;
  /** Default `/` (systemd's WorkingDirectory= default for system services). */
  cwd?: string;
  /** stdin when not in inetd mode; default `ignore` (StandardInput=null). */
  stdin?: 'ignore' | 'inherit';
  /** Export SYSTEMD_EXEC_PID (default true; systemd-socket-activate does not). */
  execPid?: boolean;
  /** Own process group (default true: the engine signals the group on stop). */
  detached?: boolean;
  uid?: number;
  gid?: number;
}

export interface ExecPlan {
  file: string;
  args: string[];
  argv0: string | undefined;
  /** The argv the program itself will see (after expansion). */
  argv: string[];
  /** False when argv[0] differs from the path and no bash exists to set it (documented limitation). */
  argv0Honoured: boolean;
}

/** How the command will be executed: exported for tests and for `mptcpd-lite status --verbose`. */
export function planExec(command: ExecCommand, env: Readonly<Record<string, string>>): ExecPlan {
  const argv = expandArgv(command.argv, env, command.noEnvExpand);
  const argv0 = argv[0] ?? command.path;
  const rest = argv.slice(1);
  if (argv0 !== command.path && BASH !== undefined) {
    return { file: BASH, args: ['-c', BASH_ARGV0_WRAPPER, command.path, argv0, ...rest], argv0: undefined, argv: [argv0, ...rest], argv0Honoured: true };
  }
  return { file: SH, args: ['-c', SH_WRAPPER, command.path, ...rest], argv0: undefined, argv: [command.path, ...rest], argv0Honoured: argv0 === command.path };
}

export function execCommand(options: ExecOptions): ChildProcess {
  const plan = planExec(options.command, options.env);
  const out = options.output ?? 'inherit';
  const fds = options.fds ?? [];
  let stdio: StdioOptions;
  if (options.socketStdio !== undefined) {
    const s = options.socketStdio;
    stdio = [s, s, options.socketStderr ? s : out, ...fds];
  } else {
    stdio = [options.stdin ?? 'ignore', out, out, ...fds];
  }
  const env = { ...options.env };
  // The wrapper exports LISTEN_PID only when LISTEN_FDS is set; a stale one from Environment= must go.
  delete env.LISTEN_PID;
  delete env.SYSTEMD_EXEC_PID;
  // A marker the wrapper consumes: whether to export SYSTEMD_EXEC_PID.
  if (options.execPid ?? true) env.MPTCPD_SET_EXEC_PID = '1';
  else delete env.MPTCPD_SET_EXEC_PID;
  if (env.PWD === undefined) env.MPTCPD_UNSET_PWD = '1';
  return spawn(plan.file, plan.args, {
    stdio,
    env,
    cwd: options.cwd ?? '/',
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
    // Own process group: stop() signals the whole group, like KillMode=control-group for the main tree.
    detached: options.detached ?? true,
  });
}

/** Resolves when the child has exited: its code or signal. Spawn errors (ENOENT, EACCES) resolve as code 127/126. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

export function waitExit(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    child.once('error', (err) => {
      error = err;
      // 'exit' does not follow a failed spawn.
      if (child.pid === undefined) resolve({ code: 127, signal: null, error: err });
    });
    child.once('exit', (code, signal) => resolve({ code, signal, ...(error ? { error } : {}) }));
  });
}
