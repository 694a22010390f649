/**
 * One service unit (or one Accept=yes instance) and its processes — systemd's service.c state
 * machine for what mptcpd-lite runs:
 *
 * - Type=simple/exec/idle: active once the main process runs; notify/notify-reload: activating
 *   until READY=1; forking: until the started process exits 0, then the PIDFile=/guessed daemon
 *   is the main process; oneshot: until the process exits (RemainAfterExit= keeps it active).
 * - TimeoutStartSec= (result `timeout`), WatchdogSec= (WATCHDOG_USEC/WATCHDOG_PID, result
 *   `watchdog`, WatchdogSignal=), the sd_notify messages (NotifyAccess=), the fd store.
 * - stop: ExecStop=, KillSignal= to the process group, SIGKILL after TimeoutStopSec=.
 *
 * Restart timing and start limits are the engine's business (it owns the sockets the restart
 * needs): `exit` says whether Restart= asks for one.
 */
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type { ExecCommand, ServiceUnit } from '@mptcp/unit';
import { buildServiceEnvironment, invocationId, listenEnvironment } from './environment.js';
import { ActivationError, messageOf } from './errors.js';
import {
  type ExitStatus,
  type NativeSpawn,
  type OutputMode,
  type ServiceChild,
  execCommand,
  planExec,
  waitExit,
} from './exec.js';
import { FdStore, fdNameValid } from './fd-store.js';
import type { Logger } from './logger.js';
import { type NotifyMessage, parsePid, parseUsec } from './notify-message.js';
import type { NotifySender, NotifySocket, NotifyTarget } from './notify-socket.js';
import { type ServiceResult, resultOfExit, shallRestart } from './restart-policy.js';
import { type ResolvedUser, credentialChange, resolveGroup, resolveUser } from './user.js';

export type ServiceState =
  'inactive' | 'activating' | 'active' | 'reloading' | 'deactivating' | 'auto-restart' | 'failed';

/** systemd's SubState= values that happen here. */
export type ServiceSubState =
  | 'dead'
  | 'start-pre'
  | 'start'
  | 'start-post'
  | 'running'
  | 'exited'
  | 'reload'
  | 'reload-signal'
  | 'reload-notify'
  | 'stop'
  | 'stop-watchdog'
  | 'stop-sigterm'
  | 'stop-sigkill'
  | 'stop-post'
  | 'failed'
  | 'auto-restart';

export type NotifyAccess = 'none' | 'main' | 'exec' | 'all';

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

/** Where a service's stdout/stderr go when the daemon captures them (StandardOutput=journal). */
export interface OutputCapture {
  /**
   * An fd for the child's stdout+stderr; the capture prefixes lines with the unit and `pid()`.
   * `release()` is called once the launcher ran (the PID is known): the capture closes its copy of
   * the fd and may log lines it held back until then.
   */
  open(unit: string, pid: () => number | undefined): { fd: number; release(): void } | undefined;
}

export interface ServiceProcessOptions {
  logger: Logger;
  output: OutputMode;
  daemonEnv?: NodeJS.ProcessEnv;
  /** The native launcher (@mptcp/native's spawnProcess); without it child_process + /bin/sh. */
  spawn?: NativeSpawn;
  /** The daemon's notify socket; without it no NOTIFY_SOCKET is passed (Type=notify then never gets ready). */
  notify?: NotifySocket;
  /** close(2) for fds received with notifications (the fd store). */
  closeFd?: (fd: number) => void;
  /** Captures stdout/stderr into the daemon's log (output `log`). */
  capture?: OutputCapture;
}

interface ServiceEvents {
  state: [ServiceState];
  exit: [ServiceExit];
}

/** setTimeout's limit (~24.8 days); longer timeouts are as good as infinite. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const usecToMs = (usec: number): number => (Number.isFinite(usec) ? Math.max(0, Math.round(usec / 1000)) : Infinity);
const fmtSec = (usec: number): string => (Number.isFinite(usec) ? `${+(usec / 1e6).toFixed(3)}s` : 'infinity');

function timer(usec: number, fn: () => void): NodeJS.Timeout | undefined {
  const ms = usecToMs(usec);
  if (!Number.isFinite(ms) || ms > MAX_TIMER_MS) return undefined;
  return setTimeout(fn, ms);
}

/** NotifyAccess= as systemd resolves it: notify types and WatchdogSec= default to `main`. */
export function effectiveNotifyAccess(unit: ServiceUnit): NotifyAccess {
  if (unit.notifyAccess !== undefined) return unit.notifyAccess;
  if (unit.type === 'notify' || unit.type === 'notify-reload' || (unit.watchdogUsec ?? 0) > 0) return 'main';
  return 'none';
}

