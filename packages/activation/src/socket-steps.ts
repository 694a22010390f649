/**
 * The start and stop of a socket unit with control commands, as systemd 257's socket.c:
 *
 * - start: ExecStartPre= (state start-pre; nothing is open yet), the listeners opened, ExecStartPost=
 *   (start-post; open, not polled), then listening. A failing ExecStartPre= (or its timeout) ends
 *   the start at once: its processes are killed (final-sigterm) and the unit is failed, without
 *   ExecStopPre=/ExecStopPost= (socket_enter_signal(SOCKET_FINAL_SIGTERM)); one that cannot be
 *   spawned: failed (resources). A listener that cannot be opened, or a failing ExecStartPost=,
 *   takes the stop path.
 * - stop: ExecStopPre= (stop-pre; the fds still open, not polled; a timeout kills it with
 *   FinalKillSignal= at once, as 257's STOP_PRE_SIGTERM does, RestartKillSignal= for a restart), the
 *   fds closed, ExecStopPost= (stop-post), what the commands left running killed (final-sigterm:
 *   KillSignal=, final-sigkill), then dead (or failed, with the first failure's result).
 *
 * Results: exit-code, signal, timeout (TimeoutSec=, per command), resources; a `-` command's failure
 * is ignored. A socket without such commands never comes here (socket-runtime.ts opens and closes
 * it at once, as before).
 */
import { failedToStartLine } from './job-messages.js';
import { errnoMessage } from '@mptcp/constants';
import type { SocketUnit } from '@mptcp/unit';
import type { EngineCore } from './engine-core.js';
import type { SocketResult, StartReport } from './engine-types.js';
import { invocationId } from './environment.js';
import { ActivationError, messageOf } from './errors.js';
import { closePorts } from './open-listen.js';
import { SocketControl, type StepFds } from './socket-exec.js';
import type { Carried, SocketRuntime, SocketRuntimes } from './socket-runtime.js';

/**
 * socket.c's warning when the listeners cannot be opened: `Failed to listen on sockets: <strerror>`
 * (fixtures/v257/activation.json m.socket: `Protocol not supported`), the errno of the failure.
 */
export function listenFailedLine(err: unknown): string {
  const errno = err instanceof ActivationError ? err.errno : undefined;
  return `Failed to listen on sockets: ${errno !== undefined ? errnoMessage(errno) : messageOf(err)}`;
}

/** Whether `unit` has ExecStartPre=, ExecStartPost=, ExecStopPre= or ExecStopPost=. */
export function hasExecCommands(unit: SocketUnit): boolean {
  return unit.execStartPre.length + unit.execStartPost.length + unit.execStopPre.length + unit.execStopPost.length > 0;
}

const STARTING = new Set(['start-pre', 'start-post']);
const STOPPING = new Set([
  'stop-pre',
  'stop-pre-sigterm',
  'stop-pre-sigkill',
  'stop-post',
  'final-sigterm',
  'final-sigkill',
]);

export class SocketSteps {
  private readonly underway = new Set<Promise<void>>();

  constructor(
    private readonly core: EngineCore,
    private readonly table: SocketRuntimes,
  ) {}

  /** Resolves once every start and stop under way is over. */
  async settled(): Promise<void> {
    while (this.underway.size > 0) await Promise.all([...this.underway]);
  }

  private track(sock: SocketRuntime, work: Promise<void>): Promise<void> {
    const done = work.catch((err: unknown) => {
      this.core.log.error(`Socket state machine failed: ${messageOf(err)}`, { unit: sock.unit.name });
    });
    const p = done.finally(() => {
      this.underway.delete(p);
      if (sock.busy === p) delete sock.busy;
    });
    this.underway.add(p);
    sock.busy = p;
    return p;
  }

  private controlOf(sock: SocketRuntime): SocketControl {
    sock.control ??= new SocketControl(sock.unit, this.core.serviceOptions());
    if (sock.control.unit !== sock.unit) sock.control.redefine(sock.unit);
    return sock.control;
  }

  /** socket_start(): a new runtime for `unit`, started; the outcome goes into `report` when settled. */
  start(unit: SocketUnit, report: StartReport, carried?: Carried): void {
    const sock = this.table.create(unit, carried);
    void this.track(sock, this.startSteps(sock, report));
  }

