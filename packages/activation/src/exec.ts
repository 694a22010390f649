/**
 * Starting one command line of a service. The policy is one function, `prepareExec()`: the argv
 * after `$VAR` expansion, the environment, which fd goes where, which variables carry the
 * process' own PID, credentials, directory, session. Two launchers carry it out:
 *
 * - native (the default when @mptcp/native loads): `spawnProcess()` — clone(CLONE_VM|CLONE_VFORK)
 *   + execve, with LISTEN_PID/SYSTEMD_EXEC_PID written by the child itself, a real argv[0], and a
 *   pidfd to wait on and to signal;
 * - node (fallback): `child_process.spawn` of a tiny /bin/sh wrapper that exports the PID variables
 *   as `$$` and execs the program in place (exec keeps the PID); an `@` argv[0] needs bash's `exec -a`.
 *
 * Either way the fds reach 0, 1, 2, 3… by dup2, which clears FD_CLOEXEC on the child's copies only;
 * every other fd of the daemon is CLOEXEC and does not leak.
 */
import type { ChildProcess, StdioOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { accessSync, constants as fsConstants, existsSync, statSync } from 'node:fs';
import type { ExitWatch, ProcessExit, SpawnProcessOptions, SpawnedProcess } from '@mptcp/native';
import type { ExecCommand } from '@mptcp/unit';
import { DEFAULT_PATH } from './environment.js';
import { expandArgv } from './exec-expand.js';
import { ActivationError } from './errors.js';
import { exitStatusText, spawnExitStatus } from './exit-status.js';

let childProcessModule: typeof import('node:child_process') | undefined;
/** node:child_process (with net, dgram and the streams) loads only for the node launcher's first spawn. */
function childProcess(): typeof import('node:child_process') {
  childProcessModule ??=
    process.getBuiltinModule?.('node:child_process') ??
    (createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process'));
  return childProcessModule;
}

const SH = '/bin/sh';
const BASH = ['/bin/bash', '/usr/bin/bash'].find((p) => existsSync(p));

/** `log`: the daemon captures stdout/stderr (ServiceProcessOptions.capture) into its log. */
export type OutputMode = 'inherit' | 'ignore' | 'log';

/** How services are started: `native` (clone + execve in @mptcp/native) or `node` (child_process + sh). */
export type SpawnMethod = 'native' | 'node';

/** The @mptcp/native calls the native launcher needs (NativeApi.spawn). */
export interface NativeSpawn {
  spawnProcess(options: SpawnProcessOptions): SpawnedProcess;
  /**
   * The same off the event loop (clone/exec on a pool thread). When present the launcher uses it:
   * `pid` is set and `spawned` resolves once the child has exec'd; the fds given must stay open
   * until then (callers close their copies after `spawned`).
   */
  spawnProcessAsync?(options: SpawnProcessOptions): Promise<SpawnedProcess>;
  watchExit(pidfd: number, callback: (exit: ProcessExit | null, error: Error | null) => void): ExitWatch;
  killPid(pidfd: number, signal: NodeJS.Signals): boolean;
  close(fd: number): void;
  /** mknodat() (the FIFO, socket and device nodes of /run/systemd/inaccessible, namespace.ts). */
  mknod?(path: string, type: 'fifo' | 'socket' | 'char' | 'block', mode: number): void;
}

/**
 * A connection fd whose close the spawn may take over (Accept=yes): the native launcher off the
 * event loop passes it as `closeAfterSpawn`, so that the pool thread closes the daemon's copy right
 * after clone() and the peer sees the service's end without waiting for the event loop. `closed`
 * is set once the addon has closed it; while false, the fd is still the caller's to close.
 */
export interface FdHandOff {
  readonly fd: number;
  closed: boolean;
}

export interface ExecOptions {
  command: ExecCommand;
  env: Record<string, string>;
  /** fds placed at 3, 4, … in this order. */
  fds?: readonly number[];
  /**
   * The one connection fd of StandardInput=/StandardOutput=/StandardError=socket (systemd's
   * socket_fd): stdin and stdout by default; socketStdin/socketStdout say which (as resolved by
   * service-output.ts), the others being /dev/null (stdin) or the output below.
   */
  socketStdio?: number;
  /** stdin is the connection (default true with socketStdio; false: /dev/null). */
  socketStdin?: boolean;
  /** stdout is the connection (default true with socketStdio). */
  socketStdout?: boolean;
  /** StandardError=socket too. */
  socketStderr?: boolean;
  output?: OutputMode;
  /** stdout and stderr go to this fd (the daemon's log capture) instead. */
  outputFd?: number;
  /** Default `/` (systemd's WorkingDirectory= default for system services). */
  cwd?: string;
  /** stdin when not in inetd mode; default `ignore` (StandardInput=null). */
  stdin?: 'ignore' | 'inherit';
  /** Overrides of fd 0/1/2 (-1: /dev/null): StandardInput=file:, StandardOutput=/StandardError= file:/null (service-output.ts). */
  stdioFds?: readonly [number | undefined, number | undefined, number | undefined];
  /** Export SYSTEMD_EXEC_PID (default true; systemd-socket-activate does not). */
  execPid?: boolean;
  /** Own process group (default true: the engine signals the group on stop). */
  detached?: boolean;
  uid?: number;
  gid?: number;
  /**
   * The supplementary groups (setgroups() in the child, also without `uid`/`gid`); undefined: none
   * when `uid`/`gid` is given, else the daemon's (user.ts commandGroups()).
   */
  groups?: readonly number[];
  /** The native launcher; without it (addon unavailable) the node launcher runs. */
  native?: NativeSpawn;
  /** See FdHandOff: closed by the addon when the async native launcher runs, else left to the caller. */
  handOff?: FdHandOff;
  /**
   * The native launcher clones on the event loop's thread (vfork semantics: the loop waits until the
   * child has exec'd, ~0.2-1 ms) instead of a libuv pool thread: the child runs sooner, by the pool
   * thread's wake-up (call → exec'd program running, median paired difference 0.05-0.08 ms in 5 of 6
   * runs of 60-100 interleaved pairs at load 16-20, 0.43 ms in one; it is on the cold first byte's
   * path). For starts that nothing else queues behind (Accept=no services, control processes);
   * per-connection instances (Accept=yes) keep the pool thread so the loop goes on accepting.
   */
  blocking?: boolean;
  /**
   * The exec context (IgnoreSIGPIPE=, UMask=, Limit*=, Nice=, OOMScoreAdjust=, NoNewPrivileges=; see
   * exec-context.ts), applied in the child by the native launcher. The node launcher applies
   * ignoreSigpipe and umask only (its sh wrapper: `trap '' PIPE`, `umask`).
   */
  context?: ExecContextOptions;
}

/** The exec-context half of @mptcp/native's SpawnProcessOptions. */
export type ExecContextOptions = Pick<
  SpawnProcessOptions,
  | 'ignoreSigpipe'
  | 'umask'
  | 'rlimits'
  | 'nice'
  | 'oomScoreAdjust'
  | 'noNewPrivileges'
  | 'capabilityBoundingSet'
  | 'ambientCapabilities'
  | 'privateTmp'
  | 'mounts'
  | 'inaccessibleDir'
  | 'coredumpFilter'
  | 'cpuScheduling'
  | 'cpuAffinity'
  | 'ioprio'
  | 'timerSlackNsec'
  | 'personality'
  | 'cgroupFd'
>;

/**
 * The exec-context settings only the native launcher applies, each with systemd's exit status for
 * its step: the node launcher refuses a process that asks for one (sandbox.ts refuses them first,
 * with the unit's file and line; this catches `+` commands, which skip that check).
 */
const NATIVE_ONLY: ReadonlyArray<readonly [keyof ExecContextOptions, string, number]> = [
  ['coredumpFilter', 'CoredumpFilter=', 205],
  ['cpuScheduling', 'CPUSchedulingPolicy=/CPUSchedulingPriority=', 214],
  ['cpuAffinity', 'CPUAffinity=', 215],
  ['ioprio', 'IOSchedulingClass=/IOSchedulingPriority=', 211],
  ['timerSlackNsec', 'TimerSlackNSec=', 212],
  ['personality', 'Personality=', 230],
];

/** What prepareExec() decides, before any launcher runs. */
export interface PreparedExec {
  /** The program as written (absolute, or a name looked up in the child's PATH). */
  path: string;
  /** The argv the program will see: argv[0] is the `@` override or the path. */
  argv: string[];
  /** The child environment, without the PID-valued variables. */
  env: Record<string, string>;
  /** Variables whose value is the child's own PID (LISTEN_PID with LISTEN_FDS, SYSTEMD_EXEC_PID). */
  pidEnv: string[];
  /** Child fd i ← parent fd stdio[i]; -1 = /dev/null. */
  stdio: number[];
  cwd: string;
  uid?: number;
  gid?: number;
  /** Supplementary groups (see ExecOptions.groups). */
  groups?: number[];
  /** Own session and process group. */
  setsid: boolean;
  /** Exec context applied in the child (absent: none, the daemon's). */
  context?: ExecContextOptions;
}

/** Variables whose value is the child's own PID, set by the launcher. */
const PID_VARS = ['LISTEN_PID', 'SYSTEMD_EXEC_PID', 'WATCHDOG_PID'];

/** The one policy layer both launchers share. */
export function prepareExec(options: ExecOptions): PreparedExec {
  const command = options.command;
  const expanded = expandArgv(command.argv, options.env, command.noEnvExpand);
  const argv = [expanded[0] ?? command.path, ...expanded.slice(1)];
  const out = options.outputFd ?? (options.output === 'ignore' || options.output === 'log' ? -1 : undefined);
  const fds = options.fds ?? [];
  let stdio: number[];
  if (options.socketStdio !== undefined) {
    const s = options.socketStdio;
    stdio = [
      options.socketStdin === false ? -1 : s,
      options.socketStdout === false ? (out ?? 1) : s,
      options.socketStderr ? s : (out ?? 2),
      ...fds,
    ];
  } else {
    stdio = [options.stdin === 'inherit' ? 0 : -1, out ?? 1, out ?? 2, ...fds];
  }
  options.stdioFds?.forEach((fd, i) => fd !== undefined && (stdio[i] = fd));
  // Set below from the real PID; a stale one from Environment= must go. (Only then a copy without
  // them: `delete` turns the object into a slow dictionary, which the envp walk would pay for.)
  const env = PID_VARS.some((name) => Object.hasOwn(options.env, name))
    ? Object.fromEntries(Object.entries(options.env).filter(([name]) => !PID_VARS.includes(name)))
    : { ...options.env };
  const pidEnv: string[] = [];
  if (env.LISTEN_FDS !== undefined && env.LISTEN_FDS !== '') pidEnv.push('LISTEN_PID');
  // WatchdogSec=: the watchdog is this process' own (sd_watchdog_enabled() compares it).
  if (env.WATCHDOG_USEC !== undefined && env.WATCHDOG_USEC !== '') pidEnv.push('WATCHDOG_PID');
  if (options.execPid ?? true) pidEnv.push('SYSTEMD_EXEC_PID');
  return {
    path: command.path,
    argv,
    env,
    pidEnv,
    stdio,
    cwd: options.cwd ?? '/',
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
    ...(options.groups !== undefined ? { groups: [...options.groups] } : {}),
    setsid: options.detached ?? true,
    ...(options.context ? { context: options.context } : {}),
  };
}

/** A started command, whichever launcher started it. */
export interface ServiceChild {
  /** The PID; undefined when the program could not be started. */
  readonly pid: number | undefined;
  /** `native` or `node`. */
  readonly method: SpawnMethod;
  /** Resolves with undefined once the program runs, or with the error that prevented it. */
  readonly spawned: Promise<Error | undefined>;
  /** Resolves when the process has exited and was reaped. */
  readonly exited: Promise<ExitStatus>;
  /** Signals the main process only (the pidfd when native: no PID-reuse race). False once gone. */
  kill(signal: NodeJS.Signals): boolean;
}

/** Resolves when the child has exited: its code or signal. Spawn errors (ENOENT, EACCES) resolve as code 127/126. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

// ---- node launcher ------------------------------------------------------------------------------

export interface ExecPlan {
  file: string;
  args: string[];
  argv0: string | undefined;
  /** The argv the program itself will see (after expansion). */
  argv: string[];
  /** False when argv[0] differs from the path and no bash exists to set it (documented limitation). */
  argv0Honoured: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `exec "$0" "$@"` after exporting the PID-valued variables; `$$` is the shell's PID = the program's. */
function shPrologue(prep: PreparedExec): string {
  const exports = prep.pidEnv
    .filter((n) => NAME.test(n))
    .map((n) => `${n}=$$; export ${n}; `)
    .join('');
  // The shell exports a PWD of its own; systemd passes none unless configured.
  const ctx = prep.context;
  const context =
    (ctx?.ignoreSigpipe ? "trap '' PIPE; " : '') +
    (ctx?.umask !== undefined ? `umask ${ctx.umask.toString(8).padStart(4, '0')}; ` : '');
  return context + exports + (prep.env.PWD === undefined ? 'unset PWD; ' : '');
}

/** How the node launcher runs the prepared command (the sh/bash wrapper). */
export function planNodeExec(prep: PreparedExec): ExecPlan {
  const [argv0 = prep.path, ...rest] = prep.argv;
  const prologue = shPrologue(prep);
  if (argv0 !== prep.path && BASH !== undefined) {
    return {
      file: BASH,
      args: ['-c', `${prologue}a=$1; shift; exec -a "$a" "$0" "$@"`, prep.path, argv0, ...rest],
      argv0: undefined,
      argv: [argv0, ...rest],
      argv0Honoured: true,
    };
  }
  return {
    file: SH,
    args: ['-c', `${prologue}exec "$0" "$@"`, prep.path, ...rest],
    argv0: undefined,
    argv: [prep.path, ...rest],
    argv0Honoured: argv0 === prep.path,
  };
}

/**
 * How a command will be executed by the node launcher (exported for tests and for `mptcpd-lite
 * status --verbose`). The native launcher always honours argv[0].
 */
export function planExec(command: ExecCommand, env: Readonly<Record<string, string>>): ExecPlan {
  return planNodeExec(prepareExec({ command, env: { ...env } }));
}

/**
 * What the node launcher cannot do for `prep`: child_process drops every supplementary group when it
 * switches uid/gid (libuv: setgroups(0)) and applies no scheduling or process attribute. Such a
 * process is refused with systemd's status for the step (216/GROUP, 214/SETSCHEDULER, …), never run
 * without it. Undefined when the node launcher can run it as asked.
 */
export function nodeLauncherRefusal(prep: PreparedExec): { what: string; status: number } | undefined {
  const ctx = prep.context;
  for (const [key, what, status] of NATIVE_ONLY) if (ctx?.[key] !== undefined) return { what, status };
  const switching = prep.uid !== undefined || prep.gid !== undefined;
  if (switching && prep.groups?.some((g) => g !== prep.gid))
    return { what: `supplementary groups ${prep.groups.join(' ')}`, status: 216 };
  return undefined;
}

function launchNode(prep: PreparedExec): ServiceChild {
  const refusal = nodeLauncherRefusal(prep);
  if (refusal) {
    const error = new ActivationError(
      'SANDBOX_NOT_ENFORCED',
      `${refusal.what} cannot be applied by the node launcher (child_process): refusing to start ${prep.path} (status=${exitStatusText(refusal.status)}); use the native launcher (@mptcp/native)`,
      { exitStatus: refusal.status },
    );
    return spawnFailure(error, 'node');
  }
  const plan = planNodeExec(prep);
  const stdio: StdioOptions = prep.stdio.map((fd) => (fd < 0 ? 'ignore' : fd));
  const child: ChildProcess = childProcess().spawn(plan.file, plan.args, {
    stdio,
    env: prep.env,
    cwd: prep.cwd,
    ...(prep.uid !== undefined ? { uid: prep.uid } : {}),
    ...(prep.gid !== undefined ? { gid: prep.gid } : {}),
    detached: prep.setsid,
  });
  let error: Error | undefined;
  const spawned = new Promise<Error | undefined>((resolve) => {
    if (child.pid !== undefined) resolve(undefined);
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err) => resolve(err));
  });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('error', (err) => {
      error = err;
      // 'exit' does not follow a failed spawn.
      if (child.pid === undefined) resolve({ code: 127, signal: null, error: err });
    });
    child.once('exit', (code, signal) => resolve({ code, signal, ...(error ? { error } : {}) }));
  });
  return {
    get pid() {
      return child.pid;
    },
    method: 'node',
    spawned,
    exited,
    kill: (signal) => child.exitCode === null && child.signalCode === null && child.kill(signal),
  };
}

