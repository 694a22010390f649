/**
 * One service unit (or one Accept=yes instance) and its main process: ExecStartPre in order, then
 * ExecStart, then ExecStartPost; stop with ExecStop, KillSignal, TimeoutStopSec and SIGKILL. Restart
 * timing and start limits are the engine's business (it owns the sockets the restart needs).
 */
import { EventEmitter } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import type { ExecCommand, ServiceUnit } from '@mptcp/unit';
import { buildServiceEnvironment, invocationId, listenEnvironment } from './environment.js';
import { ActivationError, messageOf } from './errors.js';
import { type ExitStatus, type NativeSpawn, type OutputMode, type ServiceChild, execCommand, planExec, waitExit } from './exec.js';
import type { Logger } from './logger.js';
import { type ServiceResult, resultOfExit, shallRestart } from './restart-policy.js';
import { type ResolvedUser, credentialChange, resolveGroup, resolveUser } from './user.js';

export type ServiceState = 'inactive' | 'activating' | 'active' | 'deactivating' | 'auto-restart' | 'failed';

/** What the triggering socket hands to the service for one start. */
export interface StartContext {
  /** Listening (Accept=no) or connection (Accept=yes) fds, placed at 3.. */
  fds?: readonly number[];
  /** One name per fd (FileDescriptorName= or the socket unit name, `connection` for Accept=yes). */
  fdNames?: readonly string[];
  /** StandardInput=socket: this fd goes to stdin/stdout, no LISTEN_* variables. */
  socketStdio?: number;
  /** REMOTE_ADDR/REMOTE_PORT and the like. */
  env?: Record<string, string>;
}

export interface ServiceExit {
  unit: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  result: ServiceResult;
  /** Restart= asks for a restart (the engine decides, subject to the start limit). */
  restart: boolean;
  /** True when the exit was caused by stop(). */
  stopped: boolean;
}

export interface ServiceProcessOptions {
  logger: Logger;
  output: OutputMode;
  daemonEnv?: NodeJS.ProcessEnv;
  /** The native launcher (@mptcp/native's spawnProcess); without it child_process + /bin/sh. */
  spawn?: NativeSpawn;
}

interface ServiceEvents {
  state: [ServiceState];
  exit: [ServiceExit];
}

const usecToMs = (usec: number): number => (Number.isFinite(usec) ? Math.max(0, Math.round(usec / 1000)) : Infinity);

export class ServiceProcess extends EventEmitter<ServiceEvents> {
  state: ServiceState = 'inactive';
  pid: number | undefined;
  /** Main processes started (incl. restarts). */
  starts = 0;
  restarts = 0;
  lastResult: ServiceResult | undefined;
  lastInvocationId: string | undefined;
  private child: ServiceChild | undefined;
  /** The ExecStartPre=/ExecStartPost= process running now, so that stop() can end it too. */
  private control: ServiceChild | undefined;
  private stopping = false;
  private exited: Promise<void> | undefined;

  constructor(
    public unit: ServiceUnit,
    private readonly options: ServiceProcessOptions,
  ) {
    super();
  }

  get name(): string {
    return this.unit.name;
  }

  get running(): boolean {
    return this.state === 'activating' || this.state === 'active' || this.state === 'deactivating';
  }

