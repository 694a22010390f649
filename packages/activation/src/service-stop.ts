/**
 * How a service's run ends (service.c service_enter_stop…() and service_sigchld_event()): the main
 * process exits (or a foreign main process — MAINPID=, forking — disappears), ExecStopPost= runs,
 * the result and Restart= decide dead/failed/auto-restart; stop() runs ExecStop= and signals
 * KillSignal=, then SIGKILL after TimeoutStopSec= (KillMode= decides who gets them).
 */
import { messageOf } from './errors.js';
import { type ExitStatus, type ServiceChild, waitExit } from './exec.js';
import { watchForeignMain } from './foreign-exit.js';
import { commOf, mainPidSuitability, signalGroup, signalService } from './process-group.js';
import { cleanCommandExit, resultOfUnitExit, shallRestartUnit } from './restart-policy.js';
import { describeExit, exitEnvironment, type StopPostWatch } from './service-exec.js';
import { spawnExitStatus } from './exit-status.js';
import type { ServiceParts } from './service-run.js';
import type { ServiceSubState } from './service-types.js';
import { timer } from './service-timers.js';

/** The states in which 257 takes a MAINPID= (service_notify_message()). */
const MAINPID_STATES: ReadonlySet<ServiceSubState | undefined> = new Set<ServiceSubState | undefined>([
  'start',
  'start-post',
  'running',
  'reload',
  'reload-signal',
  'reload-notify',
  'stop',
  'stop-sigterm',
]);

export class ServiceStopper {
  /** Spawns a oneshot's next ExecStart= (ServiceStarter); an Error when it could not be spawned. */
  spawnNextMain: (() => ServiceChild | Error) | undefined;

  /** signalAll() signalled the main process during this stop's ExecStop= (a timeout's abort/kill). */
  private mainSignalled = false;

  constructor(private readonly s: ServiceParts) {}

  private get name(): string {
    return this.s.p.name;
  }

  /**
   * MAINPID= (service.c service_notify_message()): taken in start, start-post, running, reload and
   * the first stop states; refused for the daemon itself, the control process or a PID that is gone
   * (service_is_suitable_main_pid()); a process outside the service's session (our cgroup) only from
   * a root sender — an unprivileged service cannot hand the daemon an unrelated process to signal.
   */
  setMainPid(pid: number, senderUid: number): void {
    const { p, run, log } = this.s;
    if (!MAINPID_STATES.has(p.subState)) return;
    const suit = mainPidSuitability(pid, run.session, p.controlPid);
    if (suit.ok === false) {
      log.warn(suit.refuse, { unit: this.name });
      return;
    }
    if (suit.ok === 'questionable') {
      if (senderUid !== 0) {
        log.warn(`New main PID ${pid} does not belong to service, refusing.`, { unit: this.name });
        return;
      }
      log.debug(
        `New main PID ${pid} does not belong to service, but we'll accept it as the request to change it came from a privileged process.`,
        { unit: this.name },
      );
    }
    log.debug(`Main PID is now ${pid}.`, { unit: this.name });
    p.pid = pid;
    if (run.child?.pid !== pid) {
      // service_set_main_pidref(): 257's words for a main process that is not its child.
      log.warn(`Supervising process ${pid} which is not our child. We'll most likely not notice when it exits.`, {
        unit: this.name,
      });
      this.watchAlien(pid);
    }
  }

  /**
   * A main process that is not our child (forking, MAINPID=): its exit is an event on its pidfd,
   * with its exit status once it has been reaped (or /proc polled without pidfds: status unknown,
   * reported as success). One reaped by a process of the service is not noticed, as in 257.
   */
  watchAlien(pid: number): void {
    const { p, run, log } = this.s;
    run.alienWatch?.stop();
    run.alienGone = false;
    run.alienWatch = watchForeignMain(pid, {
      pidfd: this.s.options.pidfd,
      session: run.session,
      stillMain: () => p.pid === pid,
      onExit: (exit) => {
        run.alienWatch = undefined;
        if (exit.kind === 'unnoticed') {
          log.debug(`Main process ${pid} was reaped by its parent in the service; not noticed (as 257).`, {
            unit: this.name,
          });
          run.alienGone = true;
          return;
        }
        if (run.child !== undefined && run.child.pid === pid) return;
        void this.onMainExit(pid, exit.kind === 'exited' ? exit.status : { code: 0, signal: null });
      },
    });
  }