// ---- native launcher ----------------------------------------------------------------------------

/** execvp's lookup, done before the spawn: a name without `/` is searched in the child's PATH. */
export function resolveProgram(path: string, envPath: string | undefined): string | undefined {
  if (path.includes('/')) return path.startsWith('/') ? path : undefined;
  for (const dir of (envPath ?? DEFAULT_PATH).split(':')) {
    if (!dir.startsWith('/')) continue;
    const candidate = `${dir}/${path}`;
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Next directory.
    }
  }
  return undefined;
}

function spawnFailure(error: Error, method: SpawnMethod = 'native'): ServiceChild {
  const code = (error as NodeJS.ErrnoException).code;
  // A step systemd reports by its own status (218/CAPABILITIES), else the exec wrapper's codes.
  const status = spawnExitStatus(error) ?? (code === 'EACCES' || code === 'ENOEXEC' || code === 'EPERM' ? 126 : 127);
  return {
    pid: undefined,
    method,
    spawned: Promise.resolve(error),
    exited: Promise.resolve({ code: status, signal: null, error }),
    kill: () => false,
  };
}

function launchNative(prep: PreparedExec, native: NativeSpawn, handOff?: FdHandOff, blocking = false): ServiceChild {
  const file = resolveProgram(prep.path, prep.env.PATH);
  if (file === undefined) {
    const message = prep.path.includes('/')
      ? `execve ENOENT ${prep.path} (the path is relative to nothing: use an absolute path)`
      : `execve ENOENT ${prep.path} (no such executable in PATH=${prep.env.PATH ?? DEFAULT_PATH})`;
    return spawnFailure(Object.assign(new Error(message), { code: 'ENOENT', errno: 2, syscall: 'execve' }));
  }
  const options: SpawnProcessOptions = {
    file,
    argv: prep.argv,
    envp: Object.entries(prep.env).map(([k, v]) => `${k}=${v}`),
    cwd: prep.cwd,
    fds: prep.stdio,
    ...(prep.uid !== undefined ? { uid: prep.uid } : {}),
    ...(prep.gid !== undefined ? { gid: prep.gid } : {}),
    ...(prep.groups !== undefined ? { groups: prep.groups } : {}),
    setsid: prep.setsid,
    pidEnv: prep.pidEnv,
    ...prep.context,
  };
  // A kernel without CLONE_PIDFD (< 5.2) or a seccomp filter refusing clone(): the node launcher
  // does not need either.
  // Not when the exec context has capability sets: the node launcher cannot apply them, and a
  // restriction is never dropped on the way (the spawn fails, 218/CAPABILITIES, sandbox.ts).
  const cloneRefused = (e: NodeJS.ErrnoException): boolean =>
    e.syscall === 'clone' &&
    (e.code === 'EINVAL' || e.code === 'ENOSYS' || e.code === 'EPERM') &&
    prep.context?.capabilityBoundingSet === undefined &&
    prep.context?.ambientCapabilities === undefined &&
    prep.context?.privateTmp === undefined &&
    prep.context?.mounts === undefined &&
    prep.context?.cgroupFd === undefined &&
    nodeLauncherRefusal(prep) === undefined;
  if (native.spawnProcessAsync && !blocking) {
    // The addon closes the hand-off fd once clone() returned a child (exec'd or failed later); on a
    // refused clone (or stack mmap) it stays open, ours to close (and the node launcher's to use).
    const handed = handOff !== undefined && !handOff.closed ? handOff : undefined;
    const pending = native.spawnProcessAsync(handed ? { ...options, closeAfterSpawn: [handed.fd] } : options);
    const tracked = handed
      ? pending.then(
          (p) => ((handed.closed = true), p),
          (err: unknown) => {
            const syscall = (err as NodeJS.ErrnoException).syscall;
            if (syscall !== 'clone' && syscall !== 'mmap') handed.closed = true;
            throw err;
          },
        )
      : pending;
    return launchNativeAsync(prep, native, tracked, cloneRefused);
  }
  let proc: SpawnedProcess;
  try {
    proc = native.spawnProcess(options);
  } catch (err) {
    if (cloneRefused(err as NodeJS.ErrnoException)) return launchNode(prep);
    return spawnFailure(err instanceof Error ? err : new Error(String(err)));
  }
  let gone = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    native.watchExit(proc.pidfd, (exit, error) => {
      // Reaped (or the watch failed): the pidfd must never be signalled again, its number may be reused.
      gone = true;
      native.close(proc.pidfd);
      resolve(
        exit ? { code: exit.code, signal: exit.signal } : { code: null, signal: null, ...(error ? { error } : {}) },
      );
    });
  });
  return {
    pid: proc.pid,
    method: 'native',
    spawned: Promise.resolve(undefined),
    exited,
    kill: (signal) => !gone && native.killPid(proc.pidfd, signal),
  };
}