export class ServiceProcess extends EventEmitter<ServiceEvents> implements NotifyTarget {
  state: ServiceState = 'inactive';
  subState: ServiceSubState = 'dead';
  /** The main PID (the spawned process, or MAINPID=/PIDFile=). */
  pid: number | undefined;
  /** ExecStartPre=/ExecStartPost=/ExecReload=/ExecStop= process now running. */
  controlPid: number | undefined;
  /** Main processes started (incl. restarts). */
  starts = 0;
  restarts = 0;
  lastResult: ServiceResult | undefined;
  lastInvocationId: string | undefined;
  /** STATUS= from the service. */
  statusText: string | undefined;
  /** ERRNO= from the service. */
  statusErrno: number | undefined;
  /** The last exit of the main process. */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** When the current state was entered (ms since the epoch). */
  stateSince = Date.now();
  readonly fdStore: FdStore;
  /** The session the main process leads (setsid): processes of this service. */
  private session: number | undefined;
  private child: ServiceChild | undefined;
  private control: ServiceChild | undefined;
  private stopping = false;
  private exited: Promise<void> | undefined;
  /** The failure of this run (first failure wins, as service_enter_*'s `if (s->result == SUCCESS)`). */
  private result: ServiceResult = 'success';
  private readyReceived = false;
  private startTimer: NodeJS.Timeout | undefined;
  private startDeadline = 0;
  private stopTimer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;
  /** WATCHDOG_USEC= override from the service for this run. */
  private watchdogOverride: number | undefined;
  /** Resolves the pending ExecReload=/notify-reload. */
  private reloadDone: (() => void) | undefined;
  /** Alien main process (forking/MAINPID=): polled for its exit. */
  private alienPoll: NodeJS.Timeout | undefined;
  private forkingStarter: ServiceChild | undefined;
  /** The main execve failed for a Type=simple service: reported as an exit, not a failed start. */
  private execFailedAfterStart = false;

  constructor(
    public unit: ServiceUnit,
    private readonly options: ServiceProcessOptions,
  ) {
    super();
    const close = options.closeFd ?? (() => undefined);
    this.fdStore = new FdStore(unit.name, close, options.logger);
  }

  get name(): string {
    return this.unit.name;
  }

  get running(): boolean {
    return (
      this.state === 'activating' ||
      this.state === 'active' ||
      this.state === 'reloading' ||
      this.state === 'deactivating'
    );
  }

  get notifyAccess(): NotifyAccess {
    return effectiveNotifyAccess(this.unit);
  }

  private get log(): Logger {
    return this.options.logger;
  }

  private setState(state: ServiceState, sub?: ServiceSubState): void {
    if (sub !== undefined) this.subState = sub;
    if (this.state === state) return;
    this.state = state;
    this.stateSince = Date.now();
    this.emit('state', state);
  }

  /**
   * Runs ExecStartPre, then spawns the main process. Resolves with its PID once spawned; the state
   * is `active` at once for simple/exec, or `activating` until READY=1 (notify), the starter's exit
   * (forking, oneshot). Rejects, leaving the state `failed`, when a non-`-` ExecStartPre fails or the
   * main process cannot be spawned.
   */
  async start(ctx: StartContext = {}): Promise<number> {
    if (this.running) throw new ActivationError('ENGINE_STATE', `${this.name} is already running`, { unit: this.name });
    const unit = this.unit;
    this.stopping = false;
    this.result = 'success';
    this.readyReceived = false;
    this.watchdogOverride = undefined;
    this.statusText = undefined;
    this.statusErrno = undefined;
    this.setState('activating', 'start-pre');
    this.lastInvocationId = invocationId();
    this.options.notify?.register(this);
    this.armStartTimer(unit.timeoutStartUsec);
    let execFailed = false;
    try {
      const main = unit.execStart[0];
      if (!main)
        throw new ActivationError(
          'NO_EXEC_START',
          'Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing.',
          { unit: this.name },
        );
      const creds = this.credentials();
      const cwd = this.workingDirectory(creds.user);
      // The fd store comes back after the socket fds (service_collect_fds()).
      const stored = this.fdStore.list();
      // StandardInput=socket: the socket is stdin/stdout, only stored fds are LISTEN_FDS.
      const socketFds = ctx.socketStdio === undefined ? (ctx.fds ?? []) : [];
      const socketNames = ctx.socketStdio === undefined ? (ctx.fdNames ?? socketFds.map(() => 'unknown')) : [];
      const fds = [...socketFds, ...stored.map((s) => s.fd)];
      const fdNames = [...socketNames, ...stored.map((s) => s.name)];
      const mainCtx: StartContext = {
        ...(ctx.env ? { env: ctx.env } : {}),
        ...(ctx.socketStdio !== undefined ? { socketStdio: ctx.socketStdio } : {}),
        ...(fds.length > 0 ? { fds, fdNames } : {}),
      };
      for (const pre of unit.execStartPre) {
        const status = await this.runControl(pre, 'ExecStartPre');
        this.checkNotStopped();
        if (!succeeded(status) && !pre.ignoreFailure) {
          throw new ActivationError(
            'EXEC_FAILED',
            `Control process exited, ${describeExit(status)} (ExecStartPre=${pre.raw})`,
            { unit: this.name },
          );
        }
      }
      this.checkNotStopped();
      const mainEnv = this.environment(creds, main, true, mainCtx);
      if (main.argv0Override && !this.options.spawn && !planExec(main, mainEnv).argv0Honoured) {
        this.log.warn(`No bash to set argv[0] for ${main.path}: starting it with its path as argv[0].`, {
          unit: this.name,
        });
      }
      this.subState = 'start';
      const child = this.spawn(main, mainEnv, cwd, creds, mainCtx);
      const spawned = await child.spawned;
      if (spawned) {
        const err = new ActivationError('EXEC_FAILED', `Failed to execute ${main.path}: ${messageOf(spawned)}`, {
          unit: this.name,
          cause: spawned,
        });
        // Type=simple/idle: the start is done once forked; the failed execve is the main process
        // exiting 203/EXEC — result exit-code, and Restart= applies (Type=exec fails the start instead).
        if (unit.type === 'simple' || unit.type === 'idle') this.execFailedAfterStart = true;
        execFailed = true;
        throw err;
      }
      const pid = child.pid as number;
      this.starts += 1;
      this.session = pid;
      this.log.debug(`Started main process ${pid}: ${main.raw}`, { unit: this.name });
      if (unit.type === 'forking') {
        // The started process is the control process; the daemon it leaves behind is the main one.
        this.forkingStarter = child;
        this.controlPid = pid;
        void waitExit(child).then((status) => this.onForkingStarterExit(status));
      } else {
        this.child = child;
        this.pid = pid;
        this.exited = waitExit(child).then((status) => this.onMainExit(pid, status));
        if (unit.type !== 'notify' && unit.type !== 'notify-reload' && unit.type !== 'oneshot')
          void this.enterRunning();
      }
      return pid;
    } catch (err) {
      this.control = undefined;
      this.controlPid = undefined;
      this.clearStartTimer();
      this.options.notify?.unregister(this);
      if (this.execFailedAfterStart && !this.stopping) {
        this.execFailedAfterStart = false;
        this.starts += 1;
        this.lastResult = 'exit-code';
        this.lastExit = { code: 203, signal: null };
        const restart = shallRestart(this.unit.restart, 'exit-code');
        this.log.warn('Main process exited, code=exited, status=203/EXEC', { unit: this.name });
        this.log.warn("Failed with result 'exit-code'.", { unit: this.name });
        this.setState(restart ? 'auto-restart' : 'failed', restart ? 'auto-restart' : 'failed');
        this.releaseFdStoreIfDone(restart);
        this.emit('exit', {
          unit: this.name,
          pid: 0,
          code: 203,
          signal: null,
          result: 'exit-code',
          restart,
          stopped: false,
        });
        throw err;
      }
      if (this.stopping) {
        this.setState('inactive', 'dead');
      } else {
        // execve failed: systemd's status=203/EXEC, result exit-code; anything else before it: resources.
        this.lastResult = execFailed ? 'exit-code' : 'resources';
        this.setState('failed', 'failed');
      }
      this.releaseFdStoreIfDone(false);
      throw err;
    }
  }

