/**
 * Accept=yes fast path: once a socket's first connection has been served the regular way and its
 * instance proved to be "plain" (see `fastEligible()`), the spawn that instance got — program,
 * argv, environment, credentials, exec context, stdio — becomes a template in @mptcp/native's
 * accept thread (addon_accept.cc). That thread then accepts, admits (TriggerLimit*=, PollLimit*=,
 * MaxConnections=, MaxConnectionsPerSource=, with the socket's current counts and windows handed
 * over), clones/execs each instance with its own INVOCATION_ID, REMOTE_ADDR and REMOTE_PORT, and
 * reaps it. The engine hears about it in batches and only does the bookkeeping: counters, the
 * mirrored connection limits, the instance's entry (status, stop), events and log lines.
 *
 * With cgroup tracking (cgroup.ts) the thread makes each instance's cgroup where the regular path
 * would (`<tree>/<instance unit name>`, the thread names the instances), and the child starts in it
 * (clone3 CLONE_INTO_CGROUP); the thread removes it once the instance exited and it is empty. An
 * instance that left a process behind (setsid() and a fork) keeps it populated: the engine then drains
 * it as the regular path's stop does (KillMode=, TimeoutStopSec=) and removes it. A stop signals the
 * cgroup, so it reaches such a process while the instance runs too.
 *
 * The socket goes back to the regular path whenever the engine stops polling it (stop, failure,
 * trigger limit, a reload, `released` because /etc/passwd or /etc/group changed under User=):
 * every stop of its watch takes the listener back from the thread, and the events not yet
 * delivered are handled at once, so the counts are exact on both sides of the switch.
 */
import { pullsInUnits } from './dependencies.js';
import { dynamicUser } from './dynamic-user.js';
import type { AcceptSpawnEvent, AcceptSpawnPending, SockAddr, SpawnProcessOptions } from '@mptcp/native';
import type { ServiceUnit } from '@mptcp/unit';
import type { CgroupTree, UnitCgroup } from './cgroup.js';
import { ActivationError, messageOf } from './errors.js';
import type { NativeSpawn } from './exec.js';
import { connectionInstance, instanceServiceName, prettyAddress, sourceKey } from './instance-name.js';
import type { ReadableWatch } from './native-binding.js';
import type { Logger } from './logger.js';
import { commOf } from './process-group.js';
import { resultOfUnitExit } from './restart-policy.js';
import { namespaceSettings, needsMountNamespace } from './namespace.js';
import { wantsPrivateTmp } from './private-tmp.js';
import { enforcementOf, sandboxCheck } from './sandbox.js';
import { usesSocketStdio } from './service-output.js';
import { unescapeInstance } from './templates.js';
import { describeExit } from './service-exec.js';
import { effectiveNotifyAccess, type ServiceSnapshot } from './service-types.js';
import type { ServiceState } from './service-types.js';
import type { SocketRuntime } from './socket-runtime.js';

/** The native calls of the fast path (NativeApi.acceptSpawn). */
export interface AcceptSpawnApi {
  start(onEvents: (events: AcceptSpawnEvent[]) => void): void;
  add(listenFd: number, template: import('@mptcp/native').AcceptSpawnTemplate): number;
  remove(listener: number): { events: AcceptSpawnEvent[]; pending: AcceptSpawnPending[]; nextIndex: number };
  release(listener: number, source: string, perSource: boolean): void;
  kill(pid: number, signal: NodeJS.Signals, group: boolean): boolean;
}

/** In a captured spawn's fds: the connection. */
const CONNECTION_FD = -2;

/**
 * Whether instances of `unit` can be spawned from one template: one ExecStart= and nothing else to
 * run (no ExecStartPre/Post/Stop/StopPost/Reload/Condition), nothing to watch (no notify, watchdog,
 * runtime limit, fd store), no restart, no per-start file reads (EnvironmentFile=), and nothing of
 * the instance's name in what it runs (%i, %n, … would differ per connection).
 */
