/**
 * The end of a main process that is not our child (a Type=forking daemon, a MAINPID= process),
 * watched through a pidfd: readable when it exits, a hang-up once it has been reaped, and then
 * (Linux 6.15) its exit status, whoever reaped it. Without pidfds its /proc entry is polled
 * (process-group.ts watchForeignExit()) and the status is unknown.
 *
 * What systemd 257 reports depends on who reaps the process (fixtures/v257/foreign-main): as PID 1
 * (or a child subreaper) it adopts an orphan, so a forking daemon's exit reaches it with its real
 * status ("Main process exited, code=exited, status=3/NOTIMPLEMENTED", result exit-code); a
 * MAINPID= process whose parent, a process of the service, reaps it is never seen to exit ("We'll
 * most likely not notice when it exits."): the service stays active until its cgroup empties. The
 * same here: a process orphaned before it exits reports its status once reaped; one reaped by a
 * parent of the service's session is `unnoticed`.
 */
import { readFileSync } from 'node:fs';
import type { ExitStatus } from './exec.js';
import type { PidfdApi } from './native-binding.js';
import { sessionOf } from './notify-socket.js';
import { processAlive, watchForeignExit } from './process-group.js';

/** How a watched main process ended. */
export type ForeignExit =
  /** Exited with this status (read once it was reaped). */
  | { kind: 'exited'; status: ExitStatus }
  /** Gone, status unknown (no pidfd support, or the kernel kept none). */
  | { kind: 'unknown' }
  /** Reaped by its parent, a process of the service: systemd 257 does not notice this exit. */
  | { kind: 'unnoticed' };

export interface ForeignWatch {
  stop(): void;
}

export interface ForeignWatchOptions {
  /** The addon's pidfd functions; absent: /proc is polled. */
  pidfd?: PidfdApi | undefined;
  /** The service's session (its processes). */
  session: number | undefined;
  /** False once the process is no longer the main one: the watch ends silently. */
  stillMain(): boolean;
  onExit(exit: ForeignExit): void;
}

/** /proc/PID/stat field 4, or undefined. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/** Calls `onExit` once when `pid` ends (see the module comment), unless stopped first. */
export function watchForeignMain(pid: number, opts: ForeignWatchOptions): ForeignWatch {
  const api = opts.pidfd;
  if (!api) {
    const poll = watchForeignExit(pid, opts.stillMain, () => opts.onExit({ kind: 'unknown' }));
    return { stop: () => clearInterval(poll) };
  }
  let fd: number;
  try {
    fd = api.open(pid);
  } catch {
    // Gone already (ESRCH): as the /proc poll would find it at its first look.
    const t = setImmediate(() => {
      if (opts.stillMain()) opts.onExit({ kind: 'unknown' });
    });
    return { stop: () => clearImmediate(t) };
  }
  // Its parent if that is a process of the service: it reaps the process itself, unless it dies
  // first (then the process is orphaned, as a forking daemon is once its starter has exited).
  let parentFd: number | undefined;
  const ppid = parentOf(pid);
  if (ppid !== undefined && ppid > 1 && opts.session !== undefined && sessionOf(ppid) === opts.session) {
    try {
      parentFd = api.open(ppid);
    } catch {
      parentFd = undefined;
    }
  }
  const parentAlive = (): boolean =>
    parentFd !== undefined && ppid !== undefined && api.pid(parentFd) === ppid && processAlive(ppid);
  let watch: { stop(): void } | undefined;
  let over = false;
  const finish = (exit: ForeignExit | undefined): void => {
    if (over) return;
    over = true;
    watch?.stop();
    watch = undefined;
    api.close(fd);
    if (parentFd !== undefined) api.close(parentFd);
    if (exit && opts.stillMain()) opts.onExit(exit);
  };
  watch = api.watchExit(fd, () => {
    watch = undefined;
    if (over) return;
    if (!opts.stillMain()) return finish(undefined);
    if (parentAlive()) return finish({ kind: 'unnoticed' });
    const status = api.exit(fd);
    if (status) return finish({ kind: 'exited', status });
    // A zombie: its reaper (init, a subreaper) has not collected it yet.
    watch = api.watchReaped(fd, () => {
      watch = undefined;
      const reaped = api.exit(fd);
      finish(reaped ? { kind: 'exited', status: reaped } : { kind: 'unknown' });
    });
  });
  return { stop: () => finish(undefined) };
}
