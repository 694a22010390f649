/**
 * The types a service's runtime is described with: its states (systemd's ActiveState=/SubState=),
 * what a start gets from its socket, what an exit reports, the options every ServiceProcess is
 * built with, and its status snapshot.
 */
import type { CgroupTree } from './cgroup.js';
import type { ServiceUnit } from '@mptcp/unit';
import type { FdHandOff, NativeSpawn, OutputMode } from './exec.js';
import type { FdStorePrimitives } from './fd-store.js';
import type { Logger } from './logger.js';
import type { PidfdApi } from './native-binding.js';
import type { NotifySocket } from './notify-socket.js';
import type { ServiceResult } from './restart-policy.js';

export type ServiceState =
  'inactive' | 'activating' | 'active' | 'reloading' | 'deactivating' | 'auto-restart' | 'failed';

/** systemd's SubState= values that happen here. */
export type ServiceSubState =
  | 'dead'
  | 'start-pre'
  | 'start'
  | 'start-post'
  | 'running'
  | 'exited'
  | 'reload'
  | 'reload-signal'
  | 'reload-notify'
  | 'stop'
  | 'stop-watchdog'
  | 'stop-sigterm'
  | 'stop-sigkill'
  | 'stop-post'
  | 'failed'
  | 'auto-restart';

export type NotifyAccess = 'none' | 'main' | 'exec' | 'all';

/** What the triggering socket hands to the service for one start. */
export interface StartContext {
  /** Listening (Accept=no) or connection (Accept=yes) fds, placed at 3.. */
  fds?: readonly number[];
  /** One name per fd (FileDescriptorName= or the socket unit name, `connection` for Accept=yes). */
  fdNames?: readonly string[];
  /** StandardInput=socket: this fd goes to stdin/stdout, no LISTEN_* variables. */
  socketStdio?: number;
  /** REMOTE_ADDR/REMOTE_PORT and the like. */
  env?: Record<string, string>;
  /**
   * Accept=yes: the connection fd, which the main process' spawn may close itself (FdHandOff).
   * After start() settled, the caller closes it only if `closed` is still false.
   */
  handOff?: FdHandOff;
  /** Condition*=/Assert*= were tested by the caller (ServiceRuntimes.start(), before the start limit). */
  conditionsTested?: boolean;
}

export interface ServiceExit {
  unit: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  result: ServiceResult;
  /** Restart= asks for a restart (the engine decides, subject to the start limit). */
  restart: boolean;
  /** True when the exit was caused by stop(). */
  stopped: boolean;
}

/** Where a service's stdout/stderr go when the daemon captures them (StandardOutput=journal). */
export interface OutputCapture {
  /**
   * An fd for the child's stdout+stderr; the capture prefixes lines with the unit and `pid()`.
   * `release()` is called once the launcher ran (the PID is known): the capture closes its copy of
   * the fd and may log lines it held back until then.
   */
  open(unit: string, pid: () => number | undefined): { fd: number; release(): void } | undefined;
}

export interface ServiceProcessOptions {
  logger: Logger;
  output: OutputMode;
  daemonEnv?: NodeJS.ProcessEnv;
  /** The native launcher (@mptcp/native's spawnProcess); without it child_process + /bin/sh. */
  spawn?: NativeSpawn;
  /** The daemon's notify socket; without it no NOTIFY_SOCKET is passed (Type=notify then never gets ready). */
  notify?: NotifySocket;
  /** close(2) for fds received with notifications (the fd store). */
  closeFd?: (fd: number) => void;
  /** The fd store's hang-up watch and duplicate test (FDPOLL=, same_fd()); without it neither happens. */
  fdStore?: FdStorePrimitives;
  /** dup(2) (close-on-exec): Standard*=socket keeps the connection for the control commands with it. */
  dupFd?: (fd: number) => number;
  /** pidfds for a main process that is not our child (foreign-exit.ts); without them /proc is polled. */
  pidfd?: PidfdApi;
  /** Captures stdout/stderr into the daemon's log (output `log`). */
  capture?: OutputCapture;
  /**
   * Start services whose sandbox/privilege directives are not enforced (sandbox.ts), with a warning,
   * instead of failing them as systemd fails an exec step it cannot do. Default false.
   */
  allowUnenforcedSandbox?: boolean;
  /** Each run in a cgroup of its own (cgroup.ts); without it the process groups (process-group.ts). */
  cgroups?: CgroupTree;
}

export interface ServiceEvents {
  state: [ServiceState];
  exit: [ServiceExit];
}

/** NotifyAccess= as systemd resolves it: notify types and WatchdogSec= default to `main`. */
export function effectiveNotifyAccess(unit: ServiceUnit): NotifyAccess {
  if (unit.notifyAccess !== undefined) return unit.notifyAccess;
  if (unit.type === 'notify' || unit.type === 'notify-reload' || (unit.watchdogUsec ?? 0) > 0) return 'main';
  return 'none';
}

export interface ServiceSnapshot {
  name: string;
  state: ServiceState;
  subState?: ServiceSubState;
  type?: string;
  pid?: number;
  controlPid?: number;
  starts: number;
  restarts: number;
  result?: ServiceResult;
  invocationId?: string;
  statusText?: string;
  statusErrno?: number;
  lastExit?: { code: number | null; signal: string | null };
  /** systemd's ExecMainPID: the current or last main process. */
  execMainPid?: number;
  /** How long its last active period lasted (ActiveExitTimestamp - ActiveEnterTimestamp), once over. */
  activeDurationUsec?: number;
  /** FDNAME of each stored fd. */
  fdStore?: string[];
  /** When the current state was entered (ISO 8601). */
  since?: string;
  tasks?: number;
}
