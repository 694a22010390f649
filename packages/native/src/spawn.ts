/**
 * Process creation for activation daemons, syscall-shaped: `clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD)`
 * + execve in the addon (no fork of the whole Node heap, no shell), on the event loop's thread
 * (`spawnProcess`) or on a libuv pool thread (`spawnProcessAsync`), a pidfd for the child, exit
 * through `uv_poll` on that pidfd + `waitid(P_PIDFD)`, signals through `pidfd_send_signal`. The
 * policy (which fds, which environment, PATH lookup) is the caller's.
 */
import { constants as osConstants } from 'node:os';
import { binding, type MountStep, type PollHandle } from './binding.js';
import { check, spawnError, syscallError, type MptcpNativeError } from './errors.js';

export interface SpawnProcessOptions {
  /** Absolute path of the program (execve does no PATH lookup; do it before). */
  file: string;
  /** The complete argv, argv[0] included (it may differ from `file`). */
  argv: readonly string[];
  /** The complete environment as `NAME=value` strings; nothing of the daemon's is added. */
  envp: readonly string[];
  /** chdir() in the child, after the credentials are switched (systemd's order). Default: stay. */
  cwd?: string;
  /**
   * The child's fds: child fd i is a copy of parent fd `fds[i]`; `-1` gives /dev/null (read-write).
   * Nothing else is inherited: the child closes every fd above them before execve (close_range(),
   * systemd's close_all_fds()), CLOEXEC or not.
   */
  fds: readonly number[];
  /** setresuid() in the child: 0…4294967294 (uint32 end to end; 4294967295 is refused). */
  uid?: number;
  /** setresgid() in the child: 0…4294967294. */
  gid?: number;
  /** setgroups() in the child; default `[]` when `uid` or `gid` is given. */
  groups?: readonly number[];
  /** setsid(): own session and process group (default false). */
  setsid?: boolean;
  /** Variables appended to the environment whose value is the child's own PID, e.g. `['LISTEN_PID']`. */
  pidEnv?: readonly string[];
  /**
   * fds the addon closes itself as soon as clone() has returned a child (which then exec'd, or failed
   * a later step), on the spawning thread: e.g. a connection whose peer must see its end without
   * waiting for the event loop. Passing them gives up ownership: they are closed whatever the outcome
   * (refused arguments included), except when the spawn fails with `syscall` `mmap` or `clone`:
   * then they are left open and still the caller's (e.g. for a fallback launcher).
   */
  closeAfterSpawn?: readonly number[];
  /**
   * IgnoreSIGPIPE=: SIGPIPE is set to SIG_IGN right after every disposition is reset (it stays
   * ignored across execve, /proc/PID/status SigIgn bit 13). Default false (SIG_DFL, like every signal).
   */
  ignoreSigpipe?: boolean;
  /** UMask=: umask() in the child, 0…0o777. Default: the daemon's. */
  umask?: number;
  /**
   * Limit*=: setrlimit (prlimit64) per resource in the child, before the credentials are dropped.
   * As systemd's setrlimit_closest(): a limit above what the child may raise to (EPERM) is lowered
   * to its current hard limit; any other failure fails the spawn (`setrlimit`, with the resource).
   */
  rlimits?: Readonly<Partial<Record<RlimitResource, RlimitValue>>>;
  /**
   * Nice=: setpriority() in the child, -20…19, before the credentials are dropped. As systemd's
   * setpriority_closest(): a level below what RLIMIT_NICE allows goes as low as it allows.
   */
  nice?: number;
  /**
   * OOMScoreAdjust=: written to /proc/self/oom_score_adj in the child, -1000…1000, before the
   * credentials are dropped. EPERM/EACCES are ignored (as systemd does, e.g. in a user namespace).
   */
  oomScoreAdjust?: number;
  /**
   * The cgroup v2 the child joins: an fd of that cgroup's `cgroup.procs`, opened for writing by the
   * caller (and kept open until the spawn settled). The child writes `0` to it as its first step,
   * before `setsid` and everything else (systemd attaches a service's processes to its cgroup before
   * exec), so whatever it forks later — also after a setsid()/setpgid() — stays in that cgroup.
   * A failure fails the spawn (`cgroup`, e.g. EBUSY, ENOENT once the cgroup was removed, EACCES).
   */
  cgroupFd?: number;
  /** NoNewPrivileges=: prctl(PR_SET_NO_NEW_PRIVS) as the last step before execve. Default false. */
  noNewPrivileges?: boolean;
  /**
   * CapabilityBoundingSet=: the capabilities kept in the bounding set (bit n = capability n); every
   * other one the kernel knows is dropped (PR_CAPBSET_DROP, with CAP_SETPCAP raised meanwhile when
   * permitted) before the credentials are switched. A failure fails the spawn (`prctl` with
   * `PR_CAPBSET_DROP`). Default: the daemon's bounding set, unchanged.
   */
  capabilityBoundingSet?: bigint;
  /**
   * AmbientCapabilities=: raised in the inheritable and ambient sets before the credentials are
   * switched (those outside the bounding set are left out, as systemd does; other ambient ones are
   * lowered), kept across `uid` with PR_SET_KEEPCAPS and raised again after setresuid(), as
   * systemd's enforce_user(). A failure fails the spawn (`capset` or `prctl` PR_CAP_AMBIENT_RAISE).
   * Default: the ambient set unchanged.
   */
  ambientCapabilities?: bigint;
  /**
   * PrivateTmp=: the child gets a mount namespace of its own (unshare(CLONE_NEWNS), `/` made a
   * slave: the host's mounts propagate in, none back) with `tmp` bind-mounted on /tmp and `varTmp`
   * on /var/tmp, before the capabilities and credentials (systemd's order). The directories are the
   * caller's to create (mode 1777) and to remove. Failures: `unshare`, `mount`. Needs CAP_SYS_ADMIN.
   */
  privateTmp?: { tmp: string; varTmp: string };
  /**
   * A mount namespace built step by step (systemd's setup_namespace(); the plan is the caller's, e.g.
   * @mptcp/activation's namespace.ts for ProtectSystem=, ProtectHome=, ReadOnlyPaths=, …): the child
   * unshares CLONE_NEWNS, makes `/` a slave (the host's mounts propagate in, none back), runs the steps
   * in order with umask 0 (after `privateTmp`'s two binds when both are given), then makes `/` shared
   * inside its namespace, all before the capabilities and credentials. A step:
   * - `umount`: umount2(path, UMOUNT_NOFOLLOW) until it fails (every failure ignored);
   * - `mkdir`: mkdir(path, 0755) (every failure ignored);
   * - `bind`: mount(source, path, MS_BIND, MS_REC when `recursive`);
   * - `inaccessible`: the node of path's type (lstat; a symlink fails ELOOP) from `inaccessibleDir`
   *   (reg, dir, chr, blk, fifo, sock; a missing blk or chr node falls back as systemd's) bound on it;
   * - `tmpfs`: a tmpfs with `flags` (MS_*) and `options` (its data string);
   * - `readonly`, `noexec`, `nosuid`: mount_setattr(MOUNT_ATTR_RDONLY, _NOEXEC, _NOSUID) on the mount
   *   at path (AT_RECURSIVE when `recursive`).
   * ENOENT skips a step with `ignoreMissing`; `submount` skips ENOENT and EINVAL (a mount gone since the
   * plan was made). Any other failure fails the spawn: `unshare`, `mount`, `mount_setattr` or `lstat`
   * with the errno and the step's path. Needs CAP_SYS_ADMIN.
   */
  mounts?: readonly MountStep[];
  /** The directory of the inaccessible nodes for `inaccessible` steps (systemd's /run/systemd/inaccessible). */
  inaccessibleDir?: string;
  /**
   * CoredumpFilter=: written to /proc/self/coredump_filter (as `0x…`) right after OOMScoreAdjust=;
   * EPERM/EACCES are ignored, as systemd does; any other failure fails the spawn (`coredump_filter`).
   */
  coredumpFilter?: bigint;
  /**
   * CPUSchedulingPolicy=/CPUSchedulingPriority=/CPUSchedulingResetOnFork=: one sched_setattr() (policy:
   * SCHED_OTHER 0, FIFO 1, RR 2, BATCH 3, IDLE 5; priority 0…99; SCHED_FLAG_RESET_ON_FORK), before `nice`
   * (sched_setattr() resets the nice level). A failure fails the spawn (`sched_setattr`).
   */
  cpuScheduling?: { policy: number; priority: number; resetOnFork: boolean };
  /**
   * CPUAffinity=: sched_setaffinity() with these CPUs (0…8191), after `nice`. An empty list is passed
   * as it is (the kernel refuses it: EINVAL). A failure fails the spawn (`sched_setaffinity`).
   */
  cpuAffinity?: readonly number[];
  /**
   * IOSchedulingClass=/IOSchedulingPriority=: ioprio_set(IOPRIO_WHO_PROCESS, 0, value), value =
   * class << 13 | priority. A failure fails the spawn (`ioprio_set`).
   */
  ioprio?: number;
  /** TimerSlackNSec=: prctl(PR_SET_TIMERSLACK). A failure fails the spawn (`prctl`, PR_SET_TIMERSLACK). */
  timerSlackNsec?: bigint;
  /** Personality=: personality(), 0…0xffffffff. A failure fails the spawn (`personality`). */
  personality?: number;
}