  private setState(state: ServiceState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  /**
   * Runs ExecStartPre, then spawns the main process. Resolves with its PID once spawned (Type=simple
   * semantics; notify/forking/dbus are treated the same — see README). Rejects, leaving the state
   * `failed`, when a non-`-` ExecStartPre fails or the main process cannot be spawned.
   */
  async start(ctx: StartContext = {}): Promise<number> {
    if (this.running) throw new ActivationError('ENGINE_STATE', `${this.name} is already running`, { unit: this.name });
    const log = this.options.logger;
    const unit = this.unit;
    this.stopping = false;
    this.setState('activating');
    this.lastInvocationId = invocationId();
    try {
      const main = unit.execStart[0];
      if (!main) throw new ActivationError('NO_EXEC_START', 'Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing.', { unit: this.name });
      const creds = this.credentials();
      const cwd = this.workingDirectory(creds.user);
      const env = (forMain: boolean, cmd: ExecCommand): Record<string, string> => {
        const activation: Record<string, string> = { ...(ctx.env ?? {}) };
        if (forMain && ctx.socketStdio === undefined && ctx.fds && ctx.fds.length > 0) {
          Object.assign(activation, listenEnvironment(ctx.fdNames ?? ctx.fds.map(() => 'unknown')));
        }
        return buildServiceEnvironment({
          service: unit,
          ...(creds.user && !cmd.noUserSwitch && !cmd.fullPrivileges ? { user: creds.user } : {}),
          activation,
          ...(this.options.daemonEnv ? { daemonEnv: this.options.daemonEnv } : {}),
          ...(this.lastInvocationId ? { invocationId: this.lastInvocationId } : {}),
        });
      };
      for (const pre of unit.execStartPre) {
        this.control = this.spawn(pre, env(false, pre), cwd, creds, {});
        const status = await waitExit(this.control);
        this.control = undefined;
        this.checkNotStopped();
        if (!succeeded(status) && !pre.ignoreFailure) {
          throw new ActivationError('EXEC_FAILED', `Control process exited, ${describeExit(status)} (ExecStartPre=${pre.raw})`, { unit: this.name });
        }
      }
      this.checkNotStopped();
      const mainEnv = env(true, main);
      if (main.argv0Override && !this.options.spawn && !planExec(main, mainEnv).argv0Honoured) {
        log.warn(`No bash to set argv[0] for ${main.path}: starting it with its path as argv[0].`, { unit: this.name });
      }
      const child = this.spawn(main, mainEnv, cwd, creds, ctx);
      const spawned = await child.spawned;
      if (spawned) throw new ActivationError('EXEC_FAILED', `Failed to execute ${main.path}: ${messageOf(spawned)}`, { unit: this.name, cause: spawned });
      const pid = child.pid as number;
      this.child = child;
      this.pid = pid;
      this.starts += 1;
      this.setState('active');
      log.debug(`Started main process ${pid}: ${main.raw}`, { unit: this.name });
      this.exited = waitExit(child).then((status) => this.onExit(pid, status));
      void this.runPost(env, cwd, creds);
      return pid;
    } catch (err) {
      this.control = undefined;
      if (this.stopping) {
        this.setState('inactive');
      } else {
        this.lastResult = 'resources';
        this.setState('failed');
      }
      throw err;
    }
  }

  /** stop() during ExecStartPre= must not be followed by a main process nobody will stop. */
  private checkNotStopped(): void {
    if (this.stopping) throw new ActivationError('ENGINE_STATE', 'Stopped while starting.', { unit: this.name });
  }

  private async runPost(env: (forMain: boolean, cmd: ExecCommand) => Record<string, string>, cwd: string, creds: Credentials): Promise<void> {
    for (const post of this.unit.execStartPost) {
      if (this.state !== 'active') return;
      this.control = this.spawn(post, env(false, post), cwd, creds, {});
      const status = await waitExit(this.control);
      this.control = undefined;
      if (!succeeded(status) && !post.ignoreFailure) {
        this.options.logger.warn(`Control process exited, ${describeExit(status)} (ExecStartPost=${post.raw}); stopping.`, { unit: this.name });
        await this.stop();
        return;
      }
    }
  }

  private spawn(cmd: ExecCommand, env: Record<string, string>, cwd: string, creds: Credentials, ctx: StartContext): ServiceChild {
    const switchUser = !cmd.noUserSwitch && !cmd.fullPrivileges;
    return execCommand({
      command: cmd,
      env,
      ...(ctx.fds && ctx.socketStdio === undefined ? { fds: ctx.fds } : {}),
      ...(ctx.socketStdio !== undefined ? { socketStdio: ctx.socketStdio, socketStderr: this.unit.standardError === 'socket' } : {}),
      output: this.unit.standardOutput === 'null' ? 'ignore' : this.options.output,
      cwd,
      ...(switchUser && creds.uid !== undefined ? { uid: creds.uid } : {}),
      ...(switchUser && creds.gid !== undefined ? { gid: creds.gid } : {}),
      ...(this.options.spawn ? { native: this.options.spawn } : {}),
    });
  }

  private credentials(): Credentials {
    const user = this.unit.user !== undefined ? resolveUser(this.unit.user, this.name) : undefined;
    const gid = this.unit.group !== undefined ? resolveGroup(this.unit.group, this.name) : user?.gid;
    // Only what needs changing: an unprivileged daemon running User= of its own uid cannot setgroups().
    return { ...(user ? { user } : {}), ...credentialChange(user?.uid, gid) };
  }

  private workingDirectory(user: ResolvedUser | undefined): string {
    const wd = this.unit.workingDirectory;
    if (!wd) return '/';
    const path = wd.path === '~' ? (user?.home ?? process.env.HOME ?? '/root') : wd.path;
    if (existsSync(path) && statSync(path).isDirectory()) return path;
    if (wd.optional) return user?.home ?? '/';
    throw new ActivationError('WORKING_DIRECTORY', `Changing to the requested working directory failed: ${path}: No such file or directory`, { unit: this.name });
  }

  private async onExit(pid: number, status: ExitStatus): Promise<void> {
    const oneshot = this.unit.type === 'oneshot';
    const result: ServiceResult = resultOfExit(status.code, status.signal, oneshot);
    const stopped = this.stopping;
    const restart = !stopped && shallRestart(this.unit.restart, result);
    this.child = undefined;
    this.pid = undefined;
    this.lastResult = result;
    const log = this.options.logger;
    if (result === 'success') log.debug(`Main process exited, ${describeExit(status)}`, { unit: this.name });
    else log.warn(`Main process exited, ${describeExit(status)}`, { unit: this.name });
    await this.runStopPost(result, status);
    this.setState(restart ? 'auto-restart' : result === 'success' || stopped ? 'inactive' : 'failed');
    this.emit('exit', { unit: this.name, pid, code: status.code, signal: status.signal, result, restart, stopped });
  }

  /**
   * ExecStopPost= after the main process is gone (also after a failure), with systemd's
   * SERVICE_RESULT / EXIT_CODE / EXIT_STATUS; failures are logged only.
   */
  private async runStopPost(result: ServiceResult, status: ExitStatus): Promise<void> {
    if (this.unit.execStopPost.length === 0) return;
    const exitCode = status.signal !== null ? 'killed' : 'exited';
    const exitStatus = status.signal !== null ? status.signal.replace(/^SIG/, '') : String(status.code ?? '');
    for (const cmd of this.unit.execStopPost) {
      try {
        const creds = this.credentials();
        const env = {
          ...buildServiceEnvironment({ service: this.unit, ...(creds.user ? { user: creds.user } : {}), ...(this.options.daemonEnv ? { daemonEnv: this.options.daemonEnv } : {}) }),
          SERVICE_RESULT: result,
          EXIT_CODE: exitCode,
          EXIT_STATUS: exitStatus,
        };
        const s = await waitExit(this.spawn(cmd, env, this.workingDirectory(creds.user), creds, {}));
        if (!succeeded(s) && !cmd.ignoreFailure) this.options.logger.warn(`Control process exited, ${describeExit(s)} (ExecStopPost=${cmd.raw})`, { unit: this.name });
      } catch (err) {
        this.options.logger.warn(`ExecStopPost=${cmd.raw} failed: ${messageOf(err)}`, { unit: this.name });
      }
    }
  }

  /** Marks a scheduled restart as done or cancelled (the engine calls start() again itself). */
  clearAutoRestart(): void {
    if (this.state === 'auto-restart') this.setState('inactive');
  }

  /**
   * ExecStop= (if any), then KillSignal= to the process group, SIGKILL after TimeoutStopSec=.
   * Resolves when the main process is gone.
   */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) {
      this.clearAutoRestart();
      if (this.state === 'activating') {
        // ExecStartPre= is running: start() sees the flag and gives up; end the control process.
        this.stopping = true;
        const control = this.control;
        if (control?.pid !== undefined) signalGroup(control, 'SIGKILL', 'control-group');
      }
      return;
    }
    this.stopping = true;
    this.setState('deactivating');
    const pid = child.pid;
    const exited = this.exited ?? Promise.resolve();
    const unit = this.unit;
    const timeoutMs = usecToMs(unit.timeoutStopUsec);
    for (const cmd of unit.execStop) {
      try {
        const creds = this.credentials();
        const env = {
          ...buildServiceEnvironment({ service: unit, ...(creds.user ? { user: creds.user } : {}), ...(this.options.daemonEnv ? { daemonEnv: this.options.daemonEnv } : {}) }),
          MAINPID: String(pid),
        };
        await Promise.race([waitExit(this.spawn(cmd, env, this.workingDirectory(creds.user), creds, {})), exited]);
      } catch (err) {
        this.options.logger.warn(`ExecStop=${cmd.raw} failed: ${messageOf(err)}`, { unit: this.name });
      }
    }
    if (this.child === child && unit.killMode !== 'none') {
      signalGroup(child, unit.killSignal, unit.killMode);
      if (unit.killSignal !== 'SIGCONT' && unit.killMode !== 'process') signalGroup(child, 'SIGCONT', unit.killMode);
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        if (Number.isFinite(timeoutMs)) timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    if (timer) clearTimeout(timer);
    if (timedOut && this.child === child) {
      this.options.logger.warn('State \'stop-sigterm\' timed out. Killing.', { unit: this.name });
      if (unit.sendSIGKILL) signalGroup(child, unit.finalKillSignal || 'SIGKILL', unit.killMode === 'process' ? 'process' : 'control-group');
      await exited;
    }
  }

