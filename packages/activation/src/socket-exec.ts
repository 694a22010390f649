/**
 * A socket unit's control commands (ExecStartPre=, ExecStartPost=, ExecStopPre=, ExecStopPost=) as
 * systemd 257's socket.c runs them: socket_spawn() with the [Socket] section's exec context (User=,
 * Group=, Environment=, WorkingDirectory=, UMask=, …; not SocketUser=/SocketGroup=, which own the
 * socket nodes), one command after the other until one fails (a `-` one never does), each with
 * TimeoutSec= of its own, and the kills of the stop states (KillSignal=, then SIGKILL). What a step's
 * result does to the socket is socket-runtime.ts's. The commands run through the services' machinery
 * (service-exec.ts: credentials, environment, sandbox refusal, output, the native launcher).
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { type ExecCommand, type ServiceUnit, type SocketUnit, parseUnitText } from '@mptcp/unit';
import { messageOf } from './errors.js';
import { type ExitStatus, type ServiceChild } from './exec.js';
import { exitStatusText, spawnExitStatus } from './exit-status.js';
import type { Logger } from './logger.js';
import { sessionMembers } from './process-group.js';
import { ServiceExec } from './service-exec.js';
import type { ServiceProcessOptions } from './service-types.js';

/** systemd's SocketExecCommand names, as `Control process` log lines and results know them. */
export type SocketStep = 'start-pre' | 'start-post' | 'stop-pre' | 'stop-post';

/** How a step ended: systemd's SocketResult for it (`resources`: a command could not be spawned). */
export type StepResult = 'success' | 'exit-code' | 'signal' | 'core-dump' | 'timeout' | 'resources';

/** `%n` in a [Socket] exec setting is the socket's name (the settings are parsed as a [Service] below). */
function ownName(value: string, name: string): string {
  return value.replace(/%(.)/g, (m, c: string) => (c === 'n' ? name.replaceAll('%', '%%') : m));
}

/**
 * The [Socket] section's exec and kill settings as a ServiceUnit, for ServiceExec: the kept
 * assignments (@mptcp/unit keeps them verbatim in `extra`) parsed by the [Service] table. Keys that
 * only [Socket] has are unknown there and ignored; the diagnostics were reported when the socket loaded.
 */
export function socketExecUnit(unit: SocketUnit): ServiceUnit {
  const lines = ['[Service]', 'ExecStart=/bin/true'];
  for (const [key, values] of Object.entries(unit.extra))
    for (const v of values) lines.push(`${key}=${ownName(v, unit.name)}`);
  const name = unit.name.replace(/\.socket$/, '.service');
  const parsed = parseUnitText(lines.join('\n'), { file: unit.file, name }).unit;
  const svc =
    parsed?.kind === 'service'
      ? parsed
      : (parseUnitText('[Service]\nExecStart=/bin/true\n', { file: unit.file, name }).unit as ServiceUnit);
  return { ...svc, name: unit.name, file: unit.file, dropIns: unit.dropIns, execStart: [] };
}

/** `code=exited, status=1/FAILURE` / `code=killed, status=15/TERM`, as unit_log_process_exit(). */
export function describeControlExit(s: ExitStatus): string {
  if (s.signal !== null) {
    const n = constants.signals[s.signal] ?? 0;
    return `code=killed, status=${n}/${s.signal.replace(/^SIG/, '')}`;
  }
  return `code=exited, status=${exitStatusText(s.code ?? 0)}`;
}

/** The result of one command's exit (socket_sigchld_event(): only exit 0 is clean for a command). */
function resultOf(s: ExitStatus): StepResult {
  if (s.signal !== null) return 'signal';
  return s.code === 0 ? 'success' : 'exit-code';
}

/** What a command gets besides its exec context: PassFileDescriptorsToExec='s fds. */
export interface StepFds {
  fds: readonly number[];
  names: readonly string[];
}

/**
 * The control processes of one socket unit's run (start to dead). Our stand-in for the socket's
 * cgroup is the set of their process groups (each command leads its own): what they leave running
 * is killed at the end of the stop (socket_enter_signal(SOCKET_FINAL_SIGTERM)).
 */