export type { MountStep };

/** The rlimit resources, by systemd's Limit*= names in lower case (RLIMIT_NOFILE → 'nofile'). */
export const RLIMIT_RESOURCES = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  rss: 5,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
  locks: 10,
  sigpending: 11,
  msgqueue: 12,
  nice: 13,
  rtprio: 14,
  rttime: 15,
} as const;
export type RlimitResource = keyof typeof RLIMIT_RESOURCES;

/** RLIM_INFINITY (2^64-1), as `Limit*=infinity` parses. */
export const RLIM_INFINITY = 0xffffffffffffffffn;

/** One limit: soft and hard, each a number, a bigint or 'infinity' (RLIM_INFINITY). */
export interface RlimitValue {
  soft: number | bigint | 'infinity';
  hard: number | bigint | 'infinity';
}

export interface SpawnedProcess {
  pid: number;
  /** A pidfd (CLOEXEC) for the child: watch it with `watchExit`, signal it with `killPid`, then `close` it. */
  pidfd: number;
}

/** The largest valid uid/gid: 4294967295 is `(uid_t)-1`, which setresuid() reads as "no change". */
export const MAX_ID = 4294967294;

type NativeSpawnArgs = Parameters<ReturnType<typeof binding>['spawn']>;
type NativeSpawnResult = ReturnType<ReturnType<typeof binding>['spawn']>;
type NativeSpawnContext = NonNullable<NativeSpawnArgs[11]>;