  private async startSteps(sock: SocketRuntime, report: StartReport): Promise<void> {
    const { unit } = sock;
    const { log } = this.core;
    try {
      this.table.checkStart(unit);
    } catch (err) {
      // socket_start() refuses before anything runs: no command, the socket stays inactive (dead).
      const code = err instanceof ActivationError ? err.code : undefined;
      log.error(messageOf(err), { unit: unit.name });
      log.error(failedToStartLine(unit.name, unit.unit.description), { unit: unit.name, bare: true });
      sock.error = messageOf(err);
      report.failed.push({ unit: unit.name, error: messageOf(err), ...(code ? { code } : {}) });
      return;
    }
    const control = this.controlOf(sock);
    control.invocationId = invocationId();
    const failed = (canceled = false): void => {
      // job_emit_done_message(): the start job failed (a stop that came first canceled it: no line).
      if (!canceled) log.error(failedToStartLine(unit.name, unit.unit.description), { unit: unit.name, bare: true });
      report.failed.push({
        unit: unit.name,
        error: sock.error ?? `Failed with result '${sock.result}'.`,
        code: 'EXEC_FAILED',
      });
    };
    if (unit.execStartPre.length > 0) {
      this.table.setState(sock, 'start-pre');
      const r = await control.run(unit.execStartPre, undefined, async () => {
        control.fail('Starting timed out. Terminating.');
        return 'timeout';
      });
      if (sock.stopRequested) {
        await this.stopSteps(sock, r, true);
        return failed(true);
      }
      if (r === 'resources') {
        // socket_enter_start_pre(): a command that could not be spawned is dead at once.
        this.enterDead(sock, r);
        return failed();
      }
      if (r !== 'success') {
        await this.finalKill(sock, r);
        return failed();
      }
    }
    // socket_enter_start_chown(): the listeners.
    try {
      this.table.openPorts(sock);
    } catch (err) {
      log.error(messageOf(err), { unit: unit.name });
      log.warn(listenFailedLine(err), { unit: unit.name });
      control.lastFailure = messageOf(err);
      await this.stopSteps(sock, 'resources');
      return failed();
    }
    if (unit.execStartPost.length > 0) {
      this.table.setState(sock, 'start-post');
      const r = await control.run(unit.execStartPost, this.passedFds(sock), async () => {
        control.fail('Starting timed out. Stopping.');
        return 'timeout';
      });
      if (sock.stopRequested) {
        await this.stopSteps(sock, r, true);
        return failed(true);
      }
      if (r !== 'success') {
        await this.stopSteps(sock, r);
        return failed();
      }
    }
    if (this.core.stopping) {
      await this.stopSteps(sock, 'success');
      return;
    }
    this.table.enterListening(sock);
    report.listening.push(unit.name);
  }

  /**
   * socket_stop(): a listening socket goes through the stop states; one starting has its command
   * killed and then runs ExecStopPost= (STOP_PRE_SIGTERM); one already stopping is waited for.
   * `restart`: the stop of a restart, whose kills use RestartKillSignal= (KILL_RESTART).
   */
  async requestStop(sock: SocketRuntime, restart = false): Promise<void> {
    if (STARTING.has(sock.state)) {
      sock.stopRequested = true;
      const control = this.controlOf(sock);
      control.interrupted = true;
      const { restart: restartSignal, final } = control.kill;
      if (control.signal(restart ? restartSignal : final, !restart)) this.table.setState(sock, 'stop-pre-sigterm');
      await sock.busy;
      return;
    }
    if (STOPPING.has(sock.state)) {
      await sock.busy;
      return;
    }
    if (!hasExecCommands(sock.unit) || (sock.state !== 'listening' && sock.state !== 'running')) {
      this.table.close(sock);
      return;
    }
    await this.track(sock, this.stopSteps(sock, 'success', false, restart));
  }

  /** socket_enter_stop_pre() for a serving socket that fails (trigger limit, service start limit, poll error). */
  stop(sock: SocketRuntime, result: SocketResult): void {
    void this.track(sock, this.stopSteps(sock, result));
  }

  /**
   * ExecStopPre=, the fds closed, ExecStopPost=, the final kills, dead or failed. `killing`: the stop
   * interrupted a start: its command is being killed (STOP_PRE_SIGTERM), ExecStopPre= is skipped.
   */
  private async stopSteps(sock: SocketRuntime, f: SocketResult, killing = false, restart = false): Promise<void> {
    const { unit } = sock;
    const control = this.controlOf(sock);
    let result = f;
    const first = (r: SocketResult): void => {
      if (result === 'success') result = r;
    };
    control.interrupted = false;
    this.table.unwatch(sock);
    if (sock.fdWait) {
      clearTimeout(sock.fdWait);
      delete sock.fdWait;
    }
    if (killing) {
      first(await this.killStopPre(sock, control, restart));
    } else if (unit.execStopPre.length > 0) {
      this.table.setState(sock, 'stop-pre', result);
      first(
        await control.run(unit.execStopPre, this.passedFds(sock), async () => {
          control.fail('Stopping timed out. Terminating.');
          await this.killStopPre(sock, control, restart);
          return 'timeout';
        }),
      );
    }
    // socket_set_state(SOCKET_STOP_POST) closes the fds once ExecStopPost= is spawned (with
    // PassFileDescriptorsToExec= it has its copies); without it nothing keeps them.
    if (unit.execStopPost.length > 0) {
      this.table.setState(sock, 'stop-post', result);
      const fds = this.passedFds(sock);
      if (!fds) this.closeFds(sock);
      first(
        await control.run(
          unit.execStopPost,
          fds,
          async () => {
            control.fail('Stopping timed out (2). Terminating.');
            return 'timeout';
          },
          () => this.closeFds(sock),
        ),
      );
    }
    this.closeFds(sock);
    await this.finalKill(sock, result);
  }

