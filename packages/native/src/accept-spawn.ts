/**
 * The Accept=yes fast path (addon_accept.cc): one native thread accepts on the listening sockets
 * handed to it, admits each connection (trigger limit, poll limit, MaxConnections=,
 * MaxConnectionsPerSource=), spawns a template prepared once (the same clone/exec as
 * {@link spawnProcess}, with the connection as the fds marked {@link CONNECTION_FD} and
 * INVOCATION_ID/REMOTE_ADDR/REMOTE_PORT filled in per connection), closes its copy of the
 * connection and reaps the instance through its pidfd. The caller hears about all of it in batches
 * (one event-loop wake-up for whatever happened since the last one): no JS runs between a
 * connection's accept and its service's exec.
 */
import { constants as osConstants } from 'node:os';
import { binding } from './binding.js';
import type { SockAddr } from './types.js';
import { spawnError, syscallError, type MptcpNativeError } from './errors.js';
import { nativeSpawnArgs, type ProcessExit, type SpawnProcessOptions, signalName } from './spawn.js';

/** In a template's `fds`: the accepted connection goes there. */
export const CONNECTION_FD = -2;

export interface AcceptSpawnLimits {
  /** MaxConnections=: connections (running instances) at most; the current count is `connections`. */
  maxConnections: number;
  /** MaxConnectionsPerSource= (0: off); `sources` holds the current counts per source key. */
  maxPerSource: number;
  connections?: number;
  /** Per source (the peer's address, v4-mapped IPv6 as IPv4, as @mptcp/activation's sourceKey()). */
  sources?: Readonly<Record<string, number>>;
  /** TriggerLimit*= (0: off) and its current window (monotonic µs, as process.hrtime). */
  trigger?: RateWindow;
  /** PollLimit*= (0: off): more wake-ups than the burst pause polling for the interval. */
  poll?: RateWindow;
}

export interface RateWindow {
  intervalUsec: number;
  burst: number;
  /** Start of the current window (µs, CLOCK_MONOTONIC), -1: none. */
  begin?: number;
  count?: number;
}

export interface AcceptSpawnTemplate {
  /** What each instance runs; `fds` entries are CONNECTION_FD or -1 (/dev/null). closeAfterSpawn is ignored. */
  spawn: SpawnProcessOptions;
  limits: AcceptSpawnLimits;
  /** Files whose change (inode, size, times) hands the socket back (`released`), e.g. /etc/passwd for User=. */
  watch?: readonly string[];
  /**
   * How instances are named: `<prefix>@<n>-<local>:<port>-<remote>:<port>.service` (as systemd's
   * Accept=yes instances; v4-mapped as IPv4 when both ends are), `n` counting every admitted
   * connection from `next` (default 0).
   */
  names?: { prefix: string; next?: number };
  /**
   * A cgroup v2 directory: each instance starts in `<cgroupDir>/<its name>` (made before the clone,
   * clone3 CLONE_INTO_CGROUP, else the child joins it before anything else), removed once the
   * instance exited and nothing is left in it (`exited` names a cgroup that stayed).
   */
  cgroupDir?: string;
}

export type AcceptSpawnEvent =
  | {
      type: 'started';
      listener: number;
      pid: number;
      remote: SockAddr;
      local: SockAddr;
      invocationId: string;
      /** The instance's unit name (its cgroup's with `cgroupDir`) and number (see AcceptSpawnTemplate.names). */
      name: string;
      index: number;
    }
  /** `cgroup`: the instance's cgroup, not removed because a process it left is still in it. */
  | { type: 'exited'; listener: number; pid: number; exit: ProcessExit; cgroup?: string }
  | {
      type: 'refused';
      listener: number;
      reason: 'max-connections' | 'max-connections-per-source';
      /** The count systemd's message names: connections (global), or this source's with the new one. */
      count: number;
      remote: SockAddr;
    }
  /** The trigger limit was hit: that connection was closed and the listener removed. */
  | { type: 'trigger-limit'; listener: number; remote: SockAddr }
  /** The poll limit was hit: polling paused for its interval (then resumes by itself). */
  | { type: 'poll-limit'; listener: number }
  /** accept4 EMFILE/ENFILE: paused until an instance exits, or for a second. */
  | { type: 'fds-exhausted'; listener: number; error: MptcpNativeError }
  | { type: 'accept-error'; listener: number; error: MptcpNativeError }
  | {
      type: 'spawn-failed';
      listener: number;
      error: MptcpNativeError;
      remote: SockAddr;
      local: SockAddr;
      name: string;
      index: number;
    }
  /** A watched file changed: the listener is removed before accepting; the caller takes the socket back. */
  | { type: 'released'; listener: number; path: string }
  /**
   * An instance's pidfd could not be watched (epoll_ctl, e.g. ENOSPC from fs.epoll.max_user_watches):
   * such instances are reaped by polling every 10 ms instead. Reported once per process.
   */
  | { type: 'reap-fallback'; listener: number; error: MptcpNativeError };