const resourceNames = new Map<number, string>(
  Object.entries(RLIMIT_RESOURCES).map(([k, v]) => [v, `RLIMIT_${k.toUpperCase()}`]),
);

/** A uid/gid/group that setres[ug]id()/setgroups() cannot apply: a spawn failure (EINVAL), never a skip. */
function checkId(value: number | undefined, syscall: string, what: string): void {
  if (value === undefined || (Number.isInteger(value) && value >= 0 && value <= MAX_ID)) return;
  throw spawnError(osConstants.errno.EINVAL, {
    syscall,
    detail: `(${what} ${String(value)} is not an id 0…${MAX_ID})`,
  });
}

/** nativeArgs, closing `closeAfterSpawn` when the arguments are refused (the spawn never runs). */
function nativeArgsOwning(options: SpawnProcessOptions, name: string): NativeSpawnArgs {
  try {
    return nativeArgs(options, name);
  } catch (err) {
    for (const fd of options.closeAfterSpawn ?? []) binding().close(fd);
    throw err;
  }
}

function rlimitBig(v: number | bigint | 'infinity', what: string): bigint {
  if (v === 'infinity') return RLIM_INFINITY;
  const b = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
  if (b < 0n || b > RLIM_INFINITY)
    throw new TypeError(`rlimits: ${what} must be 0…2^64-1 or 'infinity', got ${String(v)}`);
  return b;
}

