/**
 * The service side of the engine for Accept=no sockets (socket.c socket_enter_running() and
 * service.c's restart): a trigger starts the unit's service with the fds of every socket it owns
 * (lent to it until it exits), Restart= schedules the next start after RestartSec=, and the
 * sockets poll again when the service is gone (FlushPending=).
 */
import { inSocketsOrder } from './socket-order.js';
import { testStartConditions } from './conditions.js';
import type { ServiceUnit } from '@mptcp/unit';
import { type EngineCore, usecToMs } from './engine-core.js';
import { ActivationError, messageOf } from './errors.js';
import { failedToStartLine, jobFailedMessage } from './job-messages.js';
import { startLimitOf, takeStart, takeTrigger, updatedLimit } from './limits.js';
import type { RateLimit } from './rate-limit.js';
import { restartDelayUsec } from './restart-policy.js';
import { usesSocketStdio } from './service-output.js';
import { type ServiceExit, ServiceProcess, type StartContext } from './service-process.js';
import type { ServiceState } from './service-types.js';
import type { SocketRuntime, SocketRuntimes } from './socket-runtime.js';
import type { UnitDefinitions } from './unit-definitions.js';
import { serviceNameOf } from './unit-definitions.js';

export interface ServiceRuntime {
  process: ServiceProcess;
  startLimit: RateLimit;
  restartTimer?: NodeJS.Timeout;
  /** Set while start() is queued so that two triggers never start twice. */
  starting: boolean;
  /**
   * The pending start job (job.c): a second `start` or a socket trigger merges into it and gets its
   * result; a stop marks it canceled. Gone once the job has ended.
   */
  startJob?: StartJob;
  /** The pending stop job: a `start` meanwhile cancels it (its client gets JOB_CANCELED). */
  stopJob?: StopJob;
}

/** A pending start job. */
export interface StartJob {
  /** A stop (or restart) arrived while it was pending: it ends `canceled`, whatever the unit did. */
  canceled: boolean;
  done: Promise<StartOutcome>;
}

/** A pending stop job. */
export interface StopJob {
  /** Resolves once the service is gone (also after the job was canceled). */
  done: Promise<void>;
  /** A start came: the stop's client is answered `Job for UNIT canceled.` now; the stop goes on. */
  cancel(): void;
}

/** How a start job ended (ServiceRuntimes.start()). */
export type StartOutcome = 'done' | 'failed' | 'canceled' | 'skipped' | 'assert';

/** The engine's (Accept=no) services by name, created from their definitions on first use. */
export class ServiceRuntimes {
  private readonly byName = new Map<string, ServiceRuntime>();
  /** Called at each state change of a service, with the state before (dependencies.ts: OnFailure=, BindsTo=). */
  onTransition: ((rt: ServiceRuntime, from: ServiceState, to: ServiceState) => void) | undefined;

  constructor(
    private readonly core: EngineCore,
    private readonly sockets: SocketRuntimes,
    private readonly defs: UnitDefinitions,
  ) {}

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** An existing runtime only (status): never creates one. */
  peek(name: string): ServiceRuntime | undefined {
    return this.byName.get(name);
  }

  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  values(): IterableIterator<ServiceRuntime> {
    return this.byName.values();
  }

  clear(): void {
    this.byName.clear();
  }

  /** The runtime of a loaded service (created on first use); undefined when `name` is not loaded. */
  get(name: string): ServiceRuntime | undefined {
    const existing = this.byName.get(name);
    if (existing) return existing;
    const def = this.defs.services.get(name);
    if (!def) return undefined;
    const process = new ServiceProcess(def, this.core.serviceOptions());
    const rt: ServiceRuntime = { process, startLimit: startLimitOf(def), starting: false };
    let last: ServiceState = process.state;
    process.on('state', (state) => {
      this.core.events.emit('service-state', {
        service: name,
        state,
        ...(process.pid !== undefined ? { pid: process.pid } : {}),
      });
      const from = last;
      last = state;
      this.onTransition?.(rt, from, state);
    });
    process.on('exit', (exit) => this.onExit(rt, exit));
    this.byName.set(name, rt);
    return rt;
  }

