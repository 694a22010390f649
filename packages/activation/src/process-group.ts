/**
 * A service's processes as the kernel shows them: the session its main process leads (setsid at
 * start: our stand-in for systemd's cgroup), who is in it, whether a PID is alive, the main PID of
 * a forking daemon, and signals to the group or to one process (KillMode=).
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { ServiceUnit } from '@mptcp/unit';
import type { ServiceChild } from './exec.js';
import { parsePid } from './notify-message.js';

export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // A zombie (state Z) is gone for our purposes.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function sessionOfPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z') return undefined;
    return Number(rest[3]);
  } catch {
    return undefined;
  }
}

/** The PIDs in session `sid` (a forking daemon that setsid()s again leaves it). */
export function sessionMembers(sid: number | undefined): number[] {
  if (sid === undefined) return [];
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (sessionOfPid(pid) === sid) out.push(pid);
  }
  return out;
}

/** A forking service's main process: PIDFile=, else (GuessMainPID=yes) the one process left in its session. */
export function forkingMainPid(unit: ServiceUnit, session: number | undefined): number | undefined {
  if (unit.pidFile) {
    try {
      const pid = parsePid(readFileSync(unit.pidFile, 'utf8').trim());
      if (pid !== undefined && processAlive(pid)) return pid;
    } catch {
      return undefined;
    }
    return undefined;
  }
  if (unit.guessMainPID === false) return undefined;
  const members = sessionMembers(session);
  return members.length === 1 ? members[0] : undefined;
}

/** What a service's signal reaches: its session, the child we started, the main PID (maybe not our child). */
export interface SignalTarget {
  session: number | undefined;
  child: ServiceChild | undefined;
  pid: number | undefined;
}

/**
 * KillMode=control-group → the session's process group (our stand-in for the cgroup: services
 * lead their own); process/mixed → the main process only (through its pidfd when it is our child).
 * A main process outside that group (forking daemon, MAINPID=) is signalled by PID too.
 */
export function signalService(t: SignalTarget, signal: string, mode: string): void {
  if (mode === 'none') return;
  const sig = signal as NodeJS.Signals;
  if (mode === 'control-group' && t.session !== undefined) {
    try {
      process.kill(-t.session, sig);
      if (sig !== 'SIGCONT' && sig !== 'SIGKILL') process.kill(-t.session, 'SIGCONT');
    } catch {
      // The group is gone; the main process below, if any.
    }
  }
  if (t.child && t.child.pid !== undefined && (t.pid === undefined || t.child.pid === t.pid)) {
    t.child.kill(sig);
  } else if (t.pid !== undefined) {
    try {
      process.kill(t.pid, sig);
    } catch {
      // Gone.
    }
  }
}

/**
 * KillMode=control-group/mixed → the process group (our stand-in for the cgroup; the services lead
 * their own); process → the main process only (through its pidfd when started natively).
 */
export function signalGroup(child: ServiceChild, signal: string, mode: string): void {
  const pid = child.pid;
  if (pid === undefined) return;
  if (mode !== 'process' && mode !== 'mixed') {
    try {
      process.kill(-pid, signal as NodeJS.Signals);
      return;
    } catch {
      // No such group (not detached): the main process at least.
    }
  }
  try {
    child.kill(signal as NodeJS.Signals);
  } catch {
    // Already gone.
  }
}

/**
 * Calls `onExit` once `pid` (not our child: it cannot be waited for) is gone, by looking at its
 * /proc entry every 250 ms (systemd watches the cgroup; we have none). `stillMain` false ends the watch.
 */
export function watchForeignExit(pid: number, stillMain: () => boolean, onExit: () => void): NodeJS.Timeout {
  const poll: NodeJS.Timeout = setInterval(() => {
    if (!stillMain()) {
      clearInterval(poll);
      return;
    }
    if (processAlive(pid)) return;
    clearInterval(poll);
    onExit();
  }, 250);
  poll.unref();
  return poll;
}