export function fastEligible(unit: ServiceUnit, instance: string): boolean {
  if (unit.execStart.length !== 1) return false;
  if (actsPerStart(unit)) return false;
  if (
    unit.execStartPre.length +
      unit.execStartPost.length +
      unit.execStop.length +
      unit.execStopPost.length +
      unit.execReload.length +
      unit.execCondition.length >
    0
  )
    return false;
  if (unit.type !== 'simple' && unit.type !== 'exec') return false;
  if ((unit.restart ?? 'no') !== 'no') return false;
  if (effectiveNotifyAccess(unit) !== 'none') return false;
  if ((unit.watchdogUsec ?? 0) > 0) return false;
  if ((unit.fileDescriptorStoreMax ?? 0) > 0) return false;
  if (unit.environmentFiles.length > 0) return false;
  if (unit.pidFile !== undefined || unit.pamName !== undefined) return false;
  // DynamicUser=yes (its credentials and implied sandbox) is the regular path's.
  if (dynamicUser(unit)) return false;
  // Sandboxing we do not enforce: each start is refused (or, opted out, warned about) on the regular path.
  if (sandboxCheck(unit, enforcementOf(true)).directives.length > 0) return false;
  // A mount namespace (PrivateTmp=yes: directories per instance, created and removed by its
  // ServiceProcess; ProtectSystem=, ReadOnlyPaths=, …: a plan per spawn, namespace.ts).
  if (needsMountNamespace(namespaceSettings(unit), wantsPrivateTmp(unit))) return false;
  // `$REMOTE_ADDR`, `${INVOCATION_ID}`, … in the command line are expanded per start (exec.ts): the
  // recorded argv holds the first connection's values, so such a command never becomes a template.
  const [start] = unit.execStart;
  if (start && !start.noEnvExpand && start.argv.some((w) => w.includes('$'))) return false;
  // NonBlocking=yes: the regular path keeps O_NONBLOCK on the fd it passes (LISTEN_FDS); the thread
  // accepts blocking connections.
  if (unit.nonBlocking && !usesSocketStdio(unit)) return false;
  // A missing `-`WorkingDirectory= is checked per start (it may appear later); the template has one answer.
  if (unit.workingDirectory?.optional === true) return false;
  const { name: _name, ...rest } = unit;
  const text = JSON.stringify(rest);
  // The instance as %i/%n give it (escaped) and as %I/%f give it (unescaped, `/`-separated).
  const forms = [instance, unescapeInstance(instance)].map((f) => JSON.stringify(f).slice(1, -1));
  return !forms.some((f) => text.includes(f));
}

/** [Unit] directives that make each start of a unit a job of its own (dependencies.ts, exec-condition.ts). */
const PER_START_KEYS = ['OnFailure', 'OnSuccess', 'PartOf', 'PropagatesStopTo', 'StopPropagatedFrom'];

/**
 * Whether each instance's start does more than run its commands: 257 tests its Condition*=/Assert*=,
 * pulls in its Requires=/Wants=/BindsTo=/Upholds= (and stops its Conflicts=), and starts its
 * OnSuccess=/OnFailure= units, per connection; the accept thread does none of that.
 */
function actsPerStart(unit: ServiceUnit): boolean {
  const u = unit.unit;
  if ((u.conditions?.length ?? 0) + (u.asserts?.length ?? 0) > 0) return true;
  if (pullsInUnits(unit)) return true;
  return PER_START_KEYS.some((k) => (u.extra[k] ?? []).some((v) => v.trim() !== ''));
}

/**
 * The template of a captured spawn: the connection's fd marked, everything else as it was. Undefined
 * when a child fd is anything but the connection or /dev/null (e.g. output captured by the daemon),
 * or the environment carries something per start the thread cannot fill in (NOTIFY_SOCKET).
 */