  require(name: string): ServiceRuntime {
    const svc = this.get(name);
    if (!svc) throw new ActivationError('UNIT_NOT_FOUND', `Unit ${name} not found.`, { unit: name });
    return svc;
  }

  /**
   * New definitions were loaded: a running service keeps its process and gets the new definition
   * for its next start; one no longer defined and not running goes; every defined one is listed.
   */
  redefine(): void {
    for (const [name, rt] of this.byName) {
      const def = this.defs.services.get(name);
      if (def) {
        rt.process.unit = def;
        rt.startLimit = updatedLimit(rt.startLimit, def.unit.startLimitIntervalUsec, def.unit.startLimitBurst);
      } else if (!rt.process.running) {
        this.byName.delete(name);
      }
    }
    // Every known service shows up in status(), started or not.
    for (const name of this.defs.services.keys()) this.get(name);
  }

  /** An Accept=no socket is readable: its service starts (the trigger limit permitting). */
  onTrigger(sock: SocketRuntime): void {
    if (sock.state !== 'listening' || this.core.stopping) return;
    // Stop polling first: the watch is level-triggered and the service has not taken the data yet.
    this.sockets.unwatch(sock);
    if (!takeTrigger(sock)) {
      this.sockets.triggerLimitHit(sock);
      return;
    }
    const name = serviceNameOf(sock.unit);
    this.core.events.emit('trigger', { socket: sock.unit.name, service: name });
    const svc = this.get(name);
    if (!svc) {
      this.core.log.error(`Service ${name} not loaded, socket cannot be started.`, { unit: sock.unit.name });
      this.sockets.enterFailed(sock, 'resources', `Service ${name} not loaded`);
      return;
    }
    void this.start(svc, sock);
  }

  /** The sockets whose fds a service gets: those that trigger it, plus its Sockets=. */
  socketsFor(service: ServiceUnit): SocketRuntime[] {
    const out: SocketRuntime[] = [];
    for (const s of this.sockets.values()) {
      if (s.unit.accept || s.ports.length === 0) continue;
      if (serviceNameOf(s.unit) === service.name || service.sockets.includes(s.unit.name)) out.push(s);
    }
    return inSocketsOrder(service, out);
  }