export class SocketControl {
  execUnit: ServiceUnit;
  private readonly exec: ServiceExec;
  private readonly groups = new Set<number>();
  private current: { child: ServiceChild; cmd: ExecCommand } | undefined;
  private readonly log: Logger;
  invocationId: string | undefined;
  /** A stop interrupts the start: no further command of the step is run. */
  interrupted = false;
  /** The last failure logged (`Control process exited, …`, a timeout): why the unit failed. */
  lastFailure: string | undefined;

  constructor(
    public unit: SocketUnit,
    options: ServiceProcessOptions,
  ) {
    this.execUnit = socketExecUnit(unit);
    this.exec = new ServiceExec(() => this.execUnit, options);
    this.log = options.logger;
  }

  /** A daemon-reload changed the unit: its next commands run with the new settings (the run goes on). */
  redefine(unit: SocketUnit): void {
    this.unit = unit;
    this.execUnit = socketExecUnit(unit);
  }

  /** The control process now running (status: its PID). */
  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  /** TimeoutSec= in ms (0: none). */
  get timeoutMs(): number {
    const usec = this.unit.timeoutUsec;
    return usec > 0 && Number.isFinite(usec) ? Math.max(1, Math.round(usec / 1000)) : 0;
  }

  /**
   * Runs `commands` one after the other (socket_spawn(), socket_sigchld_event(), socket_run_next()),
   * each with TimeoutSec=. Resolves with the first failure (or `success`). On a timeout `onTimeout`
   * gives the step's result; the command is left running (to the kills that follow), as the
   * state's timer in socket_dispatch_timer() does. `afterSpawn` runs once the first command runs.
   */
  async run(
    commands: readonly ExecCommand[],
    fds: StepFds | undefined,
    onTimeout: () => Promise<StepResult>,
    afterSpawn?: () => void,
  ): Promise<StepResult> {
    for (const cmd of commands) {
      if (this.interrupted) break;
      let child: ServiceChild;
      try {
        child = this.spawn(cmd, fds);
      } catch (err) {
        this.fail(`Failed to spawn control process: ${messageOf(err)}`);
        afterSpawn?.();
        return 'resources';
      }
      this.current = { child, cmd };
      const spawnErr = await child.spawned;
      if (child.pid !== undefined) this.groups.add(child.pid);
      afterSpawn?.();
      afterSpawn = undefined;
      const timer = this.timeoutMs;
      const outcome = await new Promise<ExitStatus | undefined>((resolve) => {
        const t = timer > 0 ? setTimeout(() => resolve(undefined), timer) : undefined;
        void child.exited.then((status) => {
          if (t) clearTimeout(t);
          resolve(status);
        });
      });
      if (outcome === undefined) return onTimeout();
      this.current = undefined;
      const status =
        spawnErr && outcome.signal === null ? { ...outcome, code: spawnExitStatus(spawnErr) ?? 203 } : outcome;
      const result = this.exited(status, cmd);
      if (result !== 'success') return result;
    }
    return 'success';
  }

  /** unit_log_process_exit() for a control process, and its result (a `-` command's is success). */
  private exited(status: ExitStatus, cmd: ExecCommand): StepResult {
    const result = cmd.ignoreFailure ? 'success' : resultOf(status);
    const text = `Control process exited, ${describeControlExit(status)}${result === 'success' ? ' (success)' : ''}`;
    if (result === 'success') this.log.debug(text, { unit: this.unit.name, command: cmd.raw });
    else {
      this.lastFailure = text;
      this.log.warn(text, { unit: this.unit.name, command: cmd.raw });
    }
    return result;
  }

  /** Logs a failure of the state machine (a timeout, a failed spawn) as the unit's. */
  fail(message: string): void {
    this.lastFailure = message;
    this.log.warn(message, { unit: this.unit.name });
  }

  private spawn(cmd: ExecCommand, fds: StepFds | undefined): ServiceChild {
    const ids = this.invocationId ? { invocationId: this.invocationId } : {};
    if (!fds || fds.fds.length === 0) return this.exec.control(cmd, ids);
    // PassFileDescriptorsToExec=yes: the listening fds at 3…, with LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID.
    const creds = this.exec.credentials();
    const ctx = { fds: [...fds.fds], fdNames: [...fds.names] };
    const env = this.exec.environment(creds, cmd, true, ctx, ids);
    return this.exec.spawn(cmd, env, this.exec.workingDirectory(creds.user), creds, ctx);
  }

