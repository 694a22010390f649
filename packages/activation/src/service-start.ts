/**
 * How a service's run starts and becomes active by its Type= (service.c service_enter_start*()):
 * ExecStartPre=, the main process, then active at once (simple/exec/idle), on READY=1
 * (notify/notify-reload), when the started process exits 0 and leaves its daemon (forking), or
 * when it exits (oneshot); ExecStartPost=; TimeoutStartSec=; and the reload states (ExecReload=,
 * notify-reload's signal, RELOADING=1 … READY=1) and STOPPING=1.
 */
import { jobFailedMessage } from './job-messages.js';
import { unitStatusString } from './logger.js';
import type { ExecCommand } from '@mptcp/unit';
import { invocationId } from './environment.js';
import { ActivationError, messageOf } from './errors.js';
import { type ExitStatus, type ServiceChild, planExec, waitExit } from './exec.js';
import { forkingMainPid } from './process-group.js';
import { cleanCommandExit, resultOfUnitExit, shallRestartUnit } from './restart-policy.js';
import { exitStatusText, spawnExitStatus } from './exit-status.js';
import { describeExit, succeeded, withStoredFds } from './service-exec.js';
import type { ServiceParts } from './service-run.js';
import type { ServiceStopper } from './service-stop.js';
import type { ServiceState, StartContext } from './service-types.js';
import { describeControlExit } from './socket-exec.js';
import { checkServiceConditions, endSkippedStart, runExecConditions } from './exec-condition.js';

export class ServiceStarter {
  /** The start's context (its sockets' fds…), for the later ExecStart= commands of a oneshot. */
  private mainContext: StartContext = {};

  constructor(
    private readonly s: ServiceParts,
    private readonly stopper: ServiceStopper,
  ) {
    stopper.spawnNextMain = () => this.spawnNextMain();
  }

  private get name(): string {
    return this.s.p.name;
  }

  /** See ServiceProcess.start(). */
  async start(ctx: StartContext): Promise<number> {
    let settle!: () => void;
    this.s.run.startSettled = new Promise<void>((resolve) => (settle = resolve));
    try {
      return await this.startRun(ctx);
    } finally {
      settle();
    }
  }