  async onMainExit(pid: number, status: ExitStatus): Promise<void> {
    const { p, run, log } = this.s;
    // What the service said before it ended comes first (257's notify event source outranks SIGCHLD):
    // a READY=1 or STOPPING=1 sent just before the exit must not be read after it.
    this.s.options.notify?.flush();
    run.alienWatch?.stop();
    run.alienWatch = undefined;
    // MAINPID= moved the main process elsewhere: the original child's exit is not the service's.
    if (p.pid !== undefined && p.pid !== pid && run.child?.pid === pid) {
      run.child = undefined;
      // Unless that main process is gone unnoticed (see watchAlien()): with the process we started
      // gone too, 257 would see the cgroup empty and stop the service (result success).
      if (!run.alienGone) return;
      run.alienGone = false;
      pid = p.pid;
      status = { code: 0, signal: null };
    }
    const unit = p.unit;
    const oneshot = unit.type === 'oneshot';
    // service_sigchld_event(): a oneshot's main command with `-` exits successfully whatever it
    // returned (fixtures/v257/oneshot-multi ign2, ignlast, ignmissing2); ExecMainStatus= keeps it.
    const ignored = oneshot && unit.execStart[run.mainCommand]?.ignoreFailure === true;
    const exitResult = ignored ? 'success' : resultOfUnitExit(unit, status.code, status.signal, oneshot);
    p.lastExit = { code: status.code, signal: status.signal };
    const notifyType = unit.type === 'notify' || unit.type === 'notify-reload';
    if (exitResult !== 'success') run.setResult(exitResult);
    else if (notifyType && !run.readyReceived && p.state === 'activating' && !run.stopping) run.setResult('protocol');
    if (exitResult === 'success') log.debug(`Main process exited, ${describeExit(status)}`, { unit: this.name });
    else log.warn(`Main process exited, ${describeExit(status)}`, { unit: this.name });
    // 257 says only `Failed with result 'protocol'.` (fixtures/v257/failed-start notifyquiet).
    if (run.result === 'protocol' && exitResult === 'success')
      log.debug('Main process exited before READY=1 (Type=notify): protocol error.', { unit: this.name });
    // service_run_next_main(): a oneshot's ExecStart= lines run one after the other, each once the
    // one before exited successfully — also when a stop came meanwhile (257 spawns it in
    // stop-sigterm and does not signal it: fixtures/v257/oneshot-multi stoptrap).
    if (oneshot && exitResult === 'success' && run.mainCommand + 1 < unit.execStart.length && this.spawnNextMain) {
      run.child = undefined;
      p.pid = undefined;
      const next = this.spawnNextMain();
      if (!(next instanceof Error)) {
        await this.followNextMain(next);
        return;
      }
      // service_run_next_main() → service_enter_stop(SERVICE_FAILURE_RESOURCES).
      log.warn(`Failed to spawn next main task: ${messageOf(next)}`, { unit: this.name });
      run.setResult('resources');
    }
    if (oneshot && run.result === 'success' && !run.stopping) {
      run.child = undefined;
      p.pid = undefined;
      // service_enter_start_post(): a oneshot's ExecStartPost= runs once its main process exited 0
      // (systemd 257: fixtures/v257/exec-stop); a failure skips ExecStop=, ExecStopPost= still runs.
      if (!(await this.runOneshotStartPost())) {
        await this.finishDead(status, pid);
        return;
      }
      if (unit.remainAfterExit) {
        this.s.timers.clearStart();
        p.lastResult = 'success';
        this.s.setState('active', 'exited');
        const { code, signal } = status;
        p.emit('exit', { unit: this.name, pid, code, signal, result: 'success', restart: false, stopped: false });
        return;
      }
    }
    // service_enter_running(): a running service whose main process exited cleanly by itself is
    // stopped the regular way, ExecStop= first (systemd 257: fixtures/v257/fd-store, ctl@.service).
    // In start-post (ExecStartPost= still running beside a main process that already ended) systemd
    // waits for that control process, then stops the same way.
    const running = p.state === 'active' && p.subState === 'running';
    const startPost = p.state === 'activating' && (p.subState === 'start-post' || oneshot);
    if (run.result === 'success' && !run.stopping && (running || startPost) && unit.execStop.length > 0) {
      // The main process is gone (systemd unsets main_pid): a stop() meanwhile finds nothing to signal,
      // as during ExecStopPost=.
      run.child = undefined;
      p.pid = undefined;
      await this.runExecStopAfterExit();
    }
    await this.finishDead(status, pid);
  }