  /** stop() during ExecStartPre= must not be followed by a main process nobody will stop. */
  private checkNotStopped(): void {
    if (this.stopping) throw new ActivationError('ENGINE_STATE', 'Stopped while starting.', { unit: this.name });
  }

  private environment(
    creds: Credentials,
    cmd: ExecCommand,
    forMain: boolean,
    ctx: StartContext,
  ): Record<string, string> {
    const activation: Record<string, string> = { ...(ctx.env ?? {}) };
    if (forMain && ctx.fds && ctx.fds.length > 0)
      Object.assign(activation, listenEnvironment(ctx.fdNames ?? ctx.fds.map(() => 'unknown')));
    const notify = this.options.notify;
    if (notify && this.notifyAccess !== 'none') activation.NOTIFY_SOCKET = notify.address;
    const wd = this.unit.watchdogUsec ?? 0;
    if (forMain && wd > 0 && Number.isFinite(wd)) activation.WATCHDOG_USEC = String(wd);
    if (!forMain && this.pid !== undefined) activation.MAINPID = String(this.pid);
    return buildServiceEnvironment({
      service: this.unit,
      ...(creds.user && !cmd.noUserSwitch && !cmd.fullPrivileges ? { user: creds.user } : {}),
      activation,
      ...(this.options.daemonEnv ? { daemonEnv: this.options.daemonEnv } : {}),
      ...(this.lastInvocationId ? { invocationId: this.lastInvocationId } : {}),
    });
  }

  /** Runs one control command (ExecStartPre=, ExecStartPost=, ExecReload=…) to its end. */
  private async runControl(cmd: ExecCommand, what: string): Promise<ExitStatus> {
    const creds = this.credentials();
    const env = this.environment(creds, cmd, false, {});
    this.control = this.spawn(cmd, env, this.workingDirectory(creds.user), creds, {});
    this.controlPid = this.control.pid;
    const spawnErr = await this.control.spawned;
    if (spawnErr === undefined) this.controlPid = this.control.pid;
    const status = await waitExit(this.control);
    this.control = undefined;
    this.controlPid = undefined;
    if (!succeeded(status)) this.log.debug(`${what}=${cmd.raw}: ${describeExit(status)}`, { unit: this.name });
    return status;
  }

  /** Start finished: READY=1, the main process of a simple service runs, or the forking starter exited 0. */
  private async enterRunning(): Promise<void> {
    if (this.state !== 'activating' || this.stopping) return;
    this.subState = 'start-post';
    this.startWatchdog();
    for (const post of this.unit.execStartPost) {
      const status = await this.runControl(post, 'ExecStartPost');
      if (this.state !== 'activating' || this.stopping) return;
      if (!succeeded(status) && !post.ignoreFailure) {
        this.log.warn(`Control process exited, ${describeExit(status)} (ExecStartPost=${post.raw}); stopping.`, {
          unit: this.name,
        });
        this.setResult('exit-code');
        void this.stop();
        return;
      }
    }
    this.clearStartTimer();
    this.setState('active', 'running');
  }

