/**
 * A service's processes as the kernel shows them: the session its main process leads (setsid at
 * start: our stand-in for systemd's cgroup), who is in it, whether a PID is alive, the main PID of
 * a forking daemon, and signals to the group or to one process (KillMode=).
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  statSync,
} from 'node:fs';
import { errnoMessage } from '@mptcp/constants';
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

/** A process's name (/proc/PID/comm), or `n/a` once it is gone (strna()). */
export function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return 'n/a';
  }
}

export function sessionOfPid(pid: number): number | undefined {
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

/** Where a candidate main PID stands (service.c service_is_suitable_main_pid()). */
export type MainPidSuitability = { ok: true } | { ok: false; refuse: string } | { ok: 'questionable' };

/**
 * service_is_suitable_main_pid(): the daemon itself (or PID 1), the control process and a PID that
 * is gone are refused; a process in the service's session (our stand-in for its cgroup) is the
 * service's; anything else is questionable — taken only from a trusted source (a root sender of
 * MAINPID=, a PID file owned by the daemon's uid).
 */
export function mainPidSuitability(pid: number, session: number | undefined, controlPid?: number): MainPidSuitability {
  if (pid === process.pid || pid === 1) return { ok: false, refuse: `New main PID ${pid} is the manager, refusing.` };
  if (controlPid !== undefined && pid === controlPid)
    return { ok: false, refuse: `New main PID ${pid} is the control process, refusing.` };
  if (!processAlive(pid)) return { ok: false, refuse: `New main PID ${pid} does not exist or is a zombie.` };
  if (session !== undefined && sessionOfPid(pid) === session) return { ok: true };
  return { ok: 'questionable' };
}

/** LINE_MAX: read_line()'s limit for the PID file's line. */
const PID_FILE_LINE_MAX = 2048;

/**
 * chase(CHASE_SAFE) for the PID file: follows the path component by component and reports whether
 * it ever went from a directory or symlink owned by one non-root user to something owned by
 * another (chase.c unsafe_transition(): an unprivileged link to a privileged file), and the path it
 * leads to. Throws the errno of a missing component or a symlink loop.
 */
function chaseSafe(path: string): { target: string; unsafe: boolean } {
  let unsafe = false;
  let prev = statSync('/');
  let done: string[] = [];
  let todo = path.split('/').filter((c) => c !== '' && c !== '.');
  let links = 0;
  while (todo.length > 0) {
    const c = todo.shift() as string;
    if (c === '..') {
      done.pop();
      prev = statSync('/' + done.join('/'));
      continue;
    }
    const here = '/' + [...done, c].join('/');
    const st = lstatSync(here);
    if (prev.uid !== 0 && prev.uid !== st.uid) unsafe = true;
    if (st.isSymbolicLink()) {
      if (++links > 32) throw Object.assign(new Error('Too many levels of symbolic links'), { code: 'ELOOP' });
      const dest = readlinkSync(here);
      const rest = dest.split('/').filter((x) => x !== '' && x !== '.');
      if (dest.startsWith('/')) {
        done = [];
        const root = statSync('/');
        if (st.uid !== 0 && st.uid !== root.uid) unsafe = true;
        prev = root;
      } else prev = st;
      todo = [...rest, ...todo];
      continue;
    }
    done.push(c);
    prev = st;
  }
  return { target: '/' + done.join('/'), unsafe };
}

/** What reading a forking service's PIDFile= gave: its PID, or why not (257's line, and its level). */
export type PidFileResult =
  { pid: number; note?: string } | { pid?: undefined; level: 'warn' | 'error'; message: string };

/**
 * service_load_pid_file() after the start: the file is found as chase(CHASE_SAFE) finds it, opened
 * without blocking (a FIFO or a device there never holds the daemon: 257 would wait on a FIFO), its
 * first line (at most LINE_MAX bytes, up to a newline, CR or NUL) is the PID. A PID outside the
 * service is taken only from a file owned by the daemon's uid reached without an unsafe symlink.
 */
export function loadPidFile(
  pidFile: string,
  session: number | undefined,
  controlPid?: number,
  managerUid: number = process.getuid?.() ?? 0,
): PidFileResult {
  let chased: { target: string; unsafe: boolean };
  let fd: number;
  try {
    chased = chaseSafe(pidFile);
    fd = openSync(chased.target, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY); // libuv adds O_CLOEXEC
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'EIO';
    return { level: 'warn', message: `Can't open PID file '${pidFile}' (yet?) after start: ${errnoMessage(code)}` };
  }
  let line: string;
  let owner: number;
  try {
    owner = fstatSync(fd).uid;
    const buf = Buffer.alloc(PID_FILE_LINE_MAX);
    let n = 0;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      // EAGAIN: a FIFO or socket with nothing written yet; anything else is a read error.
      if ((err as { code?: string }).code !== 'EAGAIN') {
        const code = (err as { code?: string }).code ?? 'EIO';
        return { level: 'error', message: `Failed to read PID file '${pidFile}': ${errnoMessage(code)}` };
      }
    }
    const text = buf.toString('latin1', 0, n);
    const end = text.search(/[\n\r\0]/);
    line = end < 0 ? text : text.slice(0, end);
  } finally {
    closeSync(fd);
  }
  const pid = /^\d+$/.test(line) && Number(line) > 0 && Number(line) <= 0x7fffffff ? Number(line) : undefined;
  if (pid === undefined)
    return {
      level: 'warn',
      message: `Failed to create reference to PID ${line} from file '${pidFile}': ${errnoMessage('EINVAL')}`,
    };
  const suit = mainPidSuitability(pid, session, controlPid);
  if (suit.ok === true) return { pid };
  if (suit.ok === false) return { level: 'warn', message: suit.refuse };
  if (chased.unsafe)
    return {
      level: 'error',
      message: `Refusing to accept PID outside of service control group, acquired through unsafe symlink chain: ${pidFile}`,
    };
  if (owner !== managerUid)
    return {
      level: 'error',
      message: `New main PID ${pid} from PID file does not belong to service, and PID file is owned by ${owner} (must be owned by ${managerUid}). Refusing.`,
    };
  return {
    pid,
    note: `New main PID ${pid} does not belong to service, accepting anyway since PID file is owned by ${owner}.`,
  };
}

/**
 * A forking service's main process: PIDFile= (loadPidFile(), what it refused logged here), else
 * (GuessMainPID=yes) the one process left in its session.
 */
export function forkingMainPid(
  unit: ServiceUnit,
  session: number | undefined,
  log?: (level: 'debug' | 'warn' | 'error', message: string) => void,
  controlPid?: number,
): number | undefined {
  if (unit.pidFile) {
    const r = loadPidFile(unit.pidFile, session, controlPid);
    if (r.pid === undefined) {
      log?.(r.level, r.message);
      return undefined;
    }
    if (r.note !== undefined) log?.('debug', r.note);
    return r.pid;
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