  /**
   * The next ExecStart= of a oneshot is the main process (its PID in `status`, signalled by a stop
   * or a start timeout); resolves once its exit (and what follows) has been handled. One whose
   * program could not be executed (missing) exits as 257's executor does, 203/EXEC (or its step's).
   */
  private async followNextMain(child: ServiceChild): Promise<void> {
    const { p, run } = this.s;
    run.child = child;
    const failed = await child.spawned;
    if (failed) {
      if (run.child === child) run.child = undefined;
      await this.onMainExit(0, { code: spawnExitStatus(failed) ?? 203, signal: null });
      return;
    }
    const pid = child.pid as number;
    p.pid = pid;
    run.session = pid;
    await this.onMainExit(pid, await waitExit(child));
  }

  /** A oneshot's ExecStartPost= after its main process; false when one failed (result exit-code) or stop() came. */
  private async runOneshotStartPost(): Promise<boolean> {
    const { p, run, log } = this.s;
    if (p.unit.execStartPost.length === 0) return true;
    p.subState = 'start-post';
    for (const post of p.unit.execStartPost) {
      const control = this.s.exec.control(post, this.s.ids());
      run.control = control;
      p.controlPid = control.pid;
      const status = await waitExit(control);
      run.control = undefined;
      p.controlPid = undefined;
      if (run.stopping) return false;
      if (!cleanCommandExit(p.unit, status) && !post.ignoreFailure) {
        log.warn(`Control process exited, ${describeExit(status)} (ExecStartPost=${post.raw})`, { unit: this.name });
        run.setResult('exit-code');
        return false;
      }
    }
    return true;
  }

  /**
   * stop() of a oneshot left active (exited) by RemainAfterExit=yes: ExecStop= (with SERVICE_RESULT=
   * and the last main command's EXIT_CODE=/EXIT_STATUS=, no $MAINPID), ExecStopPost=, dead.
   */
  private async stopExited(): Promise<void> {
    const { p, run, log } = this.s;
    this.s.setState('deactivating', 'stop');
    await this.runExecStop({ SERVICE_RESULT: run.result, ...exitEnvironment(p.lastExit) });
    this.s.setState('deactivating', 'stop-post');
    run.setResult(
      await this.s.exec.runStopPost(run.result, p.lastExit ?? { code: 0, signal: null }, this.stopPostWatch),
    );
    this.s.exec.releaseControlContext();
    this.s.options.notify?.unregister(p);
    if (run.result !== 'success') {
      // A failed ExecStop=/ExecStopPost= (service_enter_dead(): unit_log_failure()).
      p.lastResult = run.result;
      log.warn(`Failed with result '${run.result}'.`, { unit: this.name });
      this.s.setState('failed', 'failed');
    } else this.s.setState('inactive', 'dead');
    p.fdStore.releaseUnlessPreserved(p.unit.fileDescriptorStorePreserve, false);
  }