/** A connection admitted (and counted in the limits) whose spawn was under way when its listener was removed. */
export interface AcceptSpawnPending {
  /** Its source key (as {@link AcceptSpawnLimits.sources}). */
  source: string;
  /** Whether MaxConnectionsPerSource= counted it. */
  perSource: boolean;
}

const FIELDS = 14;
let started: ((events: AcceptSpawnEvent[]) => void) | undefined;

/** The fast path serves inet sockets only (events without a connection carry an empty inet address). */
function address(family: number, text: string, port: number, scopeId: number): SockAddr {
  if (family === 6) return { family: 'inet6', address: text, port, flowinfo: 0, scopeId };
  return { family: 'inet', address: text, port };
}

const REFUSALS = { 1: 'max-connections', 2: 'max-connections-per-source' } as const;

/** The addon's flat event list as typed events. */
function decode(flat: ReadonlyArray<number | string>): AcceptSpawnEvent[] {
  const out: AcceptSpawnEvent[] = [];
  for (let i = 0; i + FIELDS <= flat.length; i += FIELDS) {
    const type = flat[i] as number;
    const listener = flat[i + 1] as number;
    const pid = flat[i + 2] as number;
    const a = flat[i + 3] as number;
    const b = flat[i + 4] as number;
    const scope = flat[i + 11] as number;
    const remote = address(flat[i + 5] as number, flat[i + 6] as string, flat[i + 7] as number, scope);
    const local = address(flat[i + 5] as number, flat[i + 8] as string, flat[i + 9] as number, 0);
    const text = flat[i + 10] as string;
    const name = flat[i + 12] as string;
    const index = flat[i + 13] as number;
    switch (type) {
      case 1:
        out.push({ type: 'started', listener, pid, remote, local, invocationId: text, name, index });
        break;
      case 2:
        out.push({
          type: 'exited',
          listener,
          pid,
          exit: b !== 0 ? { code: null, signal: signalName(b) } : { code: a, signal: null },
          ...(name !== '' ? { cgroup: name } : {}),
        });
        break;
      case 3:
        out.push({ type: 'refused', listener, reason: REFUSALS[a as 1 | 2], count: b, remote });
        break;
      case 4:
        out.push({ type: 'trigger-limit', listener, remote });
        break;
      case 5:
        out.push({ type: 'poll-limit', listener });
        break;
      case 6:
        out.push({ type: 'fds-exhausted', listener, error: syscallError(a, { syscall: 'accept4' }) });
        break;
      case 7:
        out.push({ type: 'accept-error', listener, error: syscallError(a, { syscall: 'accept4' }) });
        break;
      case 8:
        out.push({
          type: 'spawn-failed',
          listener,
          error: spawnError(a, { syscall: text, ...(b >= 0 ? { detail: `(resource ${b})` } : {}) }),
          remote,
          local,
          name,
          index,
        });
        break;
      case 9:
        out.push({ type: 'released', listener, path: text });
        break;
      case 10:
        out.push({ type: 'reap-fallback', listener, error: syscallError(a, { syscall: 'epoll_ctl' }) });
        break;
    }
  }
  return out;
}

/**
 * Starts the fast path's thread (once per process) and routes every batch of events to `onEvents`
 * (the last caller's). Throws when the thread cannot be started.
 */
export function acceptSpawnStart(onEvents: (events: AcceptSpawnEvent[]) => void): void {
  started = onEvents;
  const r = binding().acceptorInit((flat: Array<number | string>) => started?.(decode(flat)));
  if (typeof r === 'number') throw syscallError(r, { syscall: 'pthread_create' });
}

/** Whether the loaded addon has the fast path (an older prebuild may not). */
export function acceptSpawnSupported(): boolean {
  return typeof binding().acceptorInit === 'function';
}

/**
 * Hands `listenFd` (non-blocking, still the caller's) to the thread; returns the listener id. The
 * caller must not accept on it itself until {@link acceptSpawnRemove}.
 */
