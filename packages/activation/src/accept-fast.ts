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
 * The socket goes back to the regular path whenever the engine stops polling it (stop, failure,
 * trigger limit, a reload, `released` because /etc/passwd or /etc/group changed under User=):
 * every stop of its watch takes the listener back from the thread, and the events not yet
 * delivered are handled at once, so the counts are exact on both sides of the switch.
 */
import { dynamicUser } from './dynamic-user.js';
import type { AcceptSpawnEvent, AcceptSpawnPending, SockAddr, SpawnProcessOptions } from '@mptcp/native';
import type { ServiceUnit } from '@mptcp/unit';
import { ActivationError, messageOf } from './errors.js';
import type { NativeSpawn } from './exec.js';
import { connectionInstance, instanceServiceName, prettyAddress, sourceKey } from './instance-name.js';
import type { ReadableWatch } from './native-binding.js';
import { resultOfExit } from './restart-policy.js';
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
  remove(listener: number): { events: AcceptSpawnEvent[]; pending: AcceptSpawnPending[] };
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
  const { closeAfterSpawn: _closed, ...rest } = captured;
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
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }

  get stopRequested(): boolean {
    return this.stopping;
  }

  snapshot(_verbose?: boolean): ServiceSnapshot {
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
    };
  }

  /** KillSignal= (to the group unless KillMode=process/mixed), SIGKILL after TimeoutStopSec=. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      // As process-group.ts signalService(): KillMode=control-group signals the group (and sends
      // SIGCONT after it), process and mixed the main process only, none nothing.
      const u = this.unit;
      const mode = u.killMode;
      if (mode === 'none') return this.exited;
      const signal = (u.killSignal ?? 'SIGTERM') as NodeJS.Signals;
      this.api.kill(this.pid, signal, mode === 'control-group');
      if (mode === 'control-group' && signal !== 'SIGCONT' && signal !== 'SIGKILL')
        this.api.kill(this.pid, 'SIGCONT', true);
      const timeoutUsec = u.timeoutStopUsec ?? 90_000_000;
      if (Number.isFinite(timeoutUsec) && timeoutUsec > 0 && (u.sendSIGKILL ?? true)) {
        this.stopTimer = setTimeout(
          () => this.api.kill(this.pid, (u.finalKillSignal ?? 'SIGKILL') as NodeJS.Signals, mode !== 'process'),
          timeoutUsec / 1000,
        );
      }
    }
    return this.exited;
  }

  reload(): Promise<void> {
    return Promise.reject(
      new ActivationError('NOT_RELOADABLE', `Job type reload is not applicable for unit ${this.name}.`, {
        unit: this.name,
      }),
    );
  }

  /** The accept thread reaped it. */
  onExit(): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.resolveExit();
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
export function removeFastListener(api: AcceptSpawnApi, listener: number): AcceptSpawnPending[] {
  const { events, pending } = api.remove(listener);
  dispatchFast(events);
  return pending;
}

/** A socket whose connections the accept thread takes. */
export interface FastSocket {
  listener: number;
  /** The instance unit the template was captured from (status shows its file and description). */
  unit: ServiceUnit;
  /** The template object the capture came from: a reload that replaces it ends the fast path. */
  template: unknown;
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

/** The instance name and service of a connection the thread accepted (numbering as the regular path's). */
export function nameConnection(
  sock: SocketRuntime,
  local: SockAddr,
  remote: SockAddr,
): { instance: string; name: string } {
  const instance = connectionInstance(sock.nAccepted, local, remote);
  sock.nAccepted += 1;
  return { instance, name: instanceServiceName(sock.unit.name, instance) };
}

/** How an instance's exit reads in the log and in its `service-exit` event. */
export function exitResult(exit: { code: number | null; signal: NodeJS.Signals | null }): {
  result: ReturnType<typeof resultOfExit>;
  line: string;
} {
  return { result: resultOfExit(exit.code, exit.signal), line: `Main process exited, ${describeExit(exit)}` };
}

export { messageOf };
export type { ReadableWatch };