  /**
   * ExecStop= (service_enter_stop()), one after the other, each waited for — also when the main
   * process exits meanwhile (257 stays in `stop` until the step is done; finishDead() waits for it
   * through run.controlExit) — and only after the one before exited cleanly or was `-`: a failure
   * ends the step, is logged as 257 does (`Control process exited, code=exited, status=3/…`) and is
   * the run's result unless it has one (service_sigchld_event(); fixtures/v257/stop-failures,
   * exit-status ctlstop0). TimeoutStopSec= applies to each (service_spawn() arms it): `Stopping timed
   * out. Terminating.`, result timeout, the command gets KillSignal=.
   */
  private async runExecStop(extra?: Record<string, string>): Promise<void> {
    const { p, run, log } = this.s;
    const unit = p.unit;
    for (const cmd of unit.execStop) {
      let control: ServiceChild;
      try {
        control = this.s.exec.control(cmd, this.s.ids(), extra);
      } catch (err) {
        // service_enter_stop(): `Failed to spawn 'stop' task: …`, result resources.
        log.warn(`ExecStop=${cmd.raw} failed: ${messageOf(err)}`, { unit: this.name });
        run.setResult('resources');
        return;
      }
      let settle!: () => void;
      run.control = control;
      run.controlExit = new Promise<void>((resolve) => (settle = resolve));
      p.controlPid = control.pid;
      let timedOut = false;
      const t = timer(unit.timeoutStopUsec, () => {
        timedOut = true;
        run.setResult('timeout');
        this.onExecStopTimeout(control);
      });
      const status = await waitExit(control);
      if (t) clearTimeout(t);
      if (run.control === control) {
        run.control = undefined;
        p.controlPid = undefined;
      }
      // Also once timed out: 257 logs the killed command (`code=killed, status=15/TERM`).
      const failed = !cleanCommandExit(unit, status) && !cmd.ignoreFailure;
      if (failed) {
        log.warn(`Control process exited, ${describeExit(status)}`, { unit: this.name });
        run.setResult(resultOfUnitExit(unit, status.code, status.signal, true));
      }
      settle();
      if (failed || timedOut) return;
    }
  }

  /**
   * ExecStop= outlived TimeoutStopSec= (service_dispatch_timer() SERVICE_STOP), as
   * TimeoutStopFailureMode= says (fixtures/v257/timeout-failure-mode): terminate — KillSignal= to
   * the command (the main process gets it after the step); abort — WatchdogSignal= (SIGABRT) to the
   * main process and the rest of the service at once, each named (stop-watchdog); kill — SIGKILL
   * to them, each named (stop-sigkill). The main process signalled here is not sent KillSignal= again.
   */
  private onExecStopTimeout(control: ServiceChild): void {
    const { p, log } = this.s;
    const unit = p.unit;
    const mode = unit.timeoutStopFailureMode ?? 'terminate';
    if (mode === 'terminate' || (mode === 'kill' && !unit.sendSIGKILL)) {
      // SendSIGKILL=no with kill: 257 says `Skipping SIGKILL.` and goes on to stop-post; here the
      // main process still gets KillSignal= after the step (not recorded).
      log.warn(`Stopping timed out. ${mode === 'kill' ? 'Skipping SIGKILL.' : 'Terminating.'}`, { unit: this.name });
      if (control.pid !== undefined) this.signalControl(control, unit.killSignal, unit.killMode);
      return;
    }
    const signal = mode === 'abort' ? (unit.watchdogSignal ?? 'SIGABRT') : unit.finalKillSignal || 'SIGKILL';
    log.warn(`Stopping timed out. ${mode === 'abort' ? 'Aborting' : 'Killing'}.`, { unit: this.name });
    this.signalAll(signal, mode === 'abort' ? 'stop-watchdog' : 'stop-sigkill');
  }

  /**
   * unit_kill_context() for the watchdog's and SIGKILL's operations: each process named (main first,
   * then the control process, then the rest of the cgroup), then signalled as KillMode= says.
   */
  private signalAll(signal: string, sub: ServiceSubState): void {
    const { p, run } = this.s;
    this.nameKilled(signal);
    p.subState = sub;
    this.mainSignalled = true;
    const kill = signal === 'SIGKILL' ? 'control-group' : p.unit.killMode;
    if (p.pid !== undefined || run.forkingStarter !== undefined || run.child !== undefined)
      this.signalMain(signal, kill);
    const control = run.control;
    if (control?.pid !== undefined && p.unit.killMode !== 'none') this.signalControl(control, signal, kill);
  }

  /** Names each process as unit_kill_context() does before it sends `signal` (log_kill()). */
  nameKilled(signal: string): void {
    for (const pid of this.killTargets())
      this.s.log.warn(`Killing process ${pid} (${commOf(pid)}) with signal ${signal}.`, { unit: this.name });
  }