export function acceptSpawnAdd(listenFd: number, t: AcceptSpawnTemplate): number {
  const envp = t.spawn.envp;
  const index = (prefix: string): number => envp.findIndex((e) => e.startsWith(prefix));
  for (const fd of t.spawn.fds)
    if (fd !== CONNECTION_FD && fd !== -1)
      throw new TypeError(`acceptSpawnAdd: fds must be CONNECTION_FD or -1, got ${fd}`);
  // An addon before it would ignore cgroupDir and start the instances in the daemon's cgroup.
  if (t.cgroupDir !== undefined && binding().acceptorCgroups !== true)
    throw spawnError(-osConstants.errno.ENOSYS, {
      syscall: 'acceptSpawnAdd',
      detail: '(cgroupDir: this build of the addon does not make cgroups; rebuild it)',
    });
  const args = nativeSpawnArgs({ ...t.spawn, closeAfterSpawn: [] }, 'acceptSpawnAdd');
  const l = t.limits;
  const r = binding().acceptorAdd(...args, listenFd, {
    invocationIndex: index('INVOCATION_ID='),
    addrIndex: index('REMOTE_ADDR='),
    portIndex: index('REMOTE_PORT='),
    maxConnections: l.maxConnections,
    maxPerSource: l.maxPerSource,
    connections: l.connections ?? 0,
    sources: { ...(l.sources ?? {}) },
    triggerIntervalUsec: l.trigger?.intervalUsec ?? 0,
    triggerBurst: l.trigger?.burst ?? 0,
    triggerBegin: l.trigger?.begin ?? -1,
    triggerCount: l.trigger?.count ?? 0,
    pollIntervalUsec: l.poll?.intervalUsec ?? 0,
    pollBurst: l.poll?.burst ?? 0,
    pollBegin: l.poll?.begin ?? -1,
    pollCount: l.poll?.count ?? 0,
    watch: [...(t.watch ?? [])],
    namePrefix: t.names?.prefix ?? '',
    nextIndex: t.names?.next ?? 0,
    ...(t.cgroupDir !== undefined ? { cgroupDir: t.cgroupDir } : {}),
  });
  if (r < 0) throw syscallError(r, { syscall: t.cgroupDir !== undefined ? 'open/epoll_ctl' : 'epoll_ctl' });
  return r;
}

/**
 * Takes the listener back, at once: the thread never accepts on its fd again. `events` are the
 * events not delivered yet (of every listener). A connection admitted whose spawn is still under
 * way (its child has not exec'd yet: it may hang before, e.g. in a chdir on a dead NFS mount) is in
 * `pending` instead, with its source as the limits count it; its `started` or `spawn-failed` event
 * comes later (numbered already: `nextIndex` counts it), as do the `exited` events of the listener's
 * running instances.
 */
export function acceptSpawnRemove(listener: number): {
  events: AcceptSpawnEvent[];
  pending: AcceptSpawnPending[];
  /** The number the listener's next instance would have had (see AcceptSpawnTemplate.names); -1: not registered. */
  nextIndex: number;
} {
  const r = binding().acceptorRemove(listener);
  if (r === false) return { events: [], pending: [], nextIndex: -1 };
  const [flat, inflight, nextIndex] = r;
  const pending: AcceptSpawnPending[] = [];
  for (let i = 0; i + 1 < inflight.length; i += 2)
    pending.push({ source: inflight[i] as string, perSource: inflight[i + 1] as boolean });
  return { events: decode(flat), pending, nextIndex };
}

/** A connection of the listener's socket that the caller admitted itself has ended: one less counted. */
export function acceptSpawnRelease(listener: number, source: string, perSource: boolean): void {
  binding().acceptorRelease(listener, source, perSource);
}

/**
 * Signals a running fast-path instance: its process group (`group`, the instance leads one: setsid)
 * or the process through its pidfd. False when it is not (or no longer) running.
 */
export function acceptSpawnKill(pid: number, signal: NodeJS.Signals | number, group: boolean): boolean {
  const n = typeof signal === 'number' ? signal : osConstants.signals[signal];
  if (n === undefined) throw new TypeError(`acceptSpawnKill: unknown signal ${String(signal)}`);
  const r = binding().acceptorKill(pid, n, group);
  if (r === -osConstants.errno.ESRCH) return false;
  if (r < 0) throw syscallError(r, { syscall: group ? 'kill' : 'pidfd_send_signal' });
  return true;
}