/**
 * The native launcher off the event loop: `pid` is undefined until `spawned` resolves; a kill()
 * before that is delivered as soon as the child exists (the last signal asked wins).
 */
function launchNativeAsync(
  prep: PreparedExec,
  native: NativeSpawn,
  pending: Promise<SpawnedProcess>,
  cloneRefused: (e: NodeJS.ErrnoException) => boolean,
): ServiceChild {
  let proc: SpawnedProcess | undefined;
  let fallback: ServiceChild | undefined;
  let gone = false;
  let queued: NodeJS.Signals | undefined;
  let resolveExit: (status: ExitStatus) => void = () => undefined;
  const exited = new Promise<ExitStatus>((resolve) => (resolveExit = resolve));
  const spawned = pending.then(
    (p): Promise<Error | undefined> | Error | undefined => {
      proc = p;
      native.watchExit(p.pidfd, (exit, error) => {
        gone = true;
        native.close(p.pidfd);
        resolveExit(
          exit ? { code: exit.code, signal: exit.signal } : { code: null, signal: null, ...(error ? { error } : {}) },
        );
      });
      if (queued !== undefined) native.killPid(p.pidfd, queued);
      return undefined;
    },
    (err: unknown): Promise<Error | undefined> => {
      gone = true;
      const failed = cloneRefused(err as NodeJS.ErrnoException)
        ? launchNode(prep)
        : spawnFailure(err instanceof Error ? err : new Error(String(err)));
      fallback = failed;
      void failed.exited.then(resolveExit);
      if (queued !== undefined) failed.kill(queued);
      return failed.spawned;
    },
  );
  return {
    get pid() {
      return proc?.pid ?? fallback?.pid;
    },
    get method() {
      return fallback?.method ?? 'native';
    },
    spawned,
    exited,
    kill: (signal) => {
      if (fallback) return fallback.kill(signal);
      if (!proc) {
        if (gone) return false;
        queued = signal;
        return true;
      }
      return !gone && native.killPid(proc.pidfd, signal);
    },
  };
}

/** Starts the command with the native launcher when `options.native` is given, else with node's. */
export function execCommand(options: ExecOptions): ServiceChild {
  const prep = prepareExec(options);
  // CPUAffinity=numa (the mask of NUMAMask=, not applied by either launcher): a `+` command skipped
  // sandbox.ts's refusal; it fails here the same way (215/CPUAFFINITY) instead of running unpinned.
  if ((prep.context as { cpuAffinityFromNuma?: true } | undefined)?.cpuAffinityFromNuma) {
    const error = new ActivationError(
      'SANDBOX_NOT_ENFORCED',
      `CPUAffinity=numa is not enforced by mptcpd-lite: refusing to start ${prep.path} (status=${exitStatusText(215)})`,
      { exitStatus: 215 },
    );
    return spawnFailure(error, options.native ? 'native' : 'node');
  }
  return options.native
    ? launchNative(prep, options.native, options.handOff, options.blocking === true)
    : launchNode(prep);
}

/** Resolves when the child has exited (spawn failures resolve as code 127/126 with `error`). */
export function waitExit(child: ServiceChild): Promise<ExitStatus> {
  return child.exited;
}
