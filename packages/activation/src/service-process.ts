/**
 * One service unit (or one Accept=yes instance) and its processes — systemd's service.c state
 * machine for what mptcpd-lite runs:
 *
 * - Type=simple/exec/idle: active once the main process runs; notify/notify-reload: activating
 *   until READY=1; forking: until the started process exits 0, then the PIDFile=/guessed daemon
 *   is the main process; oneshot: until the process exits (RemainAfterExit= keeps it active).
 * - stop: ExecStop=, KillSignal= to the process group, SIGKILL after TimeoutStopSec=.
 *
 * The parts: service-exec.ts runs commands (credentials, environment, output: service-output.ts),
 * process-group.ts finds and signals processes, service-timers.ts keeps TimeoutStartSec=/
 * TimeoutStopSec=/WatchdogSec=, service-notify.ts reads sd_notify messages, restart-policy.ts
 * says what an exit means. Restart timing and start limits are the engine's business (it owns the
 * sockets the restart needs): `exit` says whether Restart= asks for one.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import type { ExecCommand, ServiceUnit } from '@mptcp/unit';
import { invocationId } from './environment.js';
import { ActivationError, messageOf } from './errors.js';
import { type ExitStatus, type ServiceChild, planExec, waitExit } from './exec.js';
import { FdStore } from './fd-store.js';
import type { Logger } from './logger.js';
import type { NotifyMessage } from './notify-message.js';
import type { NotifySender, NotifyTarget } from './notify-socket.js';
import { forkingMainPid, sessionMembers, signalGroup, signalService, watchForeignExit } from './process-group.js';
import { type ServiceResult, resultOfExit, shallRestart } from './restart-policy.js';
import { type RunIds, ServiceExec, describeExit, succeeded, withStoredFds } from './service-exec.js';
import { type NotifyActions, applyNotification } from './service-notify.js';
import { ServiceTimers, fmtSec } from './service-timers.js';
import {
  type NotifyAccess,
  type ServiceEvents,
  type ServiceProcessOptions,
  type ServiceSnapshot,
  type ServiceState,
  type ServiceSubState,
  type StartContext,
  effectiveNotifyAccess,
} from './service-types.js';

export type * from './service-types.js';
export { effectiveNotifyAccess } from './service-types.js';
export { describeExit } from './service-exec.js';

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
  /** Resolves the pending ExecReload=/notify-reload. */
  private reloadDone: (() => void) | undefined;
  /** Alien main process (forking/MAINPID=): polled for its exit. */
  private alienPoll: NodeJS.Timeout | undefined;
  private forkingStarter: ServiceChild | undefined;
  /** The main execve failed for a Type=simple service: reported as an exit, not a failed start. */
  private execFailedAfterStart = false;
  private readonly timers: ServiceTimers;
  private readonly exec: ServiceExec;
  private readonly notifyActions: NotifyActions;

  constructor(
    public unit: ServiceUnit,
    private readonly options: ServiceProcessOptions,
  ) {
    super();
    const close = options.closeFd ?? (() => undefined);
    this.fdStore = new FdStore(unit.name, close, options.logger);
    this.timers = new ServiceTimers(() => this.unit, {
      onStartTimeout: () => this.onStartTimeout(),
      onStopTimeout: () => this.onStopTimeout(),
      onWatchdogTimeout: () => {
        if (!this.running || this.stopping) return;
        this.log.error(`Watchdog timeout (limit ${fmtSec(this.timers.watchdogUsec())})!`, { unit: this.name });
        this.kill('watchdog');
      },
    });
    this.exec = new ServiceExec(() => this.unit, options);
    this.notifyActions = {
      log: options.logger,
      setMainPid: (pid) => this.setMainPid(pid),
      overrideWatchdog: (usec) => this.timers.overrideWatchdog(usec, this.state === 'active'),
      pingWatchdog: () => {
        if (this.timers.watchdogArmed) this.timers.startWatchdog();
      },
      triggerWatchdog: () => {
        this.log.error('Watchdog request (last status: ' + (this.statusText ?? 'n/a') + ')!', { unit: this.name });
        this.kill('watchdog');
      },
      stopping: () => this.enterStopByNotify(),
      reloading: () => this.enterReloadByNotify(),
      ready: () => this.onReady(),
      extendTimeout: (usec) =>
        this.timers.extend(
          usec,
          this.state === 'activating' || this.state === 'reloading'
            ? 'starting'
            : this.state === 'deactivating'
              ? 'stopping'
              : 'other',
        ),
      closeFds: (fds) => {
        for (const fd of fds) {
          try {
            options.closeFd?.(fd);
          } catch {
            // Already closed.
          }
        }
      },
    };
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

  private ids(): RunIds {
    return { mainPid: this.pid, invocationId: this.lastInvocationId };
  }

  private setState(state: ServiceState, sub?: ServiceSubState): void {
    if (sub !== undefined) this.subState = sub;
    if (this.state === state) return;
    this.state = state;
    this.stateSince = Date.now();
    this.emit('state', state);
  }

  private setResult(r: ServiceResult): void {
    if (this.result === 'success') this.result = r;
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
    this.timers.reset();
    this.statusText = undefined;
    this.statusErrno = undefined;
    this.setState('activating', 'start-pre');
    this.lastInvocationId = invocationId();
    this.options.notify?.register(this);
    this.timers.armStart(unit.timeoutStartUsec);
    let execFailed = false;
    try {
      const main = unit.execStart[0];
      if (!main)
        throw new ActivationError(
          'NO_EXEC_START',
          'Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing.',
          { unit: this.name },
        );
      const creds = this.exec.credentials();
      const cwd = this.exec.workingDirectory(creds.user);
      const mainCtx = withStoredFds(ctx, this.fdStore.list());
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
      const mainEnv = this.exec.environment(creds, main, true, mainCtx, this.ids());
      if (main.argv0Override && !this.options.spawn && !planExec(main, mainEnv).argv0Honoured) {
        this.log.warn(`No bash to set argv[0] for ${main.path}: starting it with its path as argv[0].`, {
          unit: this.name,
        });
      }
      this.subState = 'start';
      const child = this.exec.spawn(main, mainEnv, cwd, creds, mainCtx);
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
      this.startFailed(execFailed);
      throw err;
    }
  }

  /** start() gave up: `failed` (or `inactive` when stopped meanwhile), or a Type=simple exec failure as an exit. */
  private startFailed(execFailed: boolean): void {
    this.control = undefined;
    this.controlPid = undefined;
    this.timers.clearStart();
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
      this.fdStore.releaseUnlessPreserved(this.unit.fileDescriptorStorePreserve, restart);
      const exit = { unit: this.name, pid: 0, code: 203, signal: null, result: 'exit-code' as const, restart };
      this.emit('exit', { ...exit, stopped: false });
      return;
    }
    if (this.stopping) {
      this.setState('inactive', 'dead');
    } else {
      // execve failed: systemd's status=203/EXEC, result exit-code; anything else before it: resources.
      this.lastResult = execFailed ? 'exit-code' : 'resources';
      this.setState('failed', 'failed');
    }
    this.fdStore.releaseUnlessPreserved(this.unit.fileDescriptorStorePreserve, false);
  }

  /** stop() during ExecStartPre= must not be followed by a main process nobody will stop. */
  private checkNotStopped(): void {
    if (this.stopping) throw new ActivationError('ENGINE_STATE', 'Stopped while starting.', { unit: this.name });
  }

  /** Runs one control command (ExecStartPre=, ExecStartPost=, ExecReload=…) to its end. */
  private async runControl(cmd: ExecCommand, what: string): Promise<ExitStatus> {
    this.control = this.exec.control(cmd, this.ids());
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
    this.timers.startWatchdog();
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
    this.timers.clearStart();
    this.setState('active', 'running');
  }

  private onStartTimeout(): void {
    if (this.state !== 'activating' || this.stopping) return;
    const phase = this.subState === 'start-post' ? 'Start-post' : this.subState === 'start-pre' ? 'Start-pre' : 'Start';
    this.log.warn(`${phase} operation timed out. Terminating.`, { unit: this.name });
    this.setResult('timeout');
    void this.terminate(this.unit.killSignal);
  }

  /** The watchdog expired or WATCHDOG=trigger: result `watchdog`, WatchdogSignal= (SIGABRT). */
  private kill(result: 'watchdog'): void {
    this.setResult(result);
    void this.terminate(this.unit.watchdogSignal ?? 'SIGABRT', 'stop-watchdog');
  }

  // ---- notifications (service-notify.ts) ---------------------------------------------------------

  /** How a PID belongs to this service (for the notify socket). */
  relation(pid: number, session: number | undefined): 'main' | 'control' | 'member' | undefined {
    if (!this.running) return undefined;
    if (pid === this.pid) return 'main';
    if (pid === this.controlPid) return 'control';
    if (this.session !== undefined && session === this.session) return 'member';
    return undefined;
  }

  onNotify(msg: NotifyMessage, sender: NotifySender, relation: 'main' | 'control' | 'member', fds: number[]): void {
    applyNotification(this, this.notifyActions, msg, sender, relation, fds);
  }

  private onReady(): void {
    this.readyReceived = true;
    const notifyType = this.unit.type === 'notify' || this.unit.type === 'notify-reload';
    if (this.state === 'activating' && notifyType && this.subState === 'start') void this.enterRunning();
    else if (this.state === 'reloading') this.finishReload();
  }

  private enterReloadByNotify(): void {
    if (this.state !== 'active') return;
    this.setState('reloading', 'reload-notify');
    this.timers.armStart(this.unit.timeoutStartUsec);
  }

  private finishReload(): void {
    this.timers.clearStart();
    this.setState('active', 'running');
    const done = this.reloadDone;
    this.reloadDone = undefined;
    done?.();
  }

  private enterStopByNotify(): void {
    if (this.state === 'deactivating') return;
    this.timers.clearStart();
    this.timers.stopWatchdog();
    this.setState('deactivating', 'stop-sigterm');
    this.timers.armStop();
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

  /** A main process that is not our child (forking, MAINPID=): its exit is polled (process-group.ts). */
  private watchAlien(pid: number): void {
    if (this.alienPoll) clearInterval(this.alienPoll);
    const stillMain = (): boolean => {
      if (this.pid === pid) return true;
      this.alienPoll = undefined;
      return false;
    };
    this.alienPoll = watchForeignExit(pid, stillMain, () => {
      this.alienPoll = undefined;
      // The exit status of a process that is not our child is unknown: systemd reports success.
      if (this.child === undefined || this.child.pid !== pid) void this.onMainExit(pid, { code: 0, signal: null });
    });
  }

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
    const main = forkingMainPid(this.unit, this.session);
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

  /** The PIDs in this service's session (setsid at start; a forking daemon that setsid()s again leaves it). */
  sessionMembers(): number[] {
    return sessionMembers(this.session);
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
        this.timers.clearStart();
        this.lastResult = 'success';
        this.setState('active', 'exited');
        const { code, signal } = status;
        this.emit('exit', { unit: this.name, pid, code, signal, result: 'success', restart: false, stopped: false });
        return;
      }
    }
    await this.finishDead(status, pid);
  }

  /** The main process is gone: ExecStopPost=, then dead/failed/auto-restart and the `exit` event. */
  private async finishDead(status: ExitStatus, pid: number): Promise<void> {
    this.timers.clearStart();
    this.timers.stopWatchdog();
    this.timers.clearStop();
    const result = this.result;
    const restart = !this.stopping && shallRestart(this.unit.restart, result);
    this.child = undefined;
    this.pid = undefined;
    this.lastResult = result;
    this.setState('deactivating', 'stop-post');
    await this.exec.runStopPost(result, status);
    this.options.notify?.unregister(this);
    if (result !== 'success') this.log.warn(`Failed with result '${result}'.`, { unit: this.name });
    this.setState(
      restart ? 'auto-restart' : result === 'success' ? 'inactive' : 'failed',
      restart ? 'auto-restart' : result === 'success' ? 'dead' : 'failed',
    );
    this.fdStore.releaseUnlessPreserved(this.unit.fileDescriptorStorePreserve, restart);
    const done = this.reloadDone;
    this.reloadDone = undefined;
    done?.();
    const { code, signal } = status;
    this.emit('exit', { unit: this.name, pid, code, signal, result, restart, stopped: this.stopping });
  }

  /** Marks a scheduled restart as done or cancelled (the engine calls start() again itself). */
  clearAutoRestart(): void {
    if (this.state === 'auto-restart') this.setState('inactive', 'dead');
  }

  // ---- stop / reload -----------------------------------------------------------------------------

  /** Sends `signal` to the service (KillMode=), SIGKILL after TimeoutStopSec= (stop-sigterm → stop-sigkill). */
  private async terminate(signal: string, sub: ServiceSubState = 'stop-sigterm'): Promise<void> {
    this.timers.clearStart();
    this.timers.stopWatchdog();
    this.setState('deactivating', sub);
    this.signalMain(signal);
    this.timers.armStop();
  }

  private onStopTimeout(): void {
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

  private signalMain(signal: string, mode: string = this.unit.killMode): void {
    signalService({ session: this.session, child: this.child ?? this.forkingStarter, pid: this.pid }, signal, mode);
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
        this.fdStore.releaseUnlessPreserved(this.unit.fileDescriptorStorePreserve, false);
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
    this.timers.clearStart();
    this.timers.stopWatchdog();
    this.setState('deactivating', 'stop');
    const exited = this.exited ?? Promise.resolve();
    const unit = this.unit;
    for (const cmd of unit.execStop) {
      try {
        await Promise.race([waitExit(this.exec.control(cmd, this.ids())), exited]);
      } catch (err) {
        this.log.warn(`ExecStop=${cmd.raw} failed: ${messageOf(err)}`, { unit: this.name });
      }
    }
    if (this.pid !== undefined || this.forkingStarter !== undefined) {
      this.subState = 'stop-sigterm';
      this.signalMain(unit.killSignal);
      this.timers.armStop();
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
      this.timers.armStart(this.unit.timeoutStartUsec);
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

/** Puts a service that was refused by its start limit into `failed` (start-limit-hit) without running it. */
export function markStartLimitHit(p: ServiceProcess): void {
  p.lastResult = 'start-limit-hit';
  p.state = 'failed';
  p.subState = 'failed';
  p.emit('state', 'failed');
}