  /** The processes unit_kill_context() names: the main one, the control one, the rest of the cgroup. */
  private killTargets(): number[] {
    const { p, run } = this.s;
    const mode = p.unit.killMode;
    if (mode === 'none') return [];
    const first = [p.pid, run.control?.pid].filter((x): x is number => x !== undefined);
    if (mode !== 'control-group') return first;
    const rest = this.s.exec.cgroup?.pids() ?? [];
    return [...new Set([...first, ...rest])];
  }

  /**
   * TimeoutStopSec= for each ExecStopPost= command (service_enter_stop_post() arms it; 257's
   * service_dispatch_timer() SERVICE_STOP_POST and the final-* states after it; fixtures/v257/
   * stop-post-timeout, timeout-failure-mode): TimeoutStopFailureMode=terminate — `State 'stop-post'
   * timed out. Terminating.`, KillSignal= (final-sigterm); abort — `Aborting.`, WatchdogSignal=
   * (final-watchdog); kill — `Killing.`, SIGKILL (final-sigkill). Another TimeoutStopSec= later:
   * `State 'final-sigterm' timed out. Killing.` (abort: `Aborting.` first from final-sigterm), then
   * `Processes still around after final SIGKILL. Entering failed mode.`; SendSIGKILL=no: `Skipping
   * SIGKILL. Entering failed mode.` and the command is not waited for any longer.
   */
  readonly stopPostWatch: StopPostWatch = (child) => {
    const { p, log } = this.s;
    const unit = p.unit;
    const mode = unit.timeoutStopFailureMode ?? 'terminate';
    let timedOut = false;
    let t: NodeJS.Timeout | undefined;
    let abandon!: () => void;
    const abandoned = new Promise<'abandoned'>((r) => (abandon = () => r('abandoned')));
    const warn = (m: string): void => log.warn(m, { unit: this.name });
    const send = (signal: string, named: boolean): void => {
      if (named)
        for (const pid of this.controlTargets(child))
          warn(`Killing process ${pid} (${commOf(pid)}) with signal ${signal}.`);
      if (unit.killMode !== 'none')
        this.signalControl(child, signal, signal === 'SIGKILL' ? 'control-group' : unit.killMode);
    };
    const kill = unit.finalKillSignal || 'SIGKILL';
    const arm = (fn: () => void): void => {
      t = timer(unit.timeoutStopUsec, fn);
    };
    const finalKill = (state: string): void => {
      if (!unit.sendSIGKILL) {
        warn(`State '${state}' timed out. Skipping SIGKILL. Entering failed mode.`);
        abandon();
        return;
      }
      warn(`State '${state}' timed out. Killing.`);
      send(kill, true);
      arm(() => {
        warn('Processes still around after final SIGKILL. Entering failed mode.');
        abandon();
      });
    };
    arm(() => {
      timedOut = true;
      if (mode === 'kill') return finalKill('stop-post');
      if (mode === 'abort') {
        warn(`State 'stop-post' timed out. Aborting.`);
        send(unit.watchdogSignal ?? 'SIGABRT', true);
        return arm(() => finalKill('final-watchdog'));
      }
      warn(`State 'stop-post' timed out. Terminating.`);
      send(unit.killSignal, false);
      arm(() => finalKill('final-sigterm'));
    });
    return {
      timedOut: () => timedOut,
      cancel: () => {
        if (t) clearTimeout(t);
      },
      abandoned,
    };
  };

  /** An ExecStopPost= command and, with cgroups and KillMode=control-group, the rest of the cgroup. */
  private controlTargets(child: ServiceChild): number[] {
    const mode = this.s.p.unit.killMode;
    if (mode === 'none') return [];
    const first = child.pid !== undefined ? [child.pid] : [];
    if (mode !== 'control-group') return first;
    return [...new Set([...first, ...(this.s.exec.cgroup?.pids() ?? [])])];
  }