  /**
   * STOP_PRE_SIGTERM, STOP_PRE_SIGKILL: the running command killed; its exit's result. As 257's
   * state_to_kill_operation(), STOP_PRE_SIGTERM is KILL_KILL (FinalKillSignal=, each process logged)
   * unless the stop is a restart's (RestartKillSignal=).
   */
  private async killStopPre(sock: SocketRuntime, control: SocketControl, restart: boolean): Promise<SocketResult> {
    const { restart: restartSignal, final, sendSigkill } = control.kill;
    if (!control.signal(restart ? restartSignal : final, !restart)) return 'success';
    this.table.setState(sock, 'stop-pre-sigterm');
    let w = await control.waitGone(control.timeoutMs);
    if (w.gone) return w.result;
    if (!sendSigkill) {
      control.fail('Stopping timed out. Skipping SIGKILL. Ignoring.');
      return 'timeout';
    }
    control.fail('Stopping timed out. Killing.');
    control.signal(final, true);
    this.table.setState(sock, 'stop-pre-sigkill');
    w = await control.waitGone(control.timeoutMs);
    if (!w.gone) control.fail('Processes still around after SIGKILL. Ignoring.');
    return w.gone ? w.result : 'timeout';
  }

  /** FINAL_SIGTERM, FINAL_SIGKILL: what is left of the run's processes, then dead. */
  private async finalKill(sock: SocketRuntime, f: SocketResult): Promise<void> {
    const control = this.controlOf(sock);
    let result = f;
    const first = (r: SocketResult): void => {
      if (result === 'success') result = r;
    };
    const { signal, sendSigkill } = control.kill;
    if (control.signal(signal)) {
      this.table.setState(sock, 'final-sigterm', result);
      const w = await control.waitGone(control.timeoutMs);
      first(w.result);
      if (!w.gone) {
        if (!sendSigkill) {
          control.fail('Stopping timed out (2). Skipping SIGKILL. Ignoring.');
          first('timeout');
        } else {
          control.fail('Stopping timed out (2). Killing.');
          first('timeout');
          if (control.signal(control.kill.final, true)) {
            this.table.setState(sock, 'final-sigkill', result);
            const k = await control.waitGone(control.timeoutMs);
            if (!k.gone) control.fail('Still around after SIGKILL (2). Entering failed mode.');
          }
        }
      }
    }
    this.enterDead(sock, result);
  }

  /** socket_enter_dead(): `Deactivated successfully.` or `Failed with result '…'.`. */
  private enterDead(sock: SocketRuntime, result: SocketResult): void {
    const control = sock.control;
    this.closeFds(sock);
    sock.lent = false;
    delete sock.stopRequested;
    const why = control?.lastFailure;
    control?.release();
    delete sock.control;
    if (result === 'success') {
      this.core.log.info('Deactivated successfully.', { unit: sock.unit.name });
      this.table.setState(sock, 'dead', 'success');
      return;
    }
    this.core.log.warn(`Failed with result '${result}'.`, { unit: sock.unit.name });
    sock.error ??= why ? `${why}; failed with result '${result}'` : `Failed with result '${result}'.`;
    this.table.setState(sock, 'failed', result);
  }

  private closeFds(sock: SocketRuntime): void {
    if (sock.ports.length === 0) return;
    closePorts(sock.ports, this.core.requireNative(), sock.unit.removeOnStop);
    sock.ports = [];
  }

  /** PassFileDescriptorsToExec=yes: the open listeners, each named FileDescriptorName= (or the unit's name). */
  private passedFds(sock: SocketRuntime): StepFds | undefined {
    if (!sock.unit.passFileDescriptorsToExec || sock.ports.length === 0) return undefined;
    const name = sock.unit.fileDescriptorName ?? sock.unit.name;
    return { fds: sock.ports.map((p) => p.fd), names: sock.ports.map(() => name) };
  }
}
