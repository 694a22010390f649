/**
 * Loads the C++ addon with node-gyp-build: build/Release first (a local compile), then the
 * prebuild shipped in prebuilds/<platform>-<arch>/. The addon is loaded lazily, once; when nothing
 * loads, every caller gets one MptcpSocketError that says what is missing.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from './package-root.js';
import { MptcpSocketError } from './errors.js';

/** A syscall result: the value, or a negative errno. */
export type Result<T> = T | number;

/** Address object as the addon returns it (a family the addon does not decode is 'unknown'). */
export type NativeSockAddr =
  | { family: 'inet'; address: string; port: number }
  | { family: 'inet6'; address: string; port: number; flowinfo: number; scopeId: number }
  | { family: 'unix'; path: string; abstract: boolean }
  | { family: 'vsock'; cid: number; port: number }
  | { family: 'unknown'; af: number };

/** Address object the addon accepts for bind()/connect(). */
export type NativeSockAddrIn =
  | { family: 'inet'; address: string; port: number }
  | { family: 'inet6'; address: string; port: number; flowinfo?: number; scopeId?: number }
  | { family: 'unix'; path: string; abstract: boolean }
  | { family: 'vsock'; cid: number; port: number };

/** acceptorAdd()'s per-listener settings (accept-spawn.ts). */
export interface AcceptorConfig {
  invocationIndex: number;
  addrIndex: number;
  portIndex: number;
  maxConnections: number;
  maxPerSource: number;
  connections: number;
  sources: Record<string, number>;
  triggerIntervalUsec: number;
  triggerBurst: number;
  triggerBegin: number;
  triggerCount: number;
  pollIntervalUsec: number;
  pollBurst: number;
  pollBegin: number;
  pollCount: number;
  watch: string[];
  /** Instances are named `<namePrefix>@<n>-….service`, n from nextIndex. */
  namePrefix: string;
  nextIndex: number;
  /** Each instance in a cgroup `<cgroupDir>/<its name>`. */
  cgroupDir?: string;
}

export interface NativeConstants {
  readonly [name: string]: number;
}

/** spawn()'s result: the child, or the failed step with its negative errno. */
export type SpawnResult =
  | { pid: number; pidfd: number }
  | { errno: number; syscall: string; resource?: number; option?: string; capability?: number; path?: string };

/** spawn()'s exec context: rlimits is [resource, soft, hard, …] with BigInt values (2^64-1 = infinity). */
export interface SpawnContext {
  ignoreSigpipe: boolean;
  noNewPrivileges: boolean;
  rlimits: (number | bigint)[];
  umask?: number;
  nice?: number;
  oomScoreAdjust?: number;
  /** CapabilityBoundingSet=: the capabilities kept (bit n = capability n); absent: keep all. */
  capabilityBoundingSet?: bigint;
  /** AmbientCapabilities=: the capabilities raised; absent: leave the ambient set alone. */
  ambientCapabilities?: bigint;
  /** PrivateTmp=: [tmp, varTmp] bind-mounted on /tmp and /var/tmp in a new mount namespace. */
  privateTmp?: [string, string];
  /** The mount namespace's steps (spawn.ts MountStep), after privateTmp's. */
  mounts?: MountStep[];
  /** The directory of the inaccessible nodes (reg, dir, chr, blk, fifo, sock) for `inaccessible` steps. */
  inaccessibleDir?: string;
  /** CoredumpFilter=: the mask written to /proc/self/coredump_filter. */
  coredumpFilter?: bigint;
  /** CPUScheduling*=: [policy, priority, resetOnFork] for sched_setattr(). */
  cpuScheduling?: [number, number, boolean];
  /** CPUAffinity=: the CPU numbers of the mask for sched_setaffinity(). */
  cpuAffinity?: number[];
  /** IOScheduling*=: the ioprio_set() value (class << 13 | data). */
  ioprio?: number;
  /** TimerSlackNSec=: prctl(PR_SET_TIMERSLACK). */
  timerSlackNsec?: bigint;
  /** Personality=: personality(). */
  personality?: number;
  /** An fd of a cgroup v2 cgroup.procs, open for writing: the child writes "0" to it first (joins that cgroup). */
  cgroupFd?: number;
}