function intIn(v: number | undefined, lo: number, hi: number, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < lo || v > hi)
    throw new TypeError(`${what} must be an integer ${lo}…${hi}, got ${String(v)}`);
  return v;
}

function nativeContext(options: SpawnProcessOptions): NativeSpawnContext {
  const rlimits: (number | bigint)[] = [];
  for (const [res, value] of Object.entries(options.rlimits ?? {}) as [RlimitResource, RlimitValue | undefined][]) {
    const n = RLIMIT_RESOURCES[res];
    if (n === undefined) throw new TypeError(`rlimits: unknown resource ${JSON.stringify(res)}`);
    if (value === undefined) continue;
    const soft = rlimitBig(value.soft, `${res} soft`);
    const hard = rlimitBig(value.hard, `${res} hard`);
    if (soft > hard) throw new TypeError(`rlimits: ${res} soft ${soft} is above hard ${hard}`);
    rlimits.push(n, soft, hard);
  }
  for (const [what, v] of [
    ['capabilityBoundingSet', options.capabilityBoundingSet],
    ['ambientCapabilities', options.ambientCapabilities],
  ] as const) {
    if (v === undefined) continue;
    if (typeof v !== 'bigint' || v < 0n || v > RLIM_INFINITY) throw new TypeError(`${what} must be a bigint 0…2^64-1`);
    // An addon built before the capability steps would ignore them: a restriction never silently lost.
    if (binding().spawnCapabilities !== true)
      throw spawnError(osConstants.errno.ENOSYS, {
        syscall: 'capset',
        detail: `(${what}: this build of the addon does not apply capabilities; rebuild it)`,
      });
  }
  if (options.privateTmp !== undefined) {
    const { tmp, varTmp } = options.privateTmp;
    if (!tmp.startsWith('/') || !varTmp.startsWith('/'))
      throw new TypeError('privateTmp: tmp and varTmp must be absolute paths');
    if (binding().spawnPrivateTmp !== true)
      throw spawnError(osConstants.errno.ENOSYS, {
        syscall: 'unshare',
        detail: '(privateTmp: this build of the addon does not set up mount namespaces; rebuild it)',
      });
  }
  if (options.mounts !== undefined && options.mounts.length > 0) {
    for (const m of options.mounts) {
      if (!m.path.startsWith('/')) throw new TypeError(`mounts: path must be absolute, got ${JSON.stringify(m.path)}`);
      if (m.op === 'bind' && !m.source?.startsWith('/'))
        throw new TypeError(`mounts: a bind on ${m.path} needs an absolute source`);
    }
    if (options.mounts.some((m) => m.op === 'inaccessible') && !options.inaccessibleDir?.startsWith('/'))
      throw new TypeError('mounts: inaccessible steps need an absolute inaccessibleDir');
    if (binding().spawnMounts !== true)
      throw spawnError(osConstants.errno.ENOSYS, {
        syscall: 'unshare',
        detail: '(mounts: this build of the addon does not set up mount namespaces; rebuild it)',
      });
  }
  const sched = options.cpuScheduling;
  if (sched !== undefined) {
    intIn(sched.policy, 0, 0x7fffffff, 'cpuScheduling.policy');
    intIn(sched.priority, 0, 99, 'cpuScheduling.priority');
  }
  for (const cpu of options.cpuAffinity ?? []) intIn(cpu, 0, 8191, 'cpuAffinity[]');
  const ioprio = intIn(options.ioprio, 0, 0xffff, 'ioprio');
  const personality = intIn(options.personality, 0, 0xffffffff, 'personality');
  for (const [what, v] of [
    ['coredumpFilter', options.coredumpFilter],
    ['timerSlackNsec', options.timerSlackNsec],
  ] as const) {
    if (v !== undefined && (typeof v !== 'bigint' || v < 0n || v > RLIM_INFINITY))
      throw new TypeError(`${what} must be a bigint 0…2^64-1`);
  }
  const scheduling =
    options.coredumpFilter !== undefined ||
    sched !== undefined ||
    options.cpuAffinity !== undefined ||
    ioprio !== undefined ||
    options.timerSlackNsec !== undefined ||
    personality !== undefined;
  // An addon built before these steps would ignore them: a requested setting is never silently lost.
  if (scheduling && binding().spawnScheduling !== true)
    throw spawnError(osConstants.errno.ENOSYS, {
      syscall: 'sched_setattr',
      detail:
        '(this build of the addon does not apply CPU/IO scheduling, affinity, timer slack, coredump filter or personality; rebuild it)',
    });
  const cgroupFd = intIn(options.cgroupFd, 0, 0x7fffffff, 'cgroupFd');
  // An addon built before the cgroup step would leave the child in the daemon's cgroup.
  if (cgroupFd !== undefined && binding().spawnCgroup !== true)
    throw spawnError(osConstants.errno.ENOSYS, {
      syscall: 'cgroup',
      detail: '(cgroupFd: this build of the addon does not attach to cgroups; rebuild it)',
    });
  const umask = intIn(options.umask, 0, 0o777, 'umask');
  const nice = intIn(options.nice, -20, 19, 'nice');
  const oom = intIn(options.oomScoreAdjust, -1000, 1000, 'oomScoreAdjust');
  return {
    ignoreSigpipe: options.ignoreSigpipe ?? false,
    noNewPrivileges: options.noNewPrivileges ?? false,
    rlimits,
    ...(umask !== undefined ? { umask } : {}),
    ...(nice !== undefined ? { nice } : {}),
    ...(oom !== undefined ? { oomScoreAdjust: oom } : {}),
    ...(options.capabilityBoundingSet !== undefined ? { capabilityBoundingSet: options.capabilityBoundingSet } : {}),
    ...(options.ambientCapabilities !== undefined ? { ambientCapabilities: options.ambientCapabilities } : {}),
    ...(options.privateTmp !== undefined
      ? { privateTmp: [options.privateTmp.tmp, options.privateTmp.varTmp] as [string, string] }
      : {}),
    ...(options.mounts !== undefined && options.mounts.length > 0
      ? { mounts: options.mounts.map((m) => ({ ...m })) }
      : {}),
    ...(options.inaccessibleDir !== undefined ? { inaccessibleDir: options.inaccessibleDir } : {}),
    ...(options.coredumpFilter !== undefined ? { coredumpFilter: options.coredumpFilter } : {}),
    ...(sched !== undefined
      ? { cpuScheduling: [sched.policy, sched.priority, sched.resetOnFork] as [number, number, boolean] }
      : {}),
    ...(options.cpuAffinity !== undefined ? { cpuAffinity: [...options.cpuAffinity] } : {}),
    ...(ioprio !== undefined ? { ioprio } : {}),
    ...(options.timerSlackNsec !== undefined ? { timerSlackNsec: options.timerSlackNsec } : {}),
    ...(personality !== undefined ? { personality } : {}),
    ...(cgroupFd !== undefined ? { cgroupFd } : {}),
  };
}