  /**
   * Starts `svc` with its sockets' fds (lent to it until it exits), unless it runs or waits to
   * restart. Resolves, as 257's start job ends, once the service is no longer activating: `done`
   * (active; a oneshot that finished; a Type=simple whose execve failed after the fork), `failed`
   * (logged `Failed to start UNIT - DESCRIPTION.`), `canceled` (a stop came first), or `skipped`
   * (nothing was started: it runs already, waits to restart, hit its start limit, lacks its socket).
   * `restarting`: the start of an auto-restart, whose conditions are not tested again.
   */
  async start(
    svc: ServiceRuntime,
    trigger: SocketRuntime | undefined,
    job?: StartJob,
    env?: Record<string, string>,
    restarting = false,
  ): Promise<StartOutcome> {
    const { core, sockets: table } = this;
    if (svc.starting || svc.process.running || core.stopping || (svc.startJob && svc.startJob !== job)) {
      // Someone else started it: this socket waits for the service to go away, like its siblings.
      if (trigger && trigger.state === 'listening' && !core.stopping) table.setState(trigger, 'running');
      return 'skipped';
    }
    if (svc.restartTimer) {
      // As systemd: a start request during auto-restart waits for RestartSec= to pass
      // (service_start() returns -EAGAIN and the job stays queued); the restart takes the fds.
      if (trigger && trigger.state === 'listening') table.setState(trigger, 'running');
      return 'skipped';
    }
    const unit = svc.process.unit;
    const sockets = this.socketsFor(unit).filter((s) => s.state === 'listening' || s.state === 'running');
    // unit_start(): Condition*=/Assert*= before the start limit (service_can_start()), so that a
    // start they skip is not counted; ExecCondition= runs inside the start, after the limit counted
    // it (fixtures/v257/start-limit-conditions). Not for an auto-restart: unit_start() tests them only
    // when the unit is not activating, and auto-restart is (condrestart: the restarts run).
    const gate = restarting ? 'met' : this.testConditions(svc);
    if (gate !== 'met') {
      // The sockets poll again (257: socket_trigger_notify() once the job is done), until their
      // trigger limit when the condition stays unmet.
      for (const s of sockets) {
        table.setState(s, 'running');
        table.enterListeningLater(s);
      }
      return gate;
    }
    if (!takeStart(svc.startLimit, svc.process, core.log)) {
      for (const s of sockets)
        table.enterFailed(s, 'service-start-limit-hit', `Service ${unit.name} hit its start limit`);
      // service_enter_dead(START_LIMIT_HIT) after an ExecCondition= skip keeps that result: the
      // unit is dead (not failed) and the job is done.
      if (svc.process.state !== 'failed') return 'done';
      this.logJobFailed(svc);
      return 'failed';
    }
    // As stdio the socket is always blocking (exec_invoke() drops O_NONBLOCK on socket_fd).
    for (const s of sockets) table.lend(s, unit.nonBlocking && !usesSocketStdio(unit));
    const ports = sockets.flatMap((s) =>
      s.ports.map((p) => ({ fd: p.fd, name: s.unit.fileDescriptorName ?? s.unit.name })),
    );
    // OnFailure=/OnSuccess= handlers get the MONITOR_* variables (dependencies.ts).
    const ctx: StartContext = { ...(env ? { env } : {}), conditionsTested: true };
    if (usesSocketStdio(unit)) {
      if (ports.length !== 1) {
        core.log.error(ports.length === 0 ? 'Got no socket.' : 'Got more than one socket.', { unit: unit.name });
        for (const s of sockets) table.enterListeningLater(s);
        return 'skipped';
      }
      ctx.socketStdio = (ports[0] as { fd: number }).fd;
    } else {
      ctx.fds = ports.map((p) => p.fd);
      ctx.fdNames = ports.map((p) => p.name);
    }
    svc.starting = true;
    // The job: `job` when startNow() made it (waiting for a stop first), else a new one.
    const j: StartJob = job ?? { canceled: false, done: Promise.resolve<StartOutcome>('skipped') };
    svc.startJob = j;
    const done = this.runStartJob(svc, j, trigger, sockets, ctx).finally(() => {
      if (svc.startJob === j) delete svc.startJob;
    });
    if (!job) j.done = done;
    return done;
  }

  private async runStartJob(
    svc: ServiceRuntime,
    job: StartJob,
    trigger: SocketRuntime | undefined,
    sockets: SocketRuntime[],
    ctx: StartContext,
  ): Promise<StartOutcome> {
    const { core, sockets: table } = this;
    const unit = svc.process.unit;
    try {
      const pid = await svc.process.start(ctx);
      core.events.emit('started', { service: unit.name, pid, ...(trigger ? { socket: trigger.unit.name } : {}) });
    } catch (err) {
      for (const s of sockets) table.enterListeningLater(s);
      // Unmet conditions (logged): the job is done, nothing started; a failed assert: the job's own result.
      if ((err as { code?: string }).code === 'CONDITION_UNMET') return 'done';
      if ((err as { code?: string }).code === 'JOB_ASSERT') return 'assert';
      // A stop that canceled the start is not a failure to start.
      if (job.canceled || (err as { code?: string }).code === 'JOB_CANCELED' || svc.process.startCanceled) {
        core.log.debug(messageOf(err), { unit: unit.name });
        return 'canceled';
      }
      // Type=simple/idle: started at the fork; the failed execve was logged as the main process's exit.
      if (svc.process.startDoneAtFork) {
        core.log.debug(messageOf(err), { unit: unit.name });
        return 'done';
      }
      // A failed command or step (EXEC_FAILED) was logged where it happened (`Control process
      // exited, …`, the executor's `Failed at step …`); anything else thrown before the spawn
      // (WorkingDirectory=, EnvironmentFile=, no ExecStart=) is logged here, as 257 logs its cause
      // (`Failed to load environment files: …`). 257 ends with the job's line.
      if ((err as { code?: string }).code === 'EXEC_FAILED')
        core.log.debug(`Start failed: ${messageOf(err)}`, { unit: unit.name });
      else core.log.error(messageOf(err), { unit: unit.name });
      this.logJobFailed(svc);
      return 'failed';
    } finally {
      svc.starting = false;
    }
    return this.startJobEnd(svc, job);
  }