  /** ExecStop= after the main process is gone: no MAINPID (systemd's main_pid is unset by then). */
  private async runExecStopAfterExit(): Promise<void> {
    const unit = this.s.p.unit;
    // Left first, so that the start (enterRunning()) does not go on to `active` meanwhile.
    this.s.setState('deactivating', 'stop');
    const control = this.s.run.control;
    if (control) await waitExit(control);
    // EXEC_SETENV_RESULT: SERVICE_RESULT= and how the main process ended.
    const { run, p } = this.s;
    if (unit.execStop.length > 0)
      await this.runExecStop({ SERVICE_RESULT: run.result, ...exitEnvironment(p.lastExit) });
  }

  /** The main process is gone: ExecStopPost=, then dead/failed/auto-restart and the `exit` event. */
  async finishDead(status: ExitStatus, pid: number): Promise<void> {
    const { p, run, timers, log } = this.s;
    // Stopping with the main process gone and a control process (ExecReload=, ExecStartPost=) still
    // running: 257 waits for that one too before stop-post, and its exit may set the result.
    if (run.stopping && run.control !== undefined) await run.controlExit;
    timers.clearStart();
    timers.stopWatchdog();
    timers.clearStop();
    // RuntimeMaxSec= stops the service itself (run.selfStop): a restart may follow, as after a failure.
    const mayRestart = !run.stopping || run.selfStop;
    run.child = undefined;
    p.pid = undefined;
    p.lastResult = run.result;
    const before = run.result;
    // stop-sigterm/stop-sigkill until the cgroup is empty, ExecStopPost=, final-sigterm (cgroups only).
    await this.drainCgroup(false);
    this.s.setState('deactivating', 'stop-post');
    const stopPost = await this.s.exec.runStopPost(before, status, this.stopPostWatch);
    await this.drainCgroup(true);
    // A failed ExecStopPost= is the run's result when it had none, and Restart= is decided with it
    // (257's service_enter_dead() comes after stop-post: fixtures/v257/stop-failures postrestart).
    const result = before === 'success' ? stopPost : before;
    run.setResult(result);
    const restart = mayRestart && shallRestartUnit(p.unit, result, pid !== 0 ? status : undefined);
    p.lastResult = result;
    this.s.exec.releaseControlContext();
    this.s.options.notify?.unregister(p);
    // unit_log_success()/unit_log_failure() of service_enter_dead().
    if (result !== 'success') log.warn(`Failed with result '${result}'.`, { unit: this.name });
    else log.info('Deactivated successfully.', { unit: this.name });
    this.s.setState(
      restart ? 'auto-restart' : result === 'success' ? 'inactive' : 'failed',
      restart ? 'auto-restart' : result === 'success' ? 'dead' : 'failed',
    );
    p.fdStore.releaseUnlessPreserved(p.unit.fileDescriptorStorePreserve, restart);
    run.endReload();
    const { code, signal } = status;
    p.emit('exit', { unit: this.name, pid, code, signal, result, restart, stopped: run.stopping && !run.selfStop });
  }

  /** Sends `signal` to the service (KillMode=), SIGKILL after TimeoutStopSec= (stop-sigterm → stop-sigkill). */
  async terminate(signal: string, sub: ServiceSubState = 'stop-sigterm'): Promise<void> {
    this.s.timers.clearStart();
    this.s.timers.stopWatchdog();
    this.s.setState('deactivating', sub);
    this.signalMain(signal);
    // A start that times out in ExecStartPre=/ExecStartPost= has a control process running: it is
    // the service's too (systemd signals the whole cgroup), and the start waits for it.
    const control = this.s.run.control;
    if (control?.pid !== undefined && this.s.p.unit.killMode !== 'none')
      this.signalControl(control, signal, this.s.p.unit.killMode);
    this.s.timers.armStop();
  }

  onStopTimeout(): void {
    const { p, run } = this.s;
    if (p.pid === undefined && run.forkingStarter === undefined) return;
    if (run.result === 'success') run.setResult('timeout');
    if (p.subState === 'stop-sigterm' && p.unit.timeoutStopFailureMode === 'abort') {
      // service_dispatch_timer() SERVICE_STOP_SIGTERM: abort sends WatchdogSignal= first (stop-watchdog).
      this.s.log.warn(`State 'stop-sigterm' timed out. Aborting.`, { unit: this.name });
      this.signalAll(p.unit.watchdogSignal ?? 'SIGABRT', 'stop-watchdog');
      this.s.timers.armStop();
      return;
    }
    this.s.log.warn(`State '${p.subState}' timed out. Killing.`, { unit: this.name });
    p.subState = 'stop-sigkill';
    if (p.unit.sendSIGKILL) {
      const kill = p.unit.finalKillSignal || 'SIGKILL';
      this.signalMain(kill, p.unit.killMode === 'process' ? 'process' : 'control-group');
      const control = run.control;
      if (control?.pid !== undefined) this.signalControl(control, kill, 'control-group');
    }
  }

