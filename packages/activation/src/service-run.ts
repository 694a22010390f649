/**
 * The state one run of a service keeps between its events, and the handle the parts of a
 * ServiceProcess (service-start.ts, service-stop.ts) share: what the outside sees (state, PIDs,
 * results) lives on the ServiceProcess; what only the parts need lives here.
 */
import type { ServiceChild } from './exec.js';
import type { Logger } from './logger.js';
import type { ServiceResult } from './restart-policy.js';
import type { RunIds, ServiceExec } from './service-exec.js';
import type { ServiceProcess } from './service-process.js';
import type { ServiceTimers } from './service-timers.js';
import type { ServiceProcessOptions, ServiceState, ServiceSubState } from './service-types.js';

export class ServiceRun {
  /** The session the main process leads (setsid): processes of this service. */
  session: number | undefined;
  /** With cgroups: this stop already sent KillSignal= to the whole cgroup (drainCgroup() does not again). */
  cgroupSignalled = false;
  /** The main process when it is our child. */
  child: ServiceChild | undefined;
  /** The ExecStartPre=/ExecStartPost=/ExecReload= process running. */
  control: ServiceChild | undefined;
  /** Type=forking: the started process, until it exits. */
  forkingStarter: ServiceChild | undefined;
  /** stop() was called for this run. */
  stopping = false;
  /** That stop is the service's own (RuntimeMaxSec=): Restart= applies after it. */
  selfStop = false;
  /** Resolves when the main process is gone (Type=oneshot: once the last ExecStart= that runs is). */
  exited: Promise<void> | undefined;
  /** The index in ExecStart= of the main command running (Type=oneshot runs them one after the other). */
  mainCommand = 0;
  /** The failure of this run (first failure wins, as service_enter_*'s `if (s->result == SUCCESS)`). */
  result: ServiceResult = 'success';
  readyReceived = false;
  /** Resolves the pending ExecReload=/notify-reload. */
  reloadDone: (() => void) | undefined;
  /** Rejects the pending reload() as canceled. */
  reloadCancel: (() => void) | undefined;
  /** Settles when the start in progress (ServiceStarter.start()) is over, however it ended. */
  startSettled: Promise<void> | undefined;
  /** A stop ended the start before its main process (257 cancels the start job). */
  startCanceled = false;
  /**
   * The last start's job was done when its main process was forked (Type=simple/idle) although
   * start() rejected: its execve failed, which 257 reports as the main process exiting 203/EXEC
   * after `Started UNIT.`, not as a failed start.
   */
  startDoneAtFork = false;
  /** Settles once the running control process has exited and its result (if any) is recorded. */
  controlExit: Promise<void> | undefined;
  /** The watch on a main process that is not our child (forking/MAINPID=: foreign-exit.ts). */
  alienWatch: { stop(): void } | undefined;
  /**
   * That process was reaped by a process of the service: 257 does not notice such an exit, the run
   * goes on until the process we started (our stand-in for the cgroup emptying) ends.
   */
  alienGone = false;
  /** The main execve failed for a Type=simple service: reported as an exit, not a failed start. */
  execFailedAfterStart = false;
  /** Its exit status: 203/EXEC, or the status of the step that failed before exec (e.g. 226/NAMESPACE). */
  execFailedStatus = 203;

  setResult(r: ServiceResult): void {
    if (this.result === 'success') this.result = r;
  }

  /**
   * A stop arrived during a reload: its caller is answered "canceled" (257's stop job cancels the
   * reload job: `Job for UNIT canceled.`, fixtures/v257/stop-reload).
   */
  cancelReload(): void {
    const cancel = this.reloadCancel;
    this.reloadCancel = undefined;
    cancel?.();
  }

  /** The reload in progress (if any) is over. */
  endReload(): void {
    const done = this.reloadDone;
    this.reloadDone = undefined;
    done?.();
  }
}

/** What the parts of a ServiceProcess get. */
export interface ServiceParts {
  readonly p: ServiceProcess;
  readonly run: ServiceRun;
  readonly timers: ServiceTimers;
  readonly exec: ServiceExec;
  readonly options: ServiceProcessOptions;
  readonly log: Logger;
  setState(state: ServiceState, sub?: ServiceSubState): void;
  /** $MAINPID and the invocation id for a control command. */
  ids(): RunIds;
}