  /**
   * unit_process_job() for a start job: done once active (or reloading), or once inactive (a oneshot
   * that finished); failed once failed (or waiting to restart after a failure). Activating and
   * deactivating (a start timeout's SIGTERM) go on waiting.
   */
  private async startJobEnd(svc: ServiceRuntime, job: StartJob): Promise<StartOutcome> {
    const p = svc.process;
    while (p.state === 'activating' || p.state === 'deactivating') await nextState(p);
    // A stop (or restart) that came while the job was pending canceled it: 257 answers the start
    // `Job for UNIT canceled.` (no `Failed to start` line), also when the stop timed out.
    if (job.canceled || p.startCanceled) return 'canceled';
    const failed = p.state === 'failed' || (p.state === 'auto-restart' && (p.lastResult ?? 'success') !== 'success');
    if (!failed) return 'done';
    this.logJobFailed(svc);
    return 'failed';
  }

  /**
   * unit_start()'s Condition*=/Assert*= (logged): `met`, `done` (unmet: the job is done, nothing
   * starts) or `assert` (a failed assert fails the job).
   */
  private testConditions(svc: ServiceRuntime): 'met' | 'done' | 'assert' {
    try {
      return testStartConditions(svc.process, svc.process.unit, this.core.log) ? 'met' : 'done';
    } catch (err) {
      if ((err as { code?: string }).code === 'JOB_ASSERT') return 'assert';
      throw err;
    }
  }

  /** job_emit_done_message() for JOB_FAILED: `Failed to start UNIT - DESCRIPTION.` (no `UNIT: ` prefix). */
  private logJobFailed(svc: ServiceRuntime): void {
    const unit = svc.process.unit;
    this.core.log.error(failedToStartLine(unit.name, unit.unit.description), { unit: unit.name, bare: true });
  }

  /**
   * `start UNIT`: now, also when an auto-restart is scheduled. Resolves when the start job is done
   * (a oneshot finished, a notify service sent READY=1, a simple one forked); rejects with
   * systemctl's answer when it failed (JOB_FAILED: `Job for UNIT failed because …`, by the result)
   * or was canceled.
   */
  async startNow(name: string): Promise<void> {
    const svc = this.require(name);
    const outcome = await this.startJobFor(svc);
    if (outcome === 'canceled') throw new ActivationError('JOB_CANCELED', `Job for ${name} canceled.`, { unit: name });
    if (outcome === 'assert')
      throw new ActivationError('JOB_ASSERT', `Assertion failed on job for ${name}.`, { unit: name });
    if (outcome === 'failed')
      throw new ActivationError('JOB_FAILED', jobFailedMessage(name, svc.process.lastResult ?? 'resources'), {
        unit: name,
      });
  }

  /**
   * The start job `start UNIT` waits for (job.c job_install()): a pending one (a `start` or a
   * socket trigger began it) is merged into, both get its result; an active unit answers at once; a
   * unit stopping (its stop job canceled: that client is answered `Job for UNIT canceled.`) starts
   * once the stop has finished.
   */
  startJobFor(svc: ServiceRuntime, env?: Record<string, string>): Promise<StartOutcome> {
    const p = svc.process;
    const pending = svc.startJob;
    if (pending && !pending.canceled) return pending.done;
    const stop = svc.stopJob;
    if (pending || stop || p.state === 'deactivating') {
      stop?.cancel();
      const job: StartJob = { canceled: false, done: Promise.resolve<StartOutcome>('skipped') };
      svc.startJob = job;
      job.done = (async (): Promise<StartOutcome> => {
        await pending?.done;
        await stop?.done.catch(() => undefined);
        while (p.state === 'deactivating') await nextState(p);
        if (job.canceled) return 'canceled';
        return this.startFresh(svc, job, env);
      })().finally(() => {
        if (svc.startJob === job) delete svc.startJob;
      });
      return job.done;
    }
    if (p.running || svc.starting) return Promise.resolve('skipped');
    return this.startFresh(svc, undefined, env);
  }