/** One step of a child's mount namespace (spawn.ts SpawnProcessOptions.mounts). */
export interface MountStep {
  op: 'umount' | 'mkdir' | 'bind' | 'inaccessible' | 'tmpfs' | 'readonly' | 'noexec' | 'nosuid';
  path: string;
  source?: string;
  options?: string;
  flags?: number;
  recursive?: boolean;
  ignoreMissing?: boolean;
  submount?: boolean;
}

/** Opaque uv_poll handle. */
export interface PollHandle {
  readonly __pollHandle: unique symbol;
}

/** Opaque splice relay handle. */
export interface SpliceRelayHandle {
  readonly __spliceRelayHandle: unique symbol;
}

/** One socket of openStreamListeners(): int options as (level, optname, value) triples. */
export interface StreamListenerSpec {
  af: number;
  protocol: number;
  address: NativeSockAddrIn;
  backlog: number;
  pre: Int32Array;
  post: Int32Array;
}

/** The functions the addon exports (src/addon_*.cc). Each returns its result or -errno. */
export interface NativeBinding {
  /** Absent in an addon built before it (open-socket.ts then opens one socket at a time). */
  openStreamListeners?(specs: StreamListenerSpec[]): Int32Array;
  /** Start-up helpers (addon_startup.cc, startup.ts); absent in an addon built before them. */
  reserveFds?(count: number): boolean;
  mallocTrim?(): boolean;
  readSmallFiles?(paths: string[], max: number): { data: Buffer; lengths: Int32Array };
  setV8Flags?(flags: string): boolean;
  socket(domain: number, type: number, protocol: number): Result<number>;
  bind(fd: number, address: NativeSockAddrIn, mode?: number): number;
  listen(fd: number, backlog: number): number;
  /** Absent from an addon built before it was added (a stale build/). */
  shutdown?(fd: number, how: number): number;
  connect(fd: number, address: NativeSockAddrIn): number;
  accept(fd: number): Result<{ fd: number; local: NativeSockAddr; remote: NativeSockAddr } | null>;
  close(fd: number): number;
  getsockname(fd: number): Result<NativeSockAddr>;
  getpeername(fd: number): Result<NativeSockAddr>;
  getsockoptInt(fd: number, level: number, name: number): Result<{ value: number }>;
  getsockoptBuffer(fd: number, level: number, name: number, inout: Buffer): Result<Buffer>;
  setsockoptInt(fd: number, level: number, name: number, value: number): number;
  setsockoptBuffer(fd: number, level: number, name: number, value: Buffer): number;
  setNonBlocking(fd: number, on: boolean): number;
  setCloexec(fd: number, on: boolean): number;
  fdFlags(fd: number): Result<{ nonBlocking: boolean; cloexec: boolean }>;
  dup(fd: number): number;
  send(fd: number, data: Buffer): number;
  dup3(oldfd: number, newfd: number): number;
  peerCredentials(fd: number): Result<{ pid: number; uid: number; gid: number }>;
  pollStart(fd: number, events: number, callback: (status: number, events: number) => void): Result<PollHandle>;
  pollStop(handle: PollHandle): void;
  pollRef(handle: PollHandle, on: boolean): void;
  netlinkRequest(protocol: number, message: Buffer): Result<Buffer[]>;
  mptcpFullInfo(
    fd: number,
    maxSubflows: number,
    sfinfoSize: number,
    tcpinfoSize: number,
  ): Result<{ header: Buffer; subflowInfo: Buffer; tcpInfo: Buffer }>;
  /** true when spawn() applies the context's capability sets (an addon built before it ignores them). */
  spawnCapabilities?: boolean;
  /** true when spawn() applies the context's privateTmp. */
  spawnPrivateTmp?: boolean;
  /** spawn()'s context.cgroupFd is applied (absent in builds before it). */
  spawnCgroup?: boolean;
  /** true when spawn() applies the context's mounts. */
  spawnMounts?: boolean;
  /** true when spawn() applies the context's coredumpFilter, cpuScheduling, cpuAffinity, ioprio, timerSlackNsec, personality. */
  spawnScheduling?: boolean;
  spawn(
    file: string,
    argv: string[],
    envp: string[],
    cwd: string | null,
    fds: number[],
    uid: number,
    gid: number,
    groups: number[] | null,
    setsid: boolean,
    pidEnv: string[],
    closeAfter?: number[],
    context?: SpawnContext,
  ): SpawnResult;
  /** spawn() on a libuv pool thread (same arguments). */
  spawnAsync(...args: Parameters<NativeBinding['spawn']>): Promise<SpawnResult>;
  /** mknodat(dirfd | AT_FDCWD, path, mode incl. S_IFIFO…, dev): the mode is applied exactly (no umask). */
  mknodat(dirfd: number, path: string, mode: number, dev: number): number;
  /** netlinkRequest() on a libuv pool thread (waits there up to 5 s for the reply). */
  netlinkRequestAsync(protocol: number, message: Buffer): Promise<Result<Buffer[]>>;
  /** A non-blocking AF_NETLINK socket bound with nl_pid 0 and joined to `groups`. */
  netlinkSubscribe(protocol: number, groups: number[]): Result<number>;
  /** Zero-copy relay between two stream sockets; owns both fds once it returns a handle. */
  spliceRelay(
    fdA: number,
    fdB: number,
    callback: (errno: number, aToB: number, bToA: number) => void,
  ): Result<SpliceRelayHandle>;
  spliceRelayAbort(handle: SpliceRelayHandle): void;
  spliceRelayRef(handle: SpliceRelayHandle, on: boolean): void;
  pidfdWait(pidfd: number): Result<{ pid: number; code: number; signal: number } | null>;
  pidfdSendSignal(pidfd: number, signal: number): number;
  /** The Accept=yes fast path (addon_accept.cc, accept-spawn.ts). */
  acceptorInit(callback: (events: Array<number | string>) => void): true | number;
  acceptorAdd(...args: [...Parameters<NativeBinding['spawn']>, number, AcceptorConfig]): number;
  acceptorRemove(id: number): false | [Array<number | string>, Array<string | boolean>, number];
  acceptorRelease(id: number, source: string, perSource: boolean): void;
  acceptorKill(pid: number, signal: number, group: boolean): number;
  acceptorDrain(): Array<number | string>;
  /** acceptorAdd() takes config.cgroupDir (absent in builds before it). */
  acceptorCgroups?: boolean;
  readonly constants: NativeConstants;
  readonly pollEvents: { READABLE: number; WRITABLE: number; DISCONNECT: number };
}

