/**
 * The syscalls the engine needs from @mptcp/native, behind one small interface. The engine takes an
 * implementation in its options (tests and benchmarks can count calls), and otherwise loads the real
 * addon on first use — so that importing @mptcp/activation never loads a .node file by itself.
 */
import type {
  AcceptedConnection,
  OpenSocketSpec,
  OpenedSocket,
  PeerCredentials,
  ReceivedDatagram,
} from '@mptcp/native';
import { ActivationError, messageOf } from './errors.js';
import type { NativeSpawn } from './exec.js';
import type { FdStorePrimitives } from './fd-store.js';
import type { AcceptSpawnApi } from './accept-fast.js';

/** A readiness watch on one fd; `stop()` is idempotent. */
export interface ReadableWatch {
  stop(): void;
}

export interface NativeApi {
  openSocket(spec: OpenSocketSpec): OpenedSocket;
  /**
   * Many listeners in one call (start-up): an entry per spec, undefined for the specs openSocket()
   * must open (every one from the first it could not). Absent: one openSocket() per listener.
   */
  openSockets?: (specs: readonly OpenSocketSpec[]) => Array<OpenedSocket | undefined>;
  /**
   * Calls `onReadable(null)` each time the fd polls readable (level-triggered), until stopped;
   * `onReadable(error)` once if polling fails (the watch is then stopped).
   */
  watchReadable(fd: number, onReadable: (error: Error | null) => void): ReadableWatch;
  /** accept4(SOCK_NONBLOCK|SOCK_CLOEXEC); null when nothing is queued (EAGAIN). */
  accept(fd: number): AcceptedConnection | null;
  close(fd: number): void;
  setNonBlocking(fd: number, on: boolean): void;
  setCloexec(fd: number, on: boolean): void;
  socketProtocol(fd: number): number;
  peerCredentials(fd: number): PeerCredentials | null;
  /**
   * Process creation without fork() (clone + execve in the addon). Absent: services are started with
   * child_process.spawn and a /bin/sh wrapper instead (see exec.ts).
   */
  spawn?: NativeSpawn;
  /**
   * recvmsg() of one datagram with the sender's credentials and fds (the notify socket); null when
   * none is queued. Absent when the addon predates it: the daemon then offers no NOTIFY_SOCKET.
   */
  receiveDatagram?: (fd: number) => ReceivedDatagram | null;
  /** A connected AF_UNIX stream pair (service output capture). */
  socketPair?: () => [number, number];
  /** Hang-up watch and same-open-file test of the fd store (FDPOLL=, duplicates); absent in an older addon. */
  fdStore?: FdStorePrimitives;
  /** fcntl(F_DUPFD_CLOEXEC): a second reference to an open file (a connection kept for control commands). */
  dup?: (fd: number) => number;
  /** The Accept=yes fast path (accept-fast.ts); absent in an older addon or with the node launcher. */
  acceptSpawn?: AcceptSpawnApi;
  /** `spawn` places children in a cgroup (`cgroupFd`); false in an older addon or with the node launcher. */
  spawnCgroup?: boolean;
  /** pidfds of processes that are not our children (foreign-exit.ts, the notify socket); absent in an older addon. */
  pidfd?: PidfdApi;
  /** SO_PASSPIDFD on the notify socket: false when the kernel has none (before 6.5); absent in an older addon. */
  passPidfd?: (fd: number) => boolean;
}

/** What the engine does with pidfds of processes that are not its children (@mptcp/native pidfd.ts). */
export interface PidfdApi {
  /** pidfd_open(); throws (ESRCH) when the process is gone. */
  open(pid: number): number;
  /** The PID the pidfd names now: -1 once reaped, 0 in a PID namespace we cannot see. */
  pid(pidfd: number): number | undefined;
  /** Its exit once reaped (PIDFD_INFO_EXIT); null before, undefined when the kernel cannot tell. */
  exit(pidfd: number): { code: number | null; signal: NodeJS.Signals | null } | null | undefined;
  /** Calls `onExit` once, when the process has exited (the pidfd polls readable). */
  watchExit(pidfd: number, onExit: () => void): ReadableWatch;
  /** Calls `onReaped` once, when the process has been reaped (the pidfd hangs up). */
  watchReaped(pidfd: number, onReaped: () => void): ReadableWatch;
  close(fd: number): void;
}

type NativeModule = typeof import('@mptcp/native');