/** spawn()'s arguments for the addon (also the fast path's template, accept-spawn.ts). */
export function nativeSpawnArgs(options: SpawnProcessOptions, name: string): NativeSpawnArgs {
  return nativeArgs(options, name);
}

function nativeArgs(options: SpawnProcessOptions, name: string): NativeSpawnArgs {
  if (!options.file.startsWith('/'))
    throw new TypeError(`${name}: file must be an absolute path, got ${JSON.stringify(options.file)}`);
  checkId(options.uid, 'setuid', 'uid');
  checkId(options.gid, 'setgid', 'gid');
  for (const g of options.groups ?? []) checkId(g, 'setgroups', 'group');
  const idsGiven = options.uid !== undefined || options.gid !== undefined;
  return [
    options.file,
    [...options.argv],
    [...options.envp],
    options.cwd ?? null,
    [...options.fds],
    options.uid ?? -1,
    options.gid ?? -1,
    options.groups ? [...options.groups] : idsGiven ? [] : null,
    options.setsid ?? false,
    [...(options.pidEnv ?? [])],
    [...(options.closeAfterSpawn ?? [])],
    nativeContext(options),
  ];
}

function spawned(r: NativeSpawnResult, options: SpawnProcessOptions): SpawnedProcess {
  if ('errno' in r) {
    const target =
      r.path !== undefined
        ? r.path
        : r.syscall === 'execve'
          ? options.file
          : r.syscall === 'chdir'
            ? options.cwd
            : undefined;
    const detail =
      r.resource !== undefined
        ? `(${resourceNames.get(r.resource) ?? `resource ${r.resource}`})`
        : r.option !== undefined
          ? `(${r.option}${r.capability !== undefined ? ` capability ${r.capability}` : ''})`
          : r.syscall === 'prctl'
            ? '(PR_SET_NO_NEW_PRIVS)'
            : undefined;
    throw spawnError(-r.errno, {
      syscall: r.syscall,
      ...(target !== undefined ? { path: target } : {}),
      ...(detail !== undefined ? { detail } : {}),
    });
  }
  return r;
}