  private async startRun(ctx: StartContext): Promise<number> {
    const { p, run, log, timers } = this.s;
    if (p.running) throw new ActivationError('ENGINE_STATE', `${this.name} is already running`, { unit: this.name });
    const unit = p.unit;
    // Condition*=/Assert*= before anything (exec-condition.ts): unmet skips the start, a failed assert
    // fails the job — unless the caller tested them already (before the start limit: service-runtime.ts).
    if (!ctx.conditionsTested) checkServiceConditions(this.s);
    run.stopping = false;
    run.startCanceled = false;
    run.startDoneAtFork = false;
    run.result = 'success';
    run.readyReceived = false;
    run.mainCommand = 0;
    this.mainContext = ctx;
    timers.reset();
    p.statusText = undefined;
    p.statusErrno = undefined;
    this.s.setState('activating', 'start-pre');
    p.lastInvocationId = invocationId();
    this.s.options.notify?.register(p);
    timers.beginStart(unit.timeoutStartUsec);
    let execFailed = false;
    try {
      const main = unit.execStart[0];
      if (!main)
        throw new ActivationError(
          'NO_EXEC_START',
          'Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing.',
          { unit: this.name },
        );
      const creds = this.s.exec.credentials();
      const cwd = this.s.exec.workingDirectory(creds.user);
      this.s.exec.holdControlContext(ctx);
      await runExecConditions(
        this.s,
        (c) => this.runControl(c, 'ExecCondition'),
        () => this.checkNotStopped(),
      );
      if (unit.execStartPre.length > 0) timers.armStartIfPending();
      for (const pre of unit.execStartPre) {
        const status = await this.runControl(pre, 'ExecStartPre');
        this.checkNotStopped();
        if (!cleanCommandExit(unit, status) && !pre.ignoreFailure) {
          // service_sigchld_event(): a failed control process's result (exit-code, signal, core-dump),
          // logged as 257 does (`Control process exited, code=exited, status=1/FAILURE`).
          log.warn(`Control process exited, ${describeControlExit(status)}`, { unit: this.name });
          if (run.result === 'success') run.result = resultOfUnitExit(unit, status.code, status.signal, true);
          throw new ActivationError(
            'EXEC_FAILED',
            `Control process exited, ${describeExit(status)} (ExecStartPre=${pre.raw})`,
            { unit: this.name },
          );
        }
      }
      this.checkNotStopped();
      // The fd store as it is now (service_collect_fds() at spawn): ExecStartPre= may have run while
      // a stored fd hung up or was removed, and its number may belong to something else since.
      const mainCtx = withStoredFds(ctx, p.fdStore.list());
      const mainEnv = this.s.exec.environment(creds, main, true, mainCtx, this.s.ids());
      if (main.argv0Override && !this.s.options.spawn && !planExec(main, mainEnv).argv0Honoured) {
        log.warn(`No bash to set argv[0] for ${main.path}: starting it with its path as argv[0].`, {
          unit: this.name,
        });
      }
      p.subState = 'start';
      const child = this.s.exec.spawn(main, mainEnv, cwd, creds, mainCtx);
      const spawned = await child.spawned;
      if (spawned && unit.type === 'oneshot' && main.ignoreFailure) {
        // A `-` command whose program could not be executed: 257's main process exits 203/EXEC,
        // ignored — the next ExecStart= runs, or the run ends well (fixtures/v257/oneshot-multi ignfirst).
        timers.armStartIfPending();
        p.starts += 1;
        run.exited = this.stopper.onMainExit(0, { code: spawnExitStatus(spawned) ?? 203, signal: null });
        return 0;
      }
      if (spawned) {
        const err = new ActivationError('EXEC_FAILED', `Failed to execute ${main.path}: ${messageOf(spawned)}`, {
          unit: this.name,
          cause: spawned,
        });
        // Type=simple/idle: the start is done once forked; the failed execve is the main process
        // exiting 203/EXEC — result exit-code, and Restart= applies (Type=exec fails the start instead).
        if (unit.type === 'simple' || unit.type === 'idle') run.execFailedAfterStart = true;
        run.execFailedStatus = spawnExitStatus(spawned) ?? 203;
        execFailed = true;
        throw err;
      }
      const pid = child.pid as number;
      // Types whose start waits for the process (READY=1, the starter's or the oneshot's exit).
      if (unit.type === 'forking' || unit.type === 'notify' || unit.type === 'notify-reload' || unit.type === 'oneshot')
        timers.armStartIfPending();
      p.starts += 1;
      run.session = pid;
      log.debug(`Started main process ${pid}: ${main.raw}`, { unit: this.name });
      if (unit.type === 'forking') {
        // The started process is the control process; the daemon it leaves behind is the main one.
        run.forkingStarter = child;
        p.controlPid = pid;
        void waitExit(child).then((status) => this.onForkingStarterExit(status));
      } else {
        run.child = child;
        p.pid = pid;
        run.exited = waitExit(child).then((status) => this.stopper.onMainExit(pid, status));
        if (unit.type !== 'notify' && unit.type !== 'notify-reload' && unit.type !== 'oneshot')
          void this.enterRunning();
      }
      return pid;
    } catch (err) {
      await this.stopPostAfterFailedStart(execFailed);
      if (!endSkippedStart(this.s, err)) this.startFailed(execFailed);
      throw err;
    }
  }