export function templateOf(captured: SpawnProcessOptions, connFd: number): SpawnProcessOptions | undefined {
  const fds: number[] = [];
  for (const fd of captured.fds) {
    if (fd === connFd) fds.push(CONNECTION_FD);
    else if (fd === -1) fds.push(-1);
    else return undefined;
  }
  if (!fds.includes(CONNECTION_FD)) return undefined;
  if (captured.envp.some((e) => e.startsWith('NOTIFY_SOCKET=') || e.startsWith('MAINPID='))) return undefined;
  // The first instance's cgroup is its own: the thread puts each instance in its own (cgroupDir).
  const { closeAfterSpawn: _closed, cgroupFd: _cgroup, ...rest } = captured;
  return { ...rest, fds };
}

/** A NativeSpawn that records the options of its first spawn (the instance's ExecStart=). */
export function capturingSpawn(real: NativeSpawn): { spawn: NativeSpawn; captured(): SpawnProcessOptions | undefined } {
  let captured: SpawnProcessOptions | undefined;
  let calls = 0;
  const record = (options: SpawnProcessOptions): void => {
    calls += 1;
    captured = calls === 1 ? options : undefined;
  };
  const spawn: NativeSpawn = {
    spawnProcess: (options) => {
      record(options);
      return real.spawnProcess(options);
    },
    watchExit: (pidfd, cb) => real.watchExit(pidfd, cb),
    killPid: (pidfd, signal) => real.killPid(pidfd, signal),
    close: (fd) => real.close(fd),
  };
  const asyncSpawn = real.spawnProcessAsync?.bind(real);
  if (asyncSpawn)
    spawn.spawnProcessAsync = (options) => {
      record(options);
      return asyncSpawn(options);
    };
  return { spawn, captured: () => captured };
}

/** A running instance the accept thread started: what `status`, `stop UNIT` and the engine's stop need. */
export class FastInstance {
  readonly state: ServiceState = 'active';
  private readonly since = Date.now();
  private stopping = false;
  /** This stop sent KillSignal= to the whole cgroup already (the drain after the exit does not again). */
  private cgroupSignalled = false;
  private stopTimer: NodeJS.Timeout | undefined;
  private readonly exited: Promise<void>;
  private resolveExit!: () => void;