  /**
   * unit_kill_context(): `signal` to the running control process and, with KillMode=control-group
   * (mixed: the final kill only), to every process group of the run. True when something was
   * signalled. `noteworthy` (KILL_KILL: FinalKillSignal=) logs each process, as systemd does.
   */
  signal(signal: NodeJS.Signals, noteworthy = false): boolean {
    const mode = this.execUnit.killMode;
    if (mode === 'none') return false;
    let any = false;
    const child = this.current?.child;
    const group = mode === 'control-group' || (mode === 'mixed' && noteworthy);
    if (noteworthy) {
      const pids = new Set<number>(child?.pid !== undefined ? [child.pid] : []);
      if (group) for (const pgid of this.groups) for (const pid of sessionMembers(pgid)) pids.add(pid);
      for (const pid of pids)
        this.log.warn(`Killing process ${pid} (${commOf(pid)}) with signal ${signal}.`, { unit: this.unit.name });
    }
    if (child?.pid !== undefined && child.kill(signal)) any = true;
    for (const pgid of [...this.groups]) {
      if (!groupAlive(pgid)) {
        this.groups.delete(pgid);
        continue;
      }
      any = true;
      if (!group) continue;
      try {
        process.kill(-pgid, signal);
        if (signal !== 'SIGKILL' && signal !== 'SIGCONT') process.kill(-pgid, 'SIGCONT');
      } catch {
        this.groups.delete(pgid);
      }
    }
    return any;
  }

  /**
   * Resolves once the running control process has exited (its exit logged, `result` its result)
   * and every process group of the run is empty; `gone` false when `ms` ran out first. The processes
   * a command left behind are not ours to wait for: they are polled, as watchForeignExit() does.
   */
  async waitGone(ms: number): Promise<{ gone: boolean; result: StepResult }> {
    const deadline = ms > 0 ? Date.now() + ms : Infinity;
    let result: StepResult = 'success';
    const current = this.current;
    if (current) {
      let timer: NodeJS.Timeout | undefined;
      const status = await Promise.race([
        current.child.exited,
        new Promise<undefined>((resolve) => {
          if (Number.isFinite(deadline))
            timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
        }),
      ]);
      if (timer) clearTimeout(timer);
      if (status === undefined) return { gone: false, result };
      if (this.current === current) this.current = undefined;
      result = this.exited(status, current.cmd);
    }
    for (;;) {
      for (const pgid of [...this.groups]) if (!groupAlive(pgid)) this.groups.delete(pgid);
      if (this.groups.size === 0) return { gone: true, result };
      if (Date.now() >= deadline) return { gone: false, result };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** KillSignal=, RestartKillSignal= (default KillSignal=), FinalKillSignal=, SendSIGKILL= of the [Socket] section. */
  get kill(): { signal: NodeJS.Signals; restart: NodeJS.Signals; final: NodeJS.Signals; sendSigkill: boolean } {
    const u = this.execUnit;
    const signal = u.killSignal as NodeJS.Signals;
    const restart = signalName(u.extra['RestartKillSignal']?.at(-1)) ?? signal;
    return { signal, restart, final: u.finalKillSignal as NodeJS.Signals, sendSigkill: u.sendSIGKILL };
  }

  /** The run is over (socket_enter_dead()): PrivateTmp= directories and the like go. */
  release(): void {
    this.exec.releaseControlContext();
    this.groups.clear();
    this.current = undefined;
  }
}

/** RestartKillSignal='s value (`SIGTERM`, `TERM`, `15`) as a signal name; undefined when unset or unknown. */
function signalName(v: string | undefined): NodeJS.Signals | undefined {
  if (v === undefined || v === '') return undefined;
  const signals = constants.signals as Record<string, number>;
  if (/^\d+$/.test(v)) return Object.keys(signals).find((k) => signals[k] === Number(v)) as NodeJS.Signals | undefined;
  const name = v.startsWith('SIG') ? v : `SIG${v}`;
  return name in signals ? (name as NodeJS.Signals) : undefined;
}

/** The process' name (/proc/PID/comm), as systemd's kill log shows it. */
function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return 'n/a';
  }
}

/** Whether process group `pgid` still has a member. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
