/**
 * One service unit (or one Accept=yes instance) and its processes — systemd's service.c state
 * machine for what mptcpd-lite runs:
 *
 * - Type=simple/exec/idle: active once the main process runs; notify/notify-reload: activating
 *   until READY=1; forking: until the started process exits 0, then the PIDFile=/guessed daemon
 *   is the main process; oneshot: until the process exits (RemainAfterExit= keeps it active).
 * - stop: ExecStop=, KillSignal= to the process group, SIGKILL after TimeoutStopSec=.
 *
 * This class holds what the outside sees (state, PIDs, results, the fd store) and the events; the
 * work is done by its parts: service-start.ts (start, Type= readiness, reload), service-stop.ts
 * (exit, stop, kill), service-exec.ts (credentials, environment, spawn; output: service-output.ts),
 * process-group.ts (session, signals), service-timers.ts (TimeoutStartSec=/TimeoutStopSec=/
 * WatchdogSec=), service-notify.ts (sd_notify fields), restart-policy.ts (what an exit means).
 * Restart timing and start limits are the engine's business (it owns the sockets the restart
 * needs): `exit` says whether Restart= asks for one.
 */
import { withImpliedSandbox } from './dynamic-user.js';
import { EventEmitter } from 'node:events';
import type { ServiceUnit } from '@mptcp/unit';
import { FdStore } from './fd-store.js';
import type { NotifyMessage } from './notify-message.js';
import type { NotifySender, NotifyTarget } from './notify-socket.js';
import { formatTimespan } from './format-timespan.js';
import type { Logger } from './logger.js';
import { commOf, sessionMembers } from './process-group.js';
import type { ServiceResult } from './restart-policy.js';
import { ServiceExec } from './service-exec.js';
import { type NotifyActions, applyNotification } from './service-notify.js';
import { type ServiceParts, ServiceRun } from './service-run.js';
import { ServiceStarter } from './service-start.js';
import { ServiceStopper } from './service-stop.js';
import { ServiceTimers } from './service-timers.js';
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
  get pid(): number | undefined {
    return this.mainPid;
  }
  set pid(pid: number | undefined) {
    this.mainPid = pid;
    if (pid !== undefined) this.execMainPid = pid;
  }
  private mainPid: number | undefined;
  /** systemd's ExecMainPID: the last main process, kept after it exited (status shows its exit). */
  execMainPid: number | undefined;
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
  /** When it last became active, and last stopped being active (ms since the epoch): status's Duration:. */
  activeEnter: number | undefined;
  activeExit: number | undefined;
  readonly fdStore: FdStore;
  private readonly run = new ServiceRun();
  private readonly starter: ServiceStarter;
  private readonly stopper: ServiceStopper;
  private readonly notifyActions: NotifyActions;
  private readonly exec: ServiceExec;
  private readonly timers: ServiceTimers;
  private readonly log: Logger;

  constructor(
    public unit: ServiceUnit,
    options: ServiceProcessOptions,
  ) {
    super();
    const log = options.logger;
    this.log = log;
    const close = options.closeFd ?? (() => undefined);
    this.fdStore = new FdStore(unit.name, close, log, options.fdStore);
    const timers = new ServiceTimers(() => this.unit, {
      onStartTimeout: () => this.starter.onStartTimeout(),
      onStopTimeout: () => this.stopper.onStopTimeout(),
      onWatchdogTimeout: () => {
        if (!this.running || this.run.stopping) return;
        log.error(`Watchdog timeout (limit ${formatTimespan(timers.watchdogUsec(), 1)})!`, { unit: this.name });
        this.watchdogKill();
      },
      flushNotifications: () => options.notify?.flush(),
      onRuntimeTimeout: () => {
        if (this.state !== 'active' || this.subState !== 'running' || this.run.stopping) return;
        log.warn('Service reached runtime time limit. Stopping.', { unit: this.name });
        this.run.setResult('timeout');
        void this.stopper.stop(true);
      },
    });
    this.timers = timers;
    const exec = new ServiceExec(() => withImpliedSandbox(this.unit), options);
    this.exec = exec;
    const parts: ServiceParts = {
      p: this,
      run: this.run,
      timers,
      // DynamicUser=yes: the sandbox it implies is part of the unit the commands run with.
      exec,
      options,
      log,
      setState: (state, sub) => this.setState(state, sub),
      ids: () => ({ mainPid: this.pid, invocationId: this.lastInvocationId }),
    };
    this.stopper = new ServiceStopper(parts);
    this.starter = new ServiceStarter(parts, this.stopper);
    this.notifyActions = {
      log,
      setMainPid: (pid, senderUid) => this.stopper.setMainPid(pid, senderUid),
      overrideWatchdog: (usec) => timers.overrideWatchdog(usec, this.state === 'active'),
      pingWatchdog: () => {
        if (timers.watchdogArmed) timers.startWatchdog();
      },
      triggerWatchdog: () => {
        log.error(`Watchdog request (last status: ${this.statusText ?? '<unset>'})!`, { unit: this.name });
        this.watchdogKill();
      },
      stopping: () => this.starter.enterStopByNotify(),
      reloading: () => this.starter.enterReloadByNotify(),
      ready: () => this.starter.onReady(),
      extendTimeout: (usec) => timers.extend(usec, this.timeoutPhase()),
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

  /** The last start was ended by a stop before its main process (the start job canceled). */
  get startCanceled(): boolean {
    return this.run.startCanceled;
  }

  /** The last start's job was done at fork (Type=simple/idle) although its execve failed after. */
  get startDoneAtFork(): boolean {
    return this.run.startDoneAtFork;
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

  private setState(state: ServiceState, sub?: ServiceSubState): void {
    this.timers.onState(this.state, state, sub ?? this.subState);
    if (sub !== undefined) this.subState = sub;
    if (this.state === state) return;
    // ActiveEnterTimestamp/ActiveExitTimestamp (unit_notify()): reloading counts as active.
    const active = (s: ServiceState): boolean => s === 'active' || s === 'reloading';
    if (active(state) !== active(this.state)) this[active(state) ? 'activeEnter' : 'activeExit'] = Date.now();
    this.state = state;
    this.stateSince = Date.now();
    this.emit('state', state);
  }

  /** Which timeout EXTEND_TIMEOUT_USEC= extends now. */
  private timeoutPhase(): 'starting' | 'stopping' | 'other' {
    if (this.state === 'activating' || this.state === 'reloading') return 'starting';
    return this.state === 'deactivating' ? 'stopping' : 'other';
  }

  /**
   * The watchdog expired or WATCHDOG=trigger: result `watchdog`, WatchdogSignal= (SIGABRT). 257's
   * unit_kill_context() names each process it signals for the watchdog (log_kill()): the main one first.
   */
  private watchdogKill(): void {
    this.run.setResult('watchdog');
    const signal = this.unit.watchdogSignal ?? 'SIGABRT';
    for (const pid of this.watchdogTargets())
      this.log.warn(`Killing process ${pid} (${commOf(pid)}) with signal ${signal}.`, { unit: this.name });
    void this.stopper.terminate(signal, 'stop-watchdog');
  }

  /** Whom KillMode= sends the watchdog's signal to: the main process, then the rest of the unit's processes. */
  private watchdogTargets(): number[] {
    const mode = this.unit.killMode;
    if (mode === 'none') return [];
    const main = this.pid;
    const first = main !== undefined ? [main] : [];
    if (mode !== 'control-group') return first;
    const all = this.exec.cgroup?.pids() ?? this.sessionMembers();
    return [...first, ...all.filter((p) => p !== main)];
  }

  /**
   * Runs ExecStartPre, then spawns the main process. Resolves with its PID once spawned; the state
   * is `active` at once for simple/exec, or `activating` until READY=1 (notify), the starter's exit
   * (forking, oneshot). Rejects, leaving the state `failed`, when a non-`-` ExecStartPre fails or the
   * main process cannot be spawned.
   */
  start(ctx: StartContext = {}): Promise<number> {
    return this.starter.start(ctx);
  }

  /**
   * ExecStop= (if any), then KillSignal= to the process group, SIGKILL after TimeoutStopSec=.
   * Resolves when the main process is gone.
   */
  stop(): Promise<void> {
    return this.stopper.stop();
  }

  /**
   * `reload`: ExecReload= (with $MAINPID), or for Type=notify-reload ReloadSignal= to the main
   * process and wait for RELOADING=1 … READY=1. Resolves when done.
   */
  reload(): Promise<void> {
    return this.starter.reload();
  }

  /** Marks a scheduled restart as done or cancelled (the engine calls start() again itself). */
  clearAutoRestart(): void {
    if (this.state === 'auto-restart') this.setState('inactive', 'dead');
  }

  /** How a PID belongs to this service (for the notify socket). */
  relation(pid: number, session: number | undefined): 'main' | 'control' | 'member' | undefined {
    if (!this.running) return undefined;
    if (pid === this.pid) return 'main';
    if (pid === this.controlPid) return 'control';
    if (this.run.session !== undefined && session === this.run.session) return 'member';
    return undefined;
  }

  onNotify(msg: NotifyMessage, sender: NotifySender, relation: 'main' | 'control' | 'member', fds: number[]): void {
    applyNotification(this, this.notifyActions, msg, sender, relation, fds);
  }

  /** The PIDs in this service's session (setsid at start; a forking daemon that setsid()s again leaves it). */
  sessionMembers(): number[] {
    return sessionMembers(this.run.session);
  }

  /** Processes of this service now (its cgroup, else its session), like systemd's Tasks: count. */
  tasks(): number {
    if (!this.running) return 0;
    return this.exec.cgroup?.pids().length ?? this.sessionMembers().length;
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
      ...(this.execMainPid !== undefined ? { execMainPid: this.execMainPid } : {}),
      ...(this.activeEnter !== undefined && this.activeExit !== undefined && this.activeExit >= this.activeEnter
        ? { activeDurationUsec: (this.activeExit - this.activeEnter) * 1000 }
        : {}),
      fdStore: this.fdStore.list().map((e) => e.name),
      since: new Date(this.stateSince).toISOString(),
      ...(withTasks ? { tasks: this.tasks() } : {}),
    };
  }
}

/**
 * Puts a service that was refused by its start limit into `failed` without running it, and returns
 * its result. As systemd 257's service_enter_dead(SERVICE_FAILURE_START_LIMIT_HIT): the result of
 * the last run stays when it was a failure (exit-code, signal, …), start-limit-hit only replaces
 * success (fixtures/v257/start-limit: `Result=exit-code` for a service whose ExecStartPre= kept
 * failing, `start-limit-hit` for one that exited 0 and was restarted). Its sockets fail with
 * service-start-limit-hit either way.
 */
export function markStartLimitHit(p: ServiceProcess): ServiceResult {
  if (p.lastResult === undefined || p.lastResult === 'success') p.lastResult = 'start-limit-hit';
  // A last run skipped by ExecCondition=: 257 stays in its skip (dead, the job done;
  // fixtures/v257/start-limit-conditions execcond).
  const skipped = p.lastResult === 'exec-condition';
  p.state = skipped ? 'inactive' : 'failed';
  p.subState = skipped ? 'dead' : 'failed';
  p.emit('state', p.state);
  return p.lastResult;
}