  snapshot(): ServiceSnapshot {
    return {
      name: this.name,
      state: this.state,
      ...(this.pid !== undefined ? { pid: this.pid } : {}),
      starts: this.starts,
      restarts: this.restarts,
      ...(this.lastResult !== undefined ? { result: this.lastResult } : {}),
      ...(this.lastInvocationId !== undefined ? { invocationId: this.lastInvocationId } : {}),
    };
  }
}

export interface ServiceSnapshot {
  name: string;
  state: ServiceState;
  pid?: number;
  starts: number;
  restarts: number;
  result?: ServiceResult;
  invocationId?: string;
}

interface Credentials {
  user?: ResolvedUser;
  uid?: number;
  gid?: number;
}

function succeeded(s: ExitStatus): boolean {
  return s.code === 0 && s.signal === null && s.error === undefined;
}

export function describeExit(s: ExitStatus): string {
  if (s.signal !== null) return `code=killed, status=${s.signal.replace(/^SIG/, '')}`;
  // A failed exec is 126/127 (the sh wrapper's codes; the native launcher maps its errno to them;
  // systemd: status=203/EXEC).
  return `code=exited, status=${s.code ?? '?'}${s.code === 0 ? '/SUCCESS' : s.code === 127 || s.code === 126 ? '/EXEC' : '/FAILURE'}`;
}

/**
 * KillMode=control-group/mixed → the process group (our stand-in for the cgroup; the services lead
 * their own); process → the main process only (through its pidfd when started natively).
 */
function signalGroup(child: ServiceChild, signal: string, mode: string): void {
  const pid = child.pid;
  if (pid === undefined) return;
  if (mode !== 'process' && mode !== 'mixed') {
    try {
      process.kill(-pid, signal as NodeJS.Signals);
      return;
    } catch {
      // No such group (not detached): the main process at least.
    }
  }
  try {
    child.kill(signal as NodeJS.Signals);
  } catch {
    // Already gone.
  }
}

/** Puts a service that was refused by its start limit into `failed` (start-limit-hit) without running it. */
export function markStartLimitHit(p: ServiceProcess): void {
  p.lastResult = 'start-limit-hit';
  p.state = 'failed';
  p.emit('state', 'failed');
}