  constructor(
    readonly name: string,
    readonly pid: number,
    readonly unit: ServiceUnit,
    private readonly invocationId: string,
    private readonly api: AcceptSpawnApi,
    /** The connection limits' share of this instance, given back once it exits. */
    readonly release: () => void,
    /** Cgroup tracking: the tree the thread made the instance's cgroup in (named as the instance). */
    private readonly cgroups?: CgroupTree,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  private cgroupOf: UnitCgroup | undefined;

  /**
   * Its cgroup (cgroup tracking: the thread made it, the instance started in it). Made on first use
   * (status, stop, a cgroup left populated): most instances exit without anyone asking, and building
   * the path (cg_escape(), path.join) was a fifth of the main thread's time per connection.
   */
  get cgroup(): UnitCgroup | undefined {
    if (this.cgroups && !this.cgroupOf) this.cgroupOf = this.cgroups.unit(this.name);
    return this.cgroupOf;
  }

  get stopRequested(): boolean {
    return this.stopping;
  }

  /** `withTasks`: the Tasks: count (its cgroup's processes), as ServiceProcess.snapshot() with cgroups. */
  snapshot(withTasks = false): ServiceSnapshot {
    return {
      name: this.name,
      state: this.stopping ? 'deactivating' : 'active',
      subState: this.stopping ? 'stop-sigterm' : 'running',
      type: this.unit.type,
      pid: this.pid,
      starts: 1,
      restarts: 0,
      result: 'success',
      invocationId: this.invocationId,
      since: new Date(this.since).toISOString(),
      ...(withTasks && this.cgroup ? { tasks: this.cgroup.pids().length } : {}),
    };
  }

  /** KillSignal= (to the group unless KillMode=process/mixed), SIGKILL after TimeoutStopSec=. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      // As process-group.ts signalService(): KillMode=control-group signals the group (and sends
      // SIGCONT after it), process and mixed the main process only, none nothing.
      // With a cgroup, "the group" is the cgroup (a process that left the session is in it too).
      const u = this.unit;
      const mode = u.killMode;
      if (mode === 'none') return this.exited;
      const signal = (u.killSignal ?? 'SIGTERM') as NodeJS.Signals;
      this.signal(signal, mode === 'control-group');
      const timeoutUsec = u.timeoutStopUsec ?? 90_000_000;
      if (Number.isFinite(timeoutUsec) && timeoutUsec > 0 && (u.sendSIGKILL ?? true)) {
        this.stopTimer = setTimeout(
          () => this.signal((u.finalKillSignal ?? 'SIGKILL') as NodeJS.Signals, mode !== 'process'),
          timeoutUsec / 1000,
        );
      }
    }
    return this.exited;
  }

  /** `signal` to the main process, or to all of the instance (its cgroup, else its process group). */
  private signal(signal: NodeJS.Signals, all: boolean): void {
    const cg = this.cgroup;
    if (all && cg) {
      // cg_kill_recursive() (SIGCONT after each); SIGKILL through cgroup.kill.
      if (!(signal === 'SIGKILL' && cg.kill())) cg.signal(signal);
      this.cgroupSignalled = true;
      return;
    }
    this.api.kill(this.pid, signal, all);
    if (all && signal !== 'SIGCONT' && signal !== 'SIGKILL') this.api.kill(this.pid, 'SIGCONT', true);
  }

  reload(): Promise<void> {
    return Promise.reject(
      new ActivationError('NOT_RELOADABLE', `Job type reload is not applicable for unit ${this.name}.`, {
        unit: this.name,
      }),
    );
  }

  /**
   * The accept thread reaped it. `kept`: its cgroup was not removed (a process it left is in it):
   * what is left goes as after a regular instance's main process (service-stop.ts drainCgroup():
   * KillMode=control-group KillSignal=, SIGKILL after TimeoutStopSec=; mixed SIGKILL; process and none
   * leave it running), then the cgroup is removed. Resolves with whether that timed out; ended()
   * follows.
   */
  async onExit(kept: boolean, log: Logger): Promise<boolean> {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = undefined;
    return kept && this.cgroup ? this.drain(this.cgroup, log) : false;
  }

  /** The instance is over (its exit reported): stop() resolves. */
  ended(): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.resolveExit();
  }

  private async drain(cg: UnitCgroup, log: Logger): Promise<boolean> {
    const u = this.unit;
    const unit = this.name;
    if (!cg.populated()) {
      cg.release();
      return false;
    }
    if (u.killMode === 'process' || u.killMode === 'none') {
      for (const pid of cg.pids())
        log.info(`Unit process ${pid} (${commOf(pid)}) remains running after unit stopped.`, { unit });
      return false;
    }
    this.stopping = true;
    const timeoutUsec = u.timeoutStopUsec ?? 90_000_000;
    const wait = async (kill: () => void): Promise<boolean> => {
      const empty = cg.whenEmpty();
      kill();
      let t: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        empty.done.then(() => false),
        new Promise<boolean>((r) => {
          if (Number.isFinite(timeoutUsec) && timeoutUsec > 0) t = setTimeout(() => r(true), timeoutUsec / 1000);
        }),
      ]);
      if (t) clearTimeout(t);
      empty.cancel();
      return timedOut;
    };
    let sigkill = u.killMode === 'mixed';
    let timedOut = false;
    if (!sigkill) {
      const signalled = this.cgroupSignalled;
      sigkill = timedOut = await wait(() => {
        if (!signalled) cg.signal((u.killSignal ?? 'SIGTERM') as NodeJS.Signals);
      });
      if (timedOut) log.warn(`State 'stop-sigterm' timed out. Killing.`, { unit });
    }
    if (sigkill && (u.sendSIGKILL ?? true)) {
      const kill = (u.finalKillSignal ?? 'SIGKILL') as NodeJS.Signals;
      const killAll = (): void => {
        for (const pid of cg.pids()) log.warn(`Killing process ${pid} (${commOf(pid)}) with signal ${kill}.`, { unit });
        if (kill !== 'SIGKILL' || !cg.kill()) cg.signal(kill);
      };
      if (await wait(killAll)) log.warn('Processes still around after SIGKILL. Ignoring.', { unit });
    }
    cg.release();
    return timedOut;
  }
}