  private signalMain(signal: string, mode: string = this.s.p.unit.killMode): void {
    const { p, run } = this.s;
    const target = { session: run.session, child: run.child ?? run.forkingStarter, pid: p.pid };
    const cgroup = this.s.exec.cgroup;
    if (cgroup && mode === 'control-group') {
      // unit_kill_context(): the whole cgroup (cg_kill_recursive(); SIGKILL through cgroup.kill), then
      // a main process outside it (MAINPID= from a privileged sender) by its PID.
      const reached =
        signal === 'SIGKILL' && cgroup.kill() ? new Set(cgroup.pids()) : cgroup.signal(signal as NodeJS.Signals);
      run.cgroupSignalled = true;
      const main = p.pid ?? target.child?.pid;
      if (main !== undefined && !reached.has(main) && !cgroup.pids().includes(main))
        signalService({ ...target, session: undefined }, signal, 'process');
      return;
    }
    signalService(cgroup ? { ...target, session: undefined } : target, signal, mode);
  }

  /** A control process (ExecStartPre=, …) and, with cgroups, the rest of the cgroup (KillMode=). */
  private signalControl(control: ServiceChild, signal: string, mode: string): void {
    const cgroup = this.s.exec.cgroup;
    if (cgroup && mode === 'control-group') {
      if (!(signal === 'SIGKILL' && cgroup.kill())) cgroup.signal(signal as NodeJS.Signals);
      this.s.run.cgroupSignalled = true;
      return;
    }
    signalGroup(control, signal, mode);
  }