  // ---- timers ------------------------------------------------------------------------------------

  private armStartTimer(usec: number): void {
    this.clearStartTimer();
    this.startDeadline = Number.isFinite(usec) ? Date.now() + usecToMs(usec) : Infinity;
    this.startTimer = timer(usec, () => this.onStartTimeout());
  }

  private clearStartTimer(): void {
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = undefined;
  }

  private onStartTimeout(): void {
    this.startTimer = undefined;
    if (this.state !== 'activating' || this.stopping) return;
    this.log.warn(
      `${this.subState === 'start-post' ? 'Start-post' : this.subState === 'start-pre' ? 'Start-pre' : 'Start'} operation timed out. Terminating.`,
      { unit: this.name },
    );
    this.setResult('timeout');
    void this.terminate(this.unit.killSignal);
  }

  private watchdogUsec(): number {
    return this.watchdogOverride ?? this.unit.watchdogUsec ?? 0;
  }

  /** (Re)arms the watchdog from now (service_reset_watchdog()). */
  private startWatchdog(): void {
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
    const usec = this.watchdogUsec();
    if (usec <= 0) return;
    this.watchdogTimer = timer(usec, () => this.onWatchdogTimeout());
  }

  private stopWatchdog(): void {
    if (this.watchdogTimer) clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  private onWatchdogTimeout(): void {
    this.watchdogTimer = undefined;
    if (!this.running || this.stopping) return;
    this.log.error(`Watchdog timeout (limit ${fmtSec(this.watchdogUsec())})!`, { unit: this.name });
    this.setResult('watchdog');
    void this.terminate(this.unit.watchdogSignal ?? 'SIGABRT', 'stop-watchdog');
  }

  private setResult(r: ServiceResult): void {
    if (this.result === 'success') this.result = r;
  }

  // ---- notifications -----------------------------------------------------------------------------

  /** How a PID belongs to this service (for the notify socket). */
  relation(pid: number, session: number | undefined): 'main' | 'control' | 'member' | undefined {
    if (!this.running) return undefined;
    if (pid === this.pid) return 'main';
    if (pid === this.controlPid) return 'control';
    if (this.session !== undefined && session === this.session) return 'member';
    return undefined;
  }

  onNotify(msg: NotifyMessage, sender: NotifySender, relation: 'main' | 'control' | 'member', fds: number[]): void {
    const access = this.notifyAccess;
    const allowed =
      access === 'all' || (access === 'main' && relation === 'main') || (access === 'exec' && relation !== 'member');
    if (!allowed) {
      if (access === 'none')
        this.log.warn(`Got notification message from PID ${sender.pid}, but reception is disabled.`, {
          unit: this.name,
        });
      else if (access === 'main')
        this.log.warn(
          `Got notification message from PID ${sender.pid}, but reception only permitted for main PID ${this.pid ?? 'n/a'}`,
          { unit: this.name },
        );
      else
        this.log.warn(
          `Got notification message from PID ${sender.pid}, but reception only permitted for main PID and control PID`,
          { unit: this.name },
        );
      this.closeFds(fds);
      return;
    }
    const f = msg.fields;
    let keep: number[] = [];
    const mainPid = parsePid(f.get('MAINPID'));
    if (f.has('MAINPID') && mainPid === undefined)
      this.log.warn(`Failed to parse MAINPID=${f.get('MAINPID')} field in notification message, ignoring.`, {
        unit: this.name,
      });
    if (mainPid !== undefined && mainPid !== this.pid) this.setMainPid(mainPid);
    if (f.get('STATUS') !== undefined) this.statusText = (f.get('STATUS') as string).slice(0, 16 * 1024);
    const errno = f.get('ERRNO');
    if (errno !== undefined) this.statusErrno = /^\d+$/.test(errno) ? Number(errno) : undefined;
    const wdUsec = parseUsec(f.get('WATCHDOG_USEC'));
    if (wdUsec !== undefined) {
      this.watchdogOverride = wdUsec;
      if (this.watchdogTimer || this.state === 'active') this.startWatchdog();
    }
    if (f.get('STOPPING') === '1') this.enterStopByNotify();
    if (f.get('RELOADING') === '1') this.enterReloadByNotify();
    if (f.get('READY') === '1') this.onReady();
    const extend = parseUsec(f.get('EXTEND_TIMEOUT_USEC'));
    if (extend !== undefined) this.extendTimeout(extend);
    const wd = f.get('WATCHDOG');
    if (wd === '1') {
      if (this.watchdogTimer) this.startWatchdog();
    } else if (wd === 'trigger') {
      this.log.error('Watchdog request (last status: ' + (this.statusText ?? 'n/a') + ')!', { unit: this.name });
      this.setResult('watchdog');
      void this.terminate(this.unit.watchdogSignal ?? 'SIGABRT', 'stop-watchdog');
    }
    if (f.get('FDSTORE') === '1' && fds.length > 0) {
      const name = f.get('FDNAME') ?? 'stored';
      const max = this.unit.fileDescriptorStoreMax ?? 0;
      if (!fdNameValid(name)) {
        this.log.warn(`Passed FDNAME= name is invalid, ignoring.`, { unit: this.name });
      } else if (max === 0) {
        this.log.warn('Got file descriptors via notification but FileDescriptorStoreMax= is 0, closing.', {
          unit: this.name,
        });
      } else {
        this.fdStore.add(fds, name, f.get('FDPOLL') !== '0', max);
        keep = fds;
      }
    } else if (fds.length > 0 && f.get('BARRIER') !== '1') {
      this.log.warn('Got extra file descriptors via notification, closing.', { unit: this.name });
    }
    if (f.get('FDSTOREREMOVE') === '1') {
      const name = f.get('FDNAME');
      if (name === undefined)
        this.log.warn('FDSTOREREMOVE=1 requested, but no name specified, ignoring.', { unit: this.name });
      else this.fdStore.remove(name);
    }
    // BARRIER=1: closing its fd (below) is the answer the sender waits for.
    this.closeFds(fds.filter((fd) => !keep.includes(fd)));
  }

  private closeFds(fds: readonly number[]): void {
    const close = this.options.closeFd;
    for (const fd of fds) {
      try {
        close?.(fd);
      } catch {
        // Already closed.
      }
    }
  }

  private onReady(): void {
    this.readyReceived = true;
    if (
      this.state === 'activating' &&
      (this.unit.type === 'notify' || this.unit.type === 'notify-reload') &&
      this.subState === 'start'
    ) {
      void this.enterRunning();
    } else if (this.state === 'reloading') {
      this.finishReload();
    }
  }

  private enterReloadByNotify(): void {
    if (this.state !== 'active') return;
    this.setState('reloading', 'reload-notify');
    this.armStartTimer(this.unit.timeoutStartUsec);
  }

  private finishReload(): void {
    this.clearStartTimer();
    this.setState('active', 'running');
    const done = this.reloadDone;
    this.reloadDone = undefined;
    done?.();
  }

  private enterStopByNotify(): void {
    if (this.state === 'deactivating') return;
    this.clearStartTimer();
    this.stopWatchdog();
    this.setState('deactivating', 'stop-sigterm');
    this.armStopTimer();
  }

  private extendTimeout(usec: number): void {
    const until = Date.now() + usecToMs(usec);
    if ((this.state === 'activating' || this.state === 'reloading') && this.startTimer && until > this.startDeadline) {
      this.clearStartTimer();
      this.startDeadline = until;
      this.startTimer = timer(usec, () => this.onStartTimeout());
    } else if (this.state === 'deactivating' && this.stopTimer) {
      clearTimeout(this.stopTimer);
      this.stopTimer = timer(usec, () => this.onStopTimeout());
    }
  }

  /** MAINPID=: the main process is another process (not our child: its exit is polled). */
  private setMainPid(pid: number): void {
    if (pid === process.pid) return;
    if (!existsSync(`/proc/${pid}`)) {
      this.log.warn(`New main PID ${pid} does not exist or is a zombie.`, { unit: this.name });
      return;
    }
    this.log.debug(`Main PID is now ${pid}.`, { unit: this.name });
    this.pid = pid;
    if (this.child?.pid !== pid) this.watchAlien(pid);
  }

  /**
   * A main process that is not our child (forking, MAINPID=): we cannot wait for it, so its
   * /proc entry is checked every 250 ms (systemd watches the cgroup; we have none).
   */
  private watchAlien(pid: number): void {
    if (this.alienPoll) clearInterval(this.alienPoll);
    this.alienPoll = setInterval(() => {
      if (this.pid !== pid) {
        if (this.alienPoll) clearInterval(this.alienPoll);
        this.alienPoll = undefined;
        return;
      }
      if (processAlive(pid)) return;
      if (this.alienPoll) clearInterval(this.alienPoll);
      this.alienPoll = undefined;
      // The exit status of a process that is not our child is unknown: systemd reports success.
      if (this.child === undefined || this.child.pid !== pid) void this.onMainExit(pid, { code: 0, signal: null });
    }, 250);
    this.alienPoll.unref();
  }

  // ---- forking -----------------------------------------------------------------------------------

  private async onForkingStarterExit(status: ExitStatus): Promise<void> {
    this.forkingStarter = undefined;
    this.controlPid = undefined;
    if (this.stopping && this.pid === undefined) {
      await this.finishDead(status, this.controlPid ?? 0);
      return;
    }
    if (!succeeded(status)) {
      this.log.warn(`Control process exited, ${describeExit(status)}`, { unit: this.name });
      this.setResult(status.signal !== null ? 'signal' : 'exit-code');
      await this.finishDead(status, 0);
      return;
    }
    const main = this.forkingMainPid();
    if (main === undefined) {
      this.log.warn(
        this.unit.pidFile
          ? `Can't open PID file ${this.unit.pidFile} (yet?) after start: No such file or directory`
          : 'Could not determine the main PID (GuessMainPID=).',
        { unit: this.name },
      );
      this.setResult('protocol');
      await this.finishDead(status, 0);
      return;
    }
    this.pid = main;
    this.watchAlien(main);
    this.exited = new Promise<void>((resolve) => this.once('exit', () => resolve()));
    await this.enterRunning();
  }

  /** PIDFile=, else (GuessMainPID=yes) the one process left in the service's session. */
  private forkingMainPid(): number | undefined {
    if (this.unit.pidFile) {
      try {
        const pid = parsePid(readFileSync(this.unit.pidFile, 'utf8').trim());
        if (pid !== undefined && processAlive(pid)) return pid;
      } catch {
        return undefined;
      }
      return undefined;
    }
    if (this.unit.guessMainPID === false) return undefined;
    const members = this.sessionMembers();
    return members.length === 1 ? members[0] : undefined;
  }

  /** The PIDs in this service's session (setsid at start; a forking daemon that setsid()s again leaves it). */
  sessionMembers(): number[] {
    const sid = this.session;
    if (sid === undefined) return [];
    const out: number[] = [];
    let entries: string[];
    try {
      entries = readdirSync('/proc');
    } catch {
      return [];
    }
    for (const e of entries) {
      if (!/^\d+$/.test(e)) continue;
      const pid = Number(e);
      if (sessionOfPid(pid) === sid) out.push(pid);
    }
    return out;
  }

  // ---- exit --------------------------------------------------------------------------------------

  private async onMainExit(pid: number, status: ExitStatus): Promise<void> {
    if (this.alienPoll) clearInterval(this.alienPoll);
    this.alienPoll = undefined;
    // MAINPID= moved the main process elsewhere: the original child's exit is not the service's.
    if (this.pid !== undefined && this.pid !== pid && this.child?.pid === pid) {
      this.child = undefined;
      return;
    }
    const oneshot = this.unit.type === 'oneshot';
    const exitResult = resultOfExit(status.code, status.signal, oneshot);
    this.lastExit = { code: status.code, signal: status.signal };
    const notifyType = this.unit.type === 'notify' || this.unit.type === 'notify-reload';
    if (exitResult !== 'success') this.setResult(exitResult);
    else if (notifyType && !this.readyReceived && this.state === 'activating' && !this.stopping)
      this.setResult('protocol');
    const log = this.log;
    if (exitResult === 'success') log.debug(`Main process exited, ${describeExit(status)}`, { unit: this.name });
    else log.warn(`Main process exited, ${describeExit(status)}`, { unit: this.name });
    if (this.result === 'protocol' && exitResult === 'success')
      log.warn('Main process exited before READY=1 (Type=notify): protocol error.', { unit: this.name });
    if (oneshot && this.result === 'success' && !this.stopping) {
      this.child = undefined;
      this.pid = undefined;
      if (this.unit.remainAfterExit) {
        this.clearStartTimer();
        this.lastResult = 'success';
        this.setState('active', 'exited');
        this.emit('exit', {
          unit: this.name,
          pid,
          code: status.code,
          signal: status.signal,
          result: 'success',
          restart: false,
          stopped: false,
        });
        return;
      }
    }
    await this.finishDead(status, pid);
  }

  /** The main process is gone: ExecStopPost=, then dead/failed/auto-restart and the `exit` event. */
  private async finishDead(status: ExitStatus, pid: number): Promise<void> {
    this.clearStartTimer();
    this.stopWatchdog();
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = undefined;
    const result = this.result;
    const restart = !this.stopping && shallRestart(this.unit.restart, result);
    this.child = undefined;
    this.pid = undefined;
    this.lastResult = result;
    this.setState('deactivating', 'stop-post');
    await this.runStopPost(result, status);
    this.options.notify?.unregister(this);
    if (result !== 'success') this.log.warn(`Failed with result '${result}'.`, { unit: this.name });
    this.setState(
      restart ? 'auto-restart' : result === 'success' ? 'inactive' : 'failed',
      restart ? 'auto-restart' : result === 'success' ? 'dead' : 'failed',
    );
    this.releaseFdStoreIfDone(restart);
    const done = this.reloadDone;
    this.reloadDone = undefined;
    done?.();
    this.emit('exit', {
      unit: this.name,
      pid,
      code: status.code,
      signal: status.signal,
      result,
      restart,
      stopped: this.stopping,
    });
  }

  /** FileDescriptorStorePreserve=: `no` drops the store on every stop, `restart` unless restarting, `yes` never. */
  private releaseFdStoreIfDone(restarting: boolean): void {
    const mode = this.unit.fileDescriptorStorePreserve ?? 'restart';
    if (mode === 'yes') return;
    if (mode === 'restart' && restarting) return;
    if (this.fdStore.size > 0)
      this.log.debug(`Releasing ${this.fdStore.size} fd(s) from the fd store.`, { unit: this.name });
    this.fdStore.release();
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
          ...buildServiceEnvironment({
            service: this.unit,
            ...(creds.user ? { user: creds.user } : {}),
            ...(this.options.daemonEnv ? { daemonEnv: this.options.daemonEnv } : {}),
          }),
          SERVICE_RESULT: result,
          EXIT_CODE: exitCode,
          EXIT_STATUS: exitStatus,
        };
        const s = await waitExit(this.spawn(cmd, env, this.workingDirectory(creds.user), creds, {}));
        if (!succeeded(s) && !cmd.ignoreFailure)
          this.log.warn(`Control process exited, ${describeExit(s)} (ExecStopPost=${cmd.raw})`, { unit: this.name });
      } catch (err) {
        this.log.warn(`ExecStopPost=${cmd.raw} failed: ${messageOf(err)}`, { unit: this.name });
      }
    }
  }

  /** Marks a scheduled restart as done or cancelled (the engine calls start() again itself). */
  clearAutoRestart(): void {
    if (this.state === 'auto-restart') this.setState('inactive', 'dead');
  }

  // ---- stop / reload -----------------------------------------------------------------------------

  private spawn(
    cmd: ExecCommand,
    env: Record<string, string>,
    cwd: string,
    creds: Credentials,
    ctx: StartContext,
  ): ServiceChild {
    const switchUser = !cmd.noUserSwitch && !cmd.fullPrivileges;
    // Lines are attributed to the process that writes them: this command's PID.
    let started: ServiceChild | undefined;
    // inetd mode with stdout on the connection (StandardOutput=socket/inherit): StandardError=inherit
    // (the default) duplicates stdout as systemd's setup_output() does; nothing is left to capture.
    const stdoutSocket = this.unit.standardOutput === 'socket' || this.unit.standardOutput === 'inherit';
    const socketStderr =
      ctx.socketStdio !== undefined &&
      (this.unit.standardError === 'socket' || (this.unit.standardError === 'inherit' && stdoutSocket));
    const captured = this.options.output === 'log' && this.unit.standardOutput !== 'null' && !socketStderr;
    const capture = captured ? this.options.capture?.open(this.name, () => started?.pid) : undefined;
    const child = execCommand({
      command: cmd,
      env,
      ...(ctx.fds ? { fds: ctx.fds } : {}),
      ...(ctx.socketStdio !== undefined ? { socketStdio: ctx.socketStdio, socketStderr } : {}),
      output:
        this.unit.standardOutput === 'null'
          ? 'ignore'
          : capture
            ? 'inherit'
            : this.options.output === 'log'
              ? 'ignore'
              : this.options.output,
      ...(capture ? { outputFd: capture.fd } : {}),
      cwd,
      ...(switchUser && creds.uid !== undefined ? { uid: creds.uid } : {}),
      ...(switchUser && creds.gid !== undefined ? { gid: creds.gid } : {}),
      ...(this.options.spawn ? { native: this.options.spawn } : {}),
    });
    started = child;
    // The child has its copy; ours goes once the launcher has run.
    if (capture) void child.spawned.then(() => capture.release());
    return child;
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
    throw new ActivationError(
      'WORKING_DIRECTORY',
      `Changing to the requested working directory failed: ${path}: No such file or directory`,
      { unit: this.name },
    );
  }

  /** Sends `signal` to the service (KillMode=), SIGKILL after TimeoutStopSec= (stop-sigterm → stop-sigkill). */
  private async terminate(signal: string, sub: ServiceSubState = 'stop-sigterm'): Promise<void> {
    this.clearStartTimer();
    this.stopWatchdog();
    this.setState('deactivating', sub);
    this.signalMain(signal);
    this.armStopTimer();
  }

  private armStopTimer(): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = timer(this.unit.timeoutStopUsec, () => this.onStopTimeout());
  }

  private onStopTimeout(): void {
    this.stopTimer = undefined;
    if (this.pid === undefined && this.forkingStarter === undefined) return;
    this.log.warn(`State '${this.subState}' timed out. Killing.`, { unit: this.name });
    if (this.result === 'success') this.setResult('timeout');
    this.subState = 'stop-sigkill';
    if (this.unit.sendSIGKILL)
      this.signalMain(
        this.unit.finalKillSignal || 'SIGKILL',
        this.unit.killMode === 'process' ? 'process' : 'control-group',
      );
  }

  /**
   * KillMode=control-group → the session's process group (our stand-in for the cgroup: services
   * lead their own); process/mixed → the main process only (through its pidfd when it is our child).
   * A main process outside that group (forking daemon, MAINPID=) is signalled by PID too.
   */
  private signalMain(signal: string, mode: string = this.unit.killMode): void {
    if (mode === 'none') return;
    const child = this.child ?? this.forkingStarter;
    const sig = signal as NodeJS.Signals;
    if (mode === 'control-group' && this.session !== undefined) {
      try {
        process.kill(-this.session, sig);
        if (sig !== 'SIGCONT' && sig !== 'SIGKILL') process.kill(-this.session, 'SIGCONT');
      } catch {
        // The group is gone; the main process below, if any.
      }
    }
    if (child && child.pid !== undefined && (this.pid === undefined || child.pid === this.pid)) {
      child.kill(sig);
    } else if (this.pid !== undefined) {
      try {
        process.kill(this.pid, sig);
      } catch {
        // Gone.
      }
    }
  }

  /**
   * ExecStop= (if any), then KillSignal= to the process group, SIGKILL after TimeoutStopSec=.
   * Resolves when the main process is gone.
   */
  async stop(): Promise<void> {
    const main = this.pid;
    if (main === undefined && this.forkingStarter === undefined) {
      this.clearAutoRestart();
      if (this.state === 'active' && this.subState === 'exited') {
        // RemainAfterExit=yes: nothing runs; ExecStop= would run here.
        this.setState('inactive', 'dead');
        this.options.notify?.unregister(this);
        this.releaseFdStoreIfDone(false);
        return;
      }
      if (this.state === 'activating') {
        // ExecStartPre= is running: start() sees the flag and gives up; end the control process.
        this.stopping = true;
        const control = this.control;
        if (control?.pid !== undefined) signalGroup(control, 'SIGKILL', 'control-group');
      }
      return;
    }
    this.stopping = true;
    this.clearStartTimer();
    this.stopWatchdog();
    this.setState('deactivating', 'stop');
    const exited = this.exited ?? Promise.resolve();
    const unit = this.unit;
    for (const cmd of unit.execStop) {
      try {
        const creds = this.credentials();
        const env = this.environment(creds, cmd, false, {});
        await Promise.race([waitExit(this.spawn(cmd, env, this.workingDirectory(creds.user), creds, {})), exited]);
      } catch (err) {
        this.log.warn(`ExecStop=${cmd.raw} failed: ${messageOf(err)}`, { unit: this.name });
      }
    }
    if (this.pid !== undefined || this.forkingStarter !== undefined) {
      this.subState = 'stop-sigterm';
      this.signalMain(unit.killSignal);
      this.armStopTimer();
    }
    await exited;
  }

  /**
   * `reload`: ExecReload= (with $MAINPID), or for Type=notify-reload ReloadSignal= to the main
   * process and wait for RELOADING=1 … READY=1. Resolves when done.
   */
  async reload(): Promise<void> {
    if (this.state !== 'active')
      throw new ActivationError('ENGINE_STATE', `${this.name} is not active, cannot reload.`, { unit: this.name });
    if (this.unit.type === 'notify-reload') {
      const done = new Promise<void>((resolve) => (this.reloadDone = resolve));
      this.setState('reloading', 'reload-signal');
      this.armStartTimer(this.unit.timeoutStartUsec);
      if (this.pid !== undefined) {
        try {
          process.kill(this.pid, (this.unit.reloadSignal ?? 'SIGHUP') as NodeJS.Signals);
        } catch (err) {
          this.finishReload();
          throw new ActivationError('EXEC_FAILED', `Failed to send reload signal: ${messageOf(err)}`, {
            unit: this.name,
          });
        }
      }
      await done;
      return;
    }
    if (this.unit.execReload.length === 0)
      throw new ActivationError('NOT_RELOADABLE', `${this.name} has no ExecReload=, cannot reload.`, {
        unit: this.name,
      });
    this.setState('reloading', 'reload');
    try {
      for (const cmd of this.unit.execReload) {
        const status = await this.runControl(cmd, 'ExecReload');
        if (!succeeded(status) && !cmd.ignoreFailure) {
          this.log.warn(`Control process exited, ${describeExit(status)} (ExecReload=${cmd.raw})`, { unit: this.name });
          throw new ActivationError('EXEC_FAILED', `ExecReload=${cmd.raw} failed: ${describeExit(status)}`, {
            unit: this.name,
          });
        }
      }
    } finally {
      if ((this.state as ServiceState) === 'reloading') this.setState('active', 'running');
    }
  }

  /** Processes of this service now (its session), like systemd's Tasks: count. */
  tasks(): number {
    return this.running ? this.sessionMembers().length : 0;
  }

  /** The status snapshot; `withTasks` scans /proc for the Tasks: count (one unit's `status`, not every status poll). */
  snapshot(withTasks = false): ServiceSnapshot {
    return {
      name: this.name,
      state: this.state,
      subState: this.subState,
      type: this.unit.type,
      ...(this.pid !== undefined ? { pid: this.pid } : {}),
      ...(this.controlPid !== undefined ? { controlPid: this.controlPid } : {}),
      starts: this.starts,
      restarts: this.restarts,
      ...(this.lastResult !== undefined ? { result: this.lastResult } : {}),
      ...(this.lastInvocationId !== undefined ? { invocationId: this.lastInvocationId } : {}),
      ...(this.statusText !== undefined ? { statusText: this.statusText } : {}),
      ...(this.statusErrno !== undefined ? { statusErrno: this.statusErrno } : {}),
      ...(this.lastExit !== undefined ? { lastExit: this.lastExit } : {}),
      fdStore: this.fdStore.list().map((e) => e.name),
      since: new Date(this.stateSince).toISOString(),
      ...(withTasks ? { tasks: this.tasks() } : {}),
    };
  }
}

export interface ServiceSnapshot {
  name: string;
  state: ServiceState;
  subState?: ServiceSubState;
  type?: string;
  pid?: number;
  controlPid?: number;
  starts: number;
  restarts: number;
  result?: ServiceResult;
  invocationId?: string;
  statusText?: string;
  statusErrno?: number;
  lastExit?: { code: number | null; signal: string | null };
  /** FDNAME of each stored fd. */
  fdStore?: string[];
  /** When the current state was entered (ISO 8601). */
  since?: string;
  tasks?: number;
}

interface Credentials {
  user?: ResolvedUser;
  uid?: number;
  gid?: number;
}

function succeeded(s: ExitStatus): boolean {
  return s.code === 0 && s.signal === null && s.error === undefined;
}

function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie (state Z) is gone for our purposes.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function sessionOfPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') return undefined;
    return Number(rest[3]);
  } catch {
    return undefined;
  }
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
  p.subState = 'failed';
  p.emit('state', 'failed');
}