/**
 * Starts a program. The child resets every signal disposition to default and unblocks all
 * signals (Node ignores SIGPIPE; the program must not inherit that unless `ignoreSigpipe`), then
 * setsid, the fds, oom_score_adj, coredump_filter, sched_setattr, setpriority, sched_setaffinity,
 * ioprio_set, PR_SET_TIMERSLACK, personality, setrlimit, umask, the capability bounding and ambient
 * sets, setgroups, setgid, setuid (ambient capabilities raised again), chdir,
 * prctl(PR_SET_NO_NEW_PRIVS), execve (systemd's exec_invoke() order). A failure in any step throws a `ProcessSpawnError` with that step as
 * `syscall` and its errno as `code`, e.g. `execve ENOENT`, `chdir EACCES`, `setuid EPERM`; no process
 * is left behind. A uid/gid/group outside 0…4294967294 fails as `EINVAL` (setuid/setgid/setgroups):
 * a requested credential change is never skipped.
 *
 * The calling thread (the event loop) waits until the child has exec'd (vfork semantics, about
 * 0.2–1 ms): a daemon that spawns per connection should use {@link spawnProcessAsync}.
 */
/** Whether the loaded addon applies `cgroupFd` (an older prebuild does not: such a spawn fails with ENOSYS). */
export function spawnCgroupSupported(): boolean {
  return binding().spawnCgroup === true;
}

export function spawnProcess(options: SpawnProcessOptions): SpawnedProcess {
  return spawned(binding().spawn(...nativeArgsOwning(options, 'spawnProcess')), options);
}

/**
 * {@link spawnProcess} without blocking the event loop: the clone/exec runs on a libuv pool thread,
 * and the promise settles once the child has exec'd (resolves) or a step failed (rejects with the
 * same typed error; no process left behind). The fds in `options.fds` must stay open until it
 * settles (close your copies afterwards, or pass them in `closeAfterSpawn`). Argument errors (relative `file`, bad ids) throw/reject
 * the same way as in the synchronous variant.
 */