/** Each listener's handler: the thread is one per process, engines (tests run several) are many. */
const handlers = new Map<number, (ev: AcceptSpawnEvent) => void>();
const started = new WeakSet<AcceptSpawnApi>();

/** Routes an event to the engine whose listener it concerns. */
export function dispatchFast(events: readonly AcceptSpawnEvent[]): void {
  for (const ev of events) handlers.get(ev.listener)?.(ev);
}

/** Hands `listenFd` to the thread (started on first use); `onEvent` gets every event of it. */
export function addFastListener(
  api: AcceptSpawnApi,
  listenFd: number,
  template: import('@mptcp/native').AcceptSpawnTemplate,
  onEvent: (ev: AcceptSpawnEvent) => void,
): number {
  if (!started.has(api)) {
    api.start(dispatchFast);
    started.add(api);
  }
  const id = api.add(listenFd, template);
  handlers.set(id, onEvent);
  return id;
}

/**
 * Takes the listener back at once (the thread never accepts on it again) and handles what it had
 * not delivered yet. Returns the connections it had admitted whose spawn is still under way: their
 * `started`/`spawn-failed` events, like its instances' exits, still reach `onEvent` later.
 */
export function removeFastListener(
  api: AcceptSpawnApi,
  listener: number,
): { pending: AcceptSpawnPending[]; nextIndex: number } {
  const { events, pending, nextIndex } = api.remove(listener);
  dispatchFast(events);
  return { pending, nextIndex };
}

/** A socket whose connections the accept thread takes. */
export interface FastSocket {
  listener: number;
  /** The instance unit the template was captured from (status shows its file and description). */
  unit: ServiceUnit;
  /** The template object the capture came from: a reload that replaces it ends the fast path. */
  template: unknown;
  /** Cgroup tracking: the tree the thread makes the instances' cgroups in. */
  cgroups?: CgroupTree;
}

/** The text of a refusal, as the regular path words it (connection-limits.ts). */
export function refusalMessage(
  ev: Extract<AcceptSpawnEvent, { type: 'refused' }>,
  remote: SockAddr,
): { source: string; message: string } {
  const source = sourceKey(remote);
  if (ev.reason === 'max-connections')
    return { source, message: `Too many incoming connections (${ev.count}), dropping connection.` };
  return {
    source,
    message: `Too many incoming connections (${ev.count}) from source ${prettyAddress(remote) ?? source}, dropping connection.`,
  };
}

/**
 * The instance name and service of a connection the thread accepted. The thread numbers them (it
 * counts every connection it admitted, from the socket's nAccepted when it took the socket) and
 * names them as connectionInstance() would: its name is the one its cgroup has.
 */
export function nameConnection(
  sock: SocketRuntime,
  ev: { name: string; index: number; local: SockAddr; remote: SockAddr },
): { instance: string; name: string } {
  if (ev.index >= sock.nAccepted) sock.nAccepted = ev.index + 1;
  if (ev.name !== '') {
    const at = ev.name.indexOf('@');
    return { instance: ev.name.slice(at + 1, ev.name.length - '.service'.length), name: ev.name };
  }
  const instance = connectionInstance(ev.index, ev.local, ev.remote);
  return { instance, name: instanceServiceName(sock.unit.name, instance) };
}

/** How an instance's exit reads in the log and in its `service-exit` event (SuccessExitStatus= counts). */
export function exitResult(
  unit: ServiceUnit,
  exit: { code: number | null; signal: NodeJS.Signals | null },
): {
  result: ReturnType<typeof resultOfUnitExit>;
  line: string;
} {
  return {
    result: resultOfUnitExit(unit, exit.code, exit.signal, false),
    line: `Main process exited, ${describeExit(exit)}`,
  };
}

export { messageOf };
export type { ReadableWatch };