  /**
   * The main process is gone; with cgroups what is left in the service's cgroup goes as in 257's
   * service_enter_signal() (stop-sigterm/stop-sigkill, and final-sigterm after ExecStopPost=):
   * KillMode=control-group sends KillSignal= to every process in it (unless this stop already did)
   * and SIGKILL (cgroup.kill) after TimeoutStopSec=; mixed SIGKILL at once; process and none leave
   * them running (logged at the end, as 257's unit_warn_leftover_processes() in service_enter_dead()).
   * Resolves once the cgroup is empty (cgroup.events `populated 0`, watched through inotify) or,
   * after the SIGKILL, gives up after another TimeoutStopSec=.
   */
  private async drainCgroup(final: boolean): Promise<void> {
    const { p, run, log } = this.s;
    const cgroup = this.s.exec.cgroup;
    if (!cgroup || !cgroup.populated()) return;
    const unit = p.unit;
    if (unit.killMode === 'process' || unit.killMode === 'none') {
      if (final)
        for (const pid of cgroup.pids())
          log.info(`Unit process ${pid} (${commOf(pid)}) remains running after unit stopped.`, { unit: this.name });
      return;
    }
    const wait = async (kill: () => void): Promise<boolean> => {
      const empty = cgroup.whenEmpty();
      kill();
      let t: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        empty.done.then(() => false),
        new Promise<boolean>((r) => (t = timer(unit.timeoutStopUsec, () => r(true)))),
      ]);
      if (t) clearTimeout(t);
      empty.cancel();
      return timedOut;
    };
    // 257's stop-sigterm while what is left goes (after ExecStopPost=, final-sigterm: shown as stop-post).
    if (p.state !== 'deactivating') this.s.setState('deactivating', 'stop-sigterm');
    let sigkill = unit.killMode === 'mixed';
    if (!sigkill) {
      const signalled = run.cgroupSignalled;
      run.cgroupSignalled = false;
      sigkill = await wait(() => {
        if (!signalled) cgroup.signal(unit.killSignal as NodeJS.Signals);
      });
      if (sigkill) {
        log.warn(`State '${p.subState}' timed out. Killing.`, { unit: this.name });
        if (run.result === 'success') run.setResult('timeout');
      }
    }
    if (!sigkill || !unit.sendSIGKILL) return;
    const kill = unit.finalKillSignal || 'SIGKILL';
    const killAll = (): void => {
      for (const pid of cgroup.pids())
        log.warn(`Killing process ${pid} (${commOf(pid)}) with signal ${kill}.`, { unit: this.name });
      if (kill !== 'SIGKILL' || !cgroup.kill()) cgroup.signal(kill as NodeJS.Signals);
    };
    if (await wait(killAll)) log.warn('Processes still around after SIGKILL. Ignoring.', { unit: this.name });
  }

  /**
   * ExecStop= (if any), then KillSignal= to the process group, SIGKILL after TimeoutStopSec=.
   * Resolves when the main process is gone.
   */
  async stop(self = false): Promise<void> {
    const { p, run, timers } = this.s;
    run.selfStop = self;
    const main = p.pid;
    // run.child without a PID yet: a oneshot's next ExecStart= being spawned (the stop signals it).
    if (main === undefined && run.forkingStarter === undefined && run.child === undefined) {
      p.clearAutoRestart();
      if (p.state === 'active' && p.subState === 'exited') {
        // RemainAfterExit=yes: nothing runs; ExecStop= (no $MAINPID), then ExecStopPost= with the
        // last main command's exit (systemd 257: fixtures/v257/oneshot-multi remain).
        run.stopping = true;
        await this.stopExited();
        return;
      }
      if (p.state === 'activating') {
        // ExecStartPre= is running: 257's service_stop() goes straight to stop-sigterm (no
        // ExecStop=): KillSignal= to the control process, SIGKILL after TimeoutStopSec=; start()
        // sees the flag once it has exited and ends the run through ExecStopPost= (its result:
        // `signal` when the stop killed it) — the start is answered "canceled".
        run.stopping = true;
        timers.clearStart();
        const control = run.control;
        if (control?.pid !== undefined) {
          p.subState = 'stop-sigterm';
          this.signalControl(control, p.unit.killSignal, 'control-group');
          const stopKill = timer(p.unit.timeoutStopUsec, () => {
            if (run.control !== control || !p.unit.sendSIGKILL) return;
            this.s.log.warn(`State 'stop-sigterm' timed out. Killing.`, { unit: this.name });
            if (run.result === 'success') run.setResult('timeout');
            p.subState = 'stop-sigkill';
            this.signalControl(control, p.unit.finalKillSignal || 'SIGKILL', 'control-group');
          });
          try {
            await run.startSettled;
          } finally {
            if (stopKill) clearTimeout(stopKill);
          }
          return;
        }
        await run.startSettled;
      }
      return;
    }
    // service_stop(): while starting (start, start-post) or reloading something already runs, so
    // there is no ExecStop=: the main and the control process get KillSignal= at once, and a reload
    // waiting for its end is answered "canceled" (fixtures/v257/stop-reload).
    const killNow = p.state === 'activating' || p.state === 'reloading';
    run.stopping = true;
    timers.clearStart();
    timers.stopWatchdog();
    const exited = run.exited ?? Promise.resolve();
    if (killNow) {
      run.cancelReload();
      await this.terminate(p.unit.killSignal);
      await exited;
      return;
    }
    this.s.setState('deactivating', 'stop');
    const unit = p.unit;
    // SERVICE_RESULT= (EXEC_SETENV_RESULT; the main process runs: no EXIT_CODE=). Then
    // service_enter_signal(): KillSignal= to what is left, also after a failed ExecStop=.
    this.mainSignalled = false;
    await this.runExecStop({ SERVICE_RESULT: run.result });
    if (p.pid !== undefined || run.forkingStarter !== undefined) {
      // After an ExecStop= timeout with TimeoutStopFailureMode=abort/kill the main process already
      // has its signal (stop-watchdog/stop-sigkill): the timer counts on from there.
      if (!this.mainSignalled) {
        p.subState = 'stop-sigterm';
        this.signalMain(unit.killSignal);
      }
      timers.armStop();
    }
    await exited;
  }
}