export async function spawnProcessAsync(options: SpawnProcessOptions): Promise<SpawnedProcess> {
  const args = nativeArgsOwning(options, 'spawnProcessAsync');
  return spawned(await binding().spawnAsync(...args), options);
}

/** How a child ended: `code` when it exited, `signal` when a signal killed it. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const signalNames = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(osConstants.signals))
  if (!signalNames.has(n)) signalNames.set(n, name as NodeJS.Signals);

/** A signal number's name (`SIG<n>` when unknown). */
export function signalName(n: number): NodeJS.Signals {
  return signalNames.get(n) ?? (`SIG${n}` as NodeJS.Signals);
}

/**
 * `waitid(P_PIDFD, WEXITED|WNOHANG)`: reaps the child when it has exited (null while it runs). The
 * pidfd stays open; close it after the exit (and never signal through it afterwards).
 */
export function reapPid(pidfd: number): ProcessExit | null {
  const r = check(binding().pidfdWait(pidfd), { syscall: 'waitid' });
  if (r === null) return null;
  return r.signal !== 0
    ? { code: null, signal: signalNames.get(r.signal) ?? (`SIG${r.signal}` as NodeJS.Signals) }
    : { code: r.code, signal: null };
}

export interface ExitWatch {
  /** Stops watching without reaping; idempotent. */
  stop(): void;
  /** Whether the watch keeps the event loop alive (default true, like a ChildProcess). */
  ref(on: boolean): void;
}

// Active watches stay reachable: a dropped handle must not be garbage-collected (and stopped).
const watching = new Set<PollHandle>();

/**
 * Calls `callback` once when the child of `pidfd` has exited, after reaping it (`uv_poll` on the
 * pidfd, then `waitid(P_PIDFD)`; libuv's SIGCHLD handler only waits for its own children, so it
 * never takes ours). The pidfd stays open: close it in the callback.
 */
export function watchExit(
  pidfd: number,
  callback: (exit: ProcessExit | null, error: MptcpNativeError | null) => void,
): ExitWatch {
  const native = binding();
  let handle: PollHandle | undefined;
  const stop = (): void => {
    if (!handle) return;
    native.pollStop(handle);
    watching.delete(handle);
    handle = undefined;
  };
  handle = check(
    native.pollStart(pidfd, native.pollEvents.READABLE, (status) => {
      if (!handle) return;
      if (status < 0) {
        stop();
        callback(null, syscallError(-status, { syscall: 'poll' }));
        return;
      }
      let exit: ProcessExit | null;
      try {
        exit = reapPid(pidfd);
      } catch (err) {
        stop();
        callback(null, err as MptcpNativeError);
        return;
      }
      if (exit === null) return; // spurious wake-up: still running
      stop();
      callback(exit, null);
    }),
    { syscall: 'poll' },
  );
  watching.add(handle);
  return {
    stop,
    ref(on: boolean) {
      if (handle) native.pollRef(handle, on);
    },
  };
}

/**
 * `pidfd_send_signal()`: signals exactly the process of `pidfd` (no PID-reuse race). Returns false
 * when it has already exited (ESRCH); other errors throw.
 */
export function killPid(pidfd: number, signal: NodeJS.Signals | number): boolean {
  const n = typeof signal === 'number' ? signal : osConstants.signals[signal];
  if (n === undefined) throw new TypeError(`killPid: unknown signal ${String(signal)}`);
  const r = binding().pidfdSendSignal(pidfd, n);
  if (r === -osConstants.errno.ESRCH) return false;
  check(r, { syscall: 'pidfd_send_signal' });
  return true;
}

/**
 * `kill(-pgid, signal)`: signals a process group (a child started with `setsid: true` leads its own,
 * with pgid = its pid). Returns false when the group is empty (ESRCH).
 */
export function killProcessGroup(pgid: number, signal: NodeJS.Signals | number): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new TypeError(`killProcessGroup: bad process group ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}