let loaded: Promise<NativeApi> | undefined;

/** Loads @mptcp/native once (dynamic import: importing this package never loads the addon). */
export function loadNative(): Promise<NativeApi> {
  loaded ??= import('@mptcp/native').then(
    (mod) => {
      if (!mod.bindingAvailable()) {
        throw new ActivationError(
          'NATIVE_UNAVAILABLE',
          '@mptcp/native: the addon is not available (no build/Release and no prebuild for this platform)',
        );
      }
      return adaptNative(mod);
    },
    (err: unknown) => {
      loaded = undefined;
      throw new ActivationError('NATIVE_UNAVAILABLE', `@mptcp/native could not be loaded: ${messageOf(err)}`, {
        cause: err,
      });
    },
  );
  return loaded;
}

/**
 * `MPTCP_ACTIVATION_SPAWN=node` in the environment turns the native launcher off (to compare, or
 * to work around a problem); anything else leaves it on.
 */
export function nativeSpawnDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.MPTCP_ACTIVATION_SPAWN === 'node';
}

/** The engine's view of @mptcp/native. */
export function adaptNative(mod: NativeModule): NativeApi {
  const spawn: NativeSpawn = {
    spawnProcess: (options) => mod.spawnProcess(options),
    spawnProcessAsync: (options) => mod.spawnProcessAsync(options),
    watchExit: (pidfd, callback) => mod.watchExit(pidfd, callback),
    killPid: (pidfd, signal) => mod.killPid(pidfd, signal),
    close: (fd) => mod.close(fd),
    mknod: (path, type, mode) => mod.mknod(path, type, { mode }),
  };
  return {
    ...(nativeSpawnDisabled() ? {} : { spawn }),
    ...(!nativeSpawnDisabled() && typeof mod.spawnCgroupSupported === 'function' && mod.spawnCgroupSupported()
      ? { spawnCgroup: true }
      : {}),
    openSocket: (spec) => mod.openSocket(spec),
    openSockets: (specs) => mod.openStreamListeners(specs),
    // No wrapper closure per watcher (a daemon keeps one per listening socket).
    watchReadable: (fd, onReadable) => mod.watchReadable(fd, onReadable),
    accept: (fd) => mod.accept(fd),
    close: (fd) => mod.close(fd),
    setNonBlocking: (fd, on) => mod.setNonBlocking(fd, on),
    setCloexec: (fd, on) => mod.setCloexec(fd, on),
    socketProtocol: (fd) => mod.socketProtocol(fd),
    peerCredentials: (fd) => mod.peerCredentials(fd),
    ...(mod.datagramAncillarySupported() ? { receiveDatagram: (fd: number) => mod.receiveDatagram(fd) } : {}),
    socketPair: () => mod.socketPair(),
    ...(mod.fdStorePrimitivesSupported()
      ? { fdStore: { watchHangup: mod.watchHangup, sameOpenFile: mod.sameOpenFile } }
      : {}),
    dup: (fd: number) => mod.duplicateFd(fd),
    ...(mod.pidfdSupported() ? { pidfd: pidfdApi(mod), passPidfd: (fd: number) => mod.passPidfd(fd) } : {}),
    ...(!nativeSpawnDisabled() && mod.acceptSpawnSupported()
      ? {
          acceptSpawn: {
            start: mod.acceptSpawnStart,
            add: mod.acceptSpawnAdd,
            remove: mod.acceptSpawnRemove,
            release: mod.acceptSpawnRelease,
            kill: mod.acceptSpawnKill,
          },
        }
      : {}),
  };
}

function pidfdApi(mod: NativeModule): PidfdApi {
  return {
    open: (pid) => mod.openPidfd(pid),
    pid: (fd) => mod.pidfdPid(fd),
    exit: (fd) => mod.pidfdExit(fd),
    watchExit: (fd, onExit) => {
      const w = mod.watchReadable(fd, () => {
        w.stop();
        onExit();
      });
      return w;
    },
    watchReaped: (fd, onReaped) => {
      const h = mod.watchHangup(() => {
        h.close();
        onReaped();
      });
      if (h.add(fd) === 'not-pollable') {
        h.close();
        const t = setImmediate(onReaped);
        return { stop: () => clearImmediate(t) };
      }
      return { stop: () => h.close() };
    },
    close: (fd) => mod.close(fd),
  };
}