/** The package root (dist/.. or src/..), where build/ and prebuilds/ live. */
export { packageRoot };

let cached: NativeBinding | undefined;
let loadError: MptcpSocketError | undefined;

function load(): NativeBinding {
  const require = createRequire(join(packageRoot, 'package.json'));
  // A development build elsewhere (e.g. one not yet in prebuilds/): MPTCP_NATIVE_ADDON=/path/x.node.
  const override = process.env.MPTCP_NATIVE_ADDON;
  if (override) return require(override) as NativeBinding;
  // node-gyp-build's first choice (a build from source in build/Release), without loading
  // node-gyp-build and its directory probing: ~5 ms less CPU per process start.
  if (!process.env.PREBUILDS_ONLY) {
    const local = join(packageRoot, 'build', 'Release', 'mptcp_native.node');
    if (existsSync(local)) return require(local) as NativeBinding;
  }
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  return nodeGypBuild(packageRoot) as NativeBinding;
}

/** The addon, or throws MPTCP_ADDON_UNAVAILABLE naming what is missing. */
export function binding(): NativeBinding {
  if (cached) return cached;
  if (loadError) throw loadError;
  try {
    cached = load();
    return cached;
  } catch (cause) {
    const detail = (cause instanceof Error ? cause.message : String(cause)).replace(/\s*\n\s*/g, ' ');
    loadError = new MptcpSocketError({
      code: 'MPTCP_ADDON_UNAVAILABLE',
      message:
        `@mptcp/native: the native addon could not be loaded for ${process.platform}-${process.arch} ` +
        `(looked for build/Release/mptcp_native.node and prebuilds/${process.platform}-${process.arch}/*.node ` +
        `under ${packageRoot}). Build it from source with \`npm rebuild @mptcp/native\` ` +
        `(needs python3, make and a C++ compiler) — cause: ${detail}`,
      cause,
    });
    throw loadError;
  }
}

/** Whether the addon loads (no throw). */
export function bindingAvailable(): boolean {
  try {
    binding();
    return true;
  } catch {
    return false;
  }
}

/** A constant from the system headers, as compiled into the addon. */
export function sysconst(name: string): number {
  const v = binding().constants[name];
  if (v === undefined) throw new Error(`@mptcp/native: unknown constant ${name}`);
  return v;
}