  /** A start now, also when an auto-restart is scheduled (it is canceled). */
  private startFresh(svc: ServiceRuntime, job?: StartJob, env?: Record<string, string>): Promise<StartOutcome> {
    const restarting = svc.restartTimer !== undefined;
    if (restarting) {
      this.cancelRestart(svc);
      svc.process.clearAutoRestart();
    }
    return this.start(svc, undefined, job, env, restarting);
  }

  /**
   * `stop UNIT`: no restart is left scheduled; a pending start job is canceled (answered
   * `Job for UNIT canceled.`); resolves when the service is gone, or rejects with JOB_CANCELED as
   * soon as a `start` canceled this stop job (the stop itself goes on, the start waits for it).
   */
  async stop(svc: ServiceRuntime): Promise<void> {
    this.cancelRestart(svc);
    svc.process.clearAutoRestart();
    if (svc.startJob) svc.startJob.canceled = true;
    const done = svc.process.stop();
    let cancel!: () => void;
    const canceled = new Promise<'canceled'>((resolve) => (cancel = () => resolve('canceled')));
    const job: StopJob = { done, cancel };
    svc.stopJob = job;
    try {
      const name = svc.process.name;
      if ((await Promise.race([done.then(() => 'done' as const), canceled])) === 'canceled')
        throw new ActivationError('JOB_CANCELED', `Job for ${name} canceled.`, { unit: name });
    } finally {
      if (svc.stopJob === job) delete svc.stopJob;
    }
  }

  /** The engine stops: every service stops, no restart comes after. */
  stopAll(): Array<Promise<void>> {
    const stops: Array<Promise<void>> = [];
    for (const svc of this.byName.values()) {
      this.cancelRestart(svc);
      if (svc.startJob) svc.startJob.canceled = true;
      stops.push(svc.process.stop());
    }
    return stops;
  }

  private cancelRestart(svc: ServiceRuntime): void {
    if (svc.restartTimer) {
      clearTimeout(svc.restartTimer);
      delete svc.restartTimer;
    }
  }

  private onExit(svc: ServiceRuntime, exit: ServiceExit): void {
    const { core } = this;
    core.events.emit('service-exit', exit);
    if (core.stopping) return;
    const unit = svc.process.unit;
    if (exit.restart) {
      svc.process.restarts += 1;
      const delay = usecToMs(restartDelayUsec(unit, svc.process.restarts));
      // service_enter_restart(): 257 says the counter, not the delay (fixtures/v257/exit-status force).
      core.log.info(`Scheduled restart job, restart counter is at ${svc.process.restarts}.`, {
        unit: unit.name,
      });
      svc.restartTimer = setTimeout(() => {
        delete svc.restartTimer;
        svc.process.clearAutoRestart();
        void this.start(svc, undefined, undefined, undefined, true);
      }, delay);
    }
    // The socket polls again while the service is dead or waiting for its restart (socket.c
    // socket_trigger_notify()); data queued meanwhile triggers the next start.
    for (const s of this.socketsFor(unit)) {
      if (s.state !== 'running') continue;
      if (s.unit.flushPending && !exit.restart) this.flushPending(s);
      this.sockets.enterListeningLater(s);
    }
  }

  /**
   * FlushPending=yes: connections queued while the service ran are accepted and closed
   * (socket.c flush_ports()). Datagram sockets and FIFOs would need a read the addon does not offer:
   * they keep their data (logged).
   */
  private flushPending(sock: SocketRuntime): void {
    const native = this.core.requireNative();
    for (const p of sock.ports) {
      if (p.entry.kind === 'stream' || p.entry.kind === 'seqpacket') {
        native.setNonBlocking(p.fd, true);
        for (let conn = native.accept(p.fd); conn !== null; conn = native.accept(p.fd)) native.close(conn.fd);
      } else {
        this.core.log.debug(`FlushPending=yes: ${p.entry.value} is not a stream socket, not flushed.`, {
          unit: sock.unit.name,
        });
      }
    }
  }
}

/** Resolves at the process's next state change. */
function nextState(p: ServiceProcess): Promise<void> {
  return new Promise<void>((resolve) => p.once('state', () => resolve()));
}