  /**
   * service_run_next_main(): the next ExecStart= of a Type=oneshot service, spawned once the one
   * before exited cleanly (or failed with `-`), as the new main process (no $MAINPID, as the first);
   * TimeoutStartSec= counts afresh for it (service_spawn() arms the timer relative to now), unless
   * a stop has begun (its stop timer goes on). Returns the child (its spawn may still fail: a
   * missing executable is that command exiting 203/EXEC), or the error that kept it from being
   * spawned at all (257: `Failed to spawn next main task: …`, result resources).
   */
  private spawnNextMain(): ServiceChild | Error {
    const { p, run, timers } = this.s;
    const unit = p.unit;
    run.mainCommand += 1;
    const cmd = unit.execStart[run.mainCommand] as ExecCommand;
    if (!run.stopping) timers.armStart(unit.timeoutStartUsec);
    try {
      const creds = this.s.exec.credentials();
      const cwd = this.s.exec.workingDirectory(creds.user);
      const ctx = withStoredFds(this.mainContext, p.fdStore.list());
      const env = this.s.exec.environment(creds, cmd, true, ctx, this.s.ids());
      this.s.log.debug(`Running next main command for state ${p.subState ?? 'start'}.`, { unit: this.name });
      return this.s.exec.spawn(cmd, env, cwd, creds, ctx);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /**
   * systemd 257 ends a start that failed (ExecStartPre=, the main process's spawn or exec, a
   * timeout) through stop-post: ExecStopPost= runs, with SERVICE_RESULT= and, when the main process
   * was started, its EXIT_CODE=/EXIT_STATUS= (fixtures/v257/namespace missing.service: 226; an
   * ExecStartPre= failure: none). Not after stop() meanwhile: the stop runs it.
   */
  private async stopPostAfterFailedStart(execFailed: boolean): Promise<void> {
    const { p, run } = this.s;
    // A stop during ExecStartPre= (no main process: stop() left the rest to this start, as 257's
    // service_stop() in start-pre: stop-sigterm → stop-post with the run's result; fixtures/v257/
    // stop-start-pre); a stop once the main process runs has its own path.
    const stoppedBeforeMain = run.stopping && p.pid === undefined && run.forkingStarter === undefined;
    if ((run.stopping && !stoppedBeforeMain) || p.unit.execStopPost.length === 0) return;
    const result = stoppedBeforeMain
      ? run.result
      : run.result !== 'success'
        ? run.result
        : execFailed
          ? 'exit-code'
          : 'resources';
    this.s.timers.clearStart();
    this.s.setState('deactivating', 'stop-post');
    const post = await this.s.exec.runStopPost(
      result,
      execFailed ? { code: run.execFailedStatus, signal: null } : undefined,
      this.stopper.stopPostWatch,
    );
    // A failed ExecStopPost= is the result of a run that had none (stopped before its main process).
    if (stoppedBeforeMain) run.setResult(post);
  }

  /** start() gave up: `failed` (or `inactive` when stopped meanwhile), or a Type=simple exec failure as an exit. */
  private startFailed(execFailed: boolean): void {
    const { p, run, log } = this.s;
    this.s.exec.releaseControlContext();
    run.control = undefined;
    p.controlPid = undefined;
    this.s.timers.clearStart();
    this.s.options.notify?.unregister(p);
    if (run.execFailedAfterStart && !run.stopping) {
      run.execFailedAfterStart = false;
      run.startDoneAtFork = true;
      p.starts += 1;
      p.lastResult = 'exit-code';
      const code = run.execFailedStatus;
      p.lastExit = { code, signal: null };
      const restart = shallRestartUnit(p.unit, 'exit-code', { code, signal: null });
      log.warn(`Main process exited, code=exited, status=${exitStatusText(code)}`, { unit: this.name });
      log.warn("Failed with result 'exit-code'.", { unit: this.name });
      this.s.setState(restart ? 'auto-restart' : 'failed', restart ? 'auto-restart' : 'failed');
      p.fdStore.releaseUnlessPreserved(p.unit.fileDescriptorStorePreserve, restart);
      const exit = { unit: this.name, pid: 0, code, signal: null, result: 'exit-code' as const, restart };
      p.emit('exit', { ...exit, stopped: false });
      return;
    }
    if (run.stopping) {
      // A control process the stop killed made the result (signal…): failed, as 257.
      if (run.result !== 'success') {
        p.lastResult = run.result;
        log.warn(`Failed with result '${run.result}'.`, { unit: this.name });
        this.s.setState('failed', 'failed');
      } else this.s.setState('inactive', 'dead');
    } else {
      // A timeout (ExecStartPre= ran too long) keeps its result; execve failed: systemd's
      // status=203/EXEC, result exit-code; anything else before it: resources.
      p.lastResult = run.result !== 'success' ? run.result : execFailed ? 'exit-code' : 'resources';
      // The main process failed before its program ran (203/EXEC, or a step that systemd reports by
      // its own status: sandbox.ts, capabilities): 257's exit line for it.
      if (execFailed && run.result === 'success') {
        p.lastExit = { code: run.execFailedStatus, signal: null };
        log.warn(`Main process exited, code=exited, status=${exitStatusText(run.execFailedStatus)}`, {
          unit: this.name,
        });
      }
      // service_enter_dead(): unit_log_failure(), then Restart= as after any run (257 reaches it
      // through stop-sigterm with allow_restart: fixtures/v257/restart-results prefail, res).
      log.warn(`Failed with result '${p.lastResult}'.`, { unit: this.name });
      const mainExit = execFailed ? { code: run.execFailedStatus, signal: null } : undefined;
      const restart = shallRestartUnit(p.unit, p.lastResult, mainExit);
      this.s.setState(restart ? 'auto-restart' : 'failed', restart ? 'auto-restart' : 'failed');
      p.fdStore.releaseUnlessPreserved(p.unit.fileDescriptorStorePreserve, restart);
      if (restart) {
        const exit = { unit: this.name, pid: 0, code: mainExit?.code ?? null, signal: null, result: p.lastResult };
        p.emit('exit', { ...exit, restart, stopped: false });
      }
      return;
    }
    p.fdStore.releaseUnlessPreserved(p.unit.fileDescriptorStorePreserve, false);
  }

  /** stop() during ExecStartPre= must not be followed by a main process nobody will stop. */
  private checkNotStopped(): void {
    if (this.s.run.stopping) {
      // 257's stop job cancels the start job: systemctl start answers "Job for UNIT canceled."
      this.s.run.startCanceled = true;
      throw new ActivationError('JOB_CANCELED', `Job for ${this.name} canceled.`, { unit: this.name });
    }
  }

  /** Runs one control command (ExecStartPre=, ExecStartPost=, ExecReload=…) to its end. */
  private async runControl(cmd: ExecCommand, what: string): Promise<ExitStatus> {
    const { p, run } = this.s;
    const control = this.s.exec.control(cmd, this.s.ids());
    run.control = control;
    p.controlPid = control.pid;
    const exit = waitExit(control).then((status) => {
      if (run.control === control) {
        run.control = undefined;
        p.controlPid = undefined;
      }
      // service_sigchld_event(): a control process that ends once the stop has begun is the run's
      // result too (killed by the stop's SIGTERM: `signal`, no clean exit for a command), unless `-`.
      if (run.stopping && !cleanCommandExit(this.s.p.unit, status) && !cmd.ignoreFailure) {
        this.s.log.warn(`Control process exited, ${describeControlExit(status)}`, { unit: this.name });
        run.setResult(resultOfUnitExit(this.s.p.unit, status.code, status.signal, true));
      }
      return status;
    });
    run.controlExit = exit.then(() => undefined);
    const spawnErr = await control.spawned;
    if (spawnErr === undefined && run.control === control) p.controlPid = control.pid;
    const status = await exit;
    if (!succeeded(status)) this.s.log.debug(`${what}=${cmd.raw}: ${describeExit(status)}`, { unit: this.name });
    return status;
  }

  /** Start finished: READY=1, the main process of a simple service runs, or the forking starter exited 0. */
  private async enterRunning(): Promise<void> {
    const { p, run } = this.s;
    if (p.state !== 'activating' || run.stopping) return;
    p.subState = 'start-post';
    this.s.timers.startWatchdog();
    if (p.unit.execStartPost.length > 0) this.s.timers.armStartIfPending();
    for (const post of p.unit.execStartPost) {
      const status = await this.runControl(post, 'ExecStartPost');
      if (p.state !== 'activating' || run.stopping) return;
      if (!cleanCommandExit(p.unit, status) && !post.ignoreFailure) {
        this.s.log.warn(`Control process exited, ${describeExit(status)} (ExecStartPost=${post.raw}); stopping.`, {
          unit: this.name,
        });
        run.setResult('exit-code');
        void p.stop();
        return;
      }
    }
    this.s.timers.clearStart();
    this.s.setState('active', 'running');
  }

  onStartTimeout(): void {
    const { p, run } = this.s;
    if (p.state !== 'activating' || run.stopping) return;
    // service_state_to_string(): `start-pre operation timed out. Terminating.` (fixtures/v257/failed-start);
    // TimeoutStartFailureMode=abort sends WatchdogSignal= (SIGABRT), kill SIGKILL, each process named
    // (fixtures/v257/timeout-failure-mode). SendSIGKILL=no with kill: 257 skips the signal and goes on
    // to stop-post; here it falls back to terminate (not recorded).
    const mode = p.unit.timeoutStartFailureMode ?? 'terminate';
    run.setResult('timeout');
    if (mode === 'abort' || (mode === 'kill' && p.unit.sendSIGKILL)) {
      this.s.log.warn(`${p.subState} operation timed out. ${mode === 'abort' ? 'Aborting' : 'Killing'}.`, {
        unit: this.name,
      });
      const signal = mode === 'abort' ? (p.unit.watchdogSignal ?? 'SIGABRT') : p.unit.finalKillSignal || 'SIGKILL';
      this.stopper.nameKilled(signal);
      void this.stopper.terminate(signal, mode === 'abort' ? 'stop-watchdog' : 'stop-sigkill');
      return;
    }
    this.s.log.warn(`${p.subState} operation timed out. Terminating.`, { unit: this.name });
    void this.stopper.terminate(p.unit.killSignal);
  }

  private async onForkingStarterExit(status: ExitStatus): Promise<void> {
    const { p, run, log } = this.s;
    run.forkingStarter = undefined;
    p.controlPid = undefined;
    if (run.stopping && p.pid === undefined) {
      await this.stopper.finishDead(status, p.controlPid ?? 0);
      return;
    }
    if (!cleanCommandExit(p.unit, status)) {
      log.warn(`Control process exited, ${describeExit(status)}`, { unit: this.name });
      run.setResult(status.signal !== null ? 'signal' : 'exit-code');
      await this.stopper.finishDead(status, 0);
      return;
    }
    // PIDFile=: what was refused (a PID outside the service from an untrusted file, the daemon
    // itself…) is logged by forkingMainPid() in 257's words.
    const main = forkingMainPid(p.unit, run.session, (level, message) => log[level](message, { unit: this.name }));
    if (main === undefined) {
      if (!p.unit.pidFile) log.warn('Could not determine the main PID (GuessMainPID=).', { unit: this.name });
      run.setResult('protocol');
      await this.stopper.finishDead(status, 0);
      return;
    }
    p.pid = main;
    this.stopper.watchAlien(main);
    run.exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    await this.enterRunning();
  }

  // ---- notifications: READY=1, RELOADING=1, STOPPING=1 --------------------------------------------

  onReady(): void {
    const { p } = this.s;
    this.s.run.readyReceived = true;
    const notifyType = p.unit.type === 'notify' || p.unit.type === 'notify-reload';
    if (p.state === 'activating' && notifyType && p.subState === 'start') void this.enterRunning();
    else if (p.state === 'reloading') this.finishReload();
  }

  enterReloadByNotify(): void {
    if (this.s.p.state !== 'active') return;
    this.s.setState('reloading', 'reload-notify');
    this.s.timers.armStart(this.s.p.unit.timeoutStartUsec);
  }

  private finishReload(): void {
    this.s.timers.clearStart();
    this.s.setState('active', 'running');
    this.s.run.endReload();
  }

  enterStopByNotify(): void {
    if (this.s.p.state === 'deactivating') return;
    this.s.timers.clearStart();
    this.s.timers.stopWatchdog();
    this.s.setState('deactivating', 'stop-sigterm');
    this.s.timers.armStop();
  }

  /**
   * See ServiceProcess.reload(). A stop that arrives meanwhile cancels it (rejects with
   * JOB_CANCELED, as 257's stop job cancels the reload job) and ends the run at once: ExecStop= is
   * skipped, the main and the ExecReload= process get KillSignal= (service-stop.ts).
   */
  async reload(): Promise<void> {
    const { p, run } = this.s;
    if (p.state !== 'active')
      throw new ActivationError('ENGINE_STATE', `${this.name} is not active, cannot reload.`, { unit: this.name });
    if (p.unit.type !== 'notify-reload' && p.unit.execReload.length === 0)
      throw new ActivationError('NOT_RELOADABLE', `${this.name} has no ExecReload=, cannot reload.`, {
        unit: this.name,
      });
    const canceled = new Promise<never>((_, reject) => {
      run.reloadCancel = () =>
        reject(new ActivationError('JOB_CANCELED', `Job for ${this.name} canceled.`, { unit: this.name }));
    });
    const work = p.unit.type === 'notify-reload' ? this.reloadBySignal() : this.runExecReload();
    // Once canceled, the work ends in the background (its control process is being killed).
    work.catch(() => undefined);
    canceled.catch(() => undefined);
    try {
      await Promise.race([work, canceled]);
    } finally {
      run.reloadCancel = undefined;
    }
  }

  /** Type=notify-reload: ReloadSignal= to the main process, then RELOADING=1 … READY=1. */
  private async reloadBySignal(): Promise<void> {
    const { p, run } = this.s;
    const done = new Promise<void>((resolve) => (run.reloadDone = resolve));
    this.s.setState('reloading', 'reload-signal');
    this.s.timers.armStart(p.unit.timeoutStartUsec);
    if (p.pid !== undefined) {
      try {
        process.kill(p.pid, (p.unit.reloadSignal ?? 'SIGHUP') as NodeJS.Signals);
      } catch (err) {
        this.finishReload();
        throw new ActivationError('EXEC_FAILED', `Failed to send reload signal: ${messageOf(err)}`, {
          unit: this.name,
        });
      }
    }
    await done;
  }

  /** ExecReload= commands one after the other; a failing one (not `-`) ends the reload with an error. */
  private async runExecReload(): Promise<void> {
    const { p, run } = this.s;
    this.s.setState('reloading', 'reload');
    try {
      for (const cmd of p.unit.execReload) {
        const status = await this.runControl(cmd, 'ExecReload');
        // Stopped meanwhile: the stop owns the run (and the reload was answered "canceled").
        if (run.stopping) return;
        if (!cleanCommandExit(p.unit, status) && !cmd.ignoreFailure) {
          // 257 (fixtures/v257/failed-start reloadfail): the command's exit, the reload job's line
          // `Reload failed for UNIT - DESCRIPTION.`; systemctl answers by the unit's Result=, which a
          // reload leaves (success: `Job for UNIT failed.`). ReloadResult= would be exit-code.
          this.s.log.warn(`Control process exited, ${describeControlExit(status)}`, { unit: this.name });
          this.s.log.error(`Reload failed for ${unitStatusString(this.name, p.unit.unit.description)}.`, {
            unit: this.name,
            bare: true,
          });
          throw new ActivationError('JOB_FAILED', jobFailedMessage(this.name, run.result), { unit: this.name });
        }
      }
    } finally {
      if ((p.state as ServiceState) === 'reloading' && !run.stopping) this.s.setState('active', 'running');
    }
  }
}
