/**
 * Every service process the daemon starts, recorded on disk so that a daemon killed with SIGKILL
 * leaves nothing it cannot find again. The next daemon on the same control socket — once it knows
 * no other daemon answers there — kills every recorded process group whose leader is still the
 * recorded process, and waits until the group is gone, before it opens its sockets: an orphaned
 * Accept=no service no longer holds the port (EADDRINUSE) and no orphaned instance keeps running.
 *
 * The record is one append-only file, `<control socket>.pids/journal`, kept open (O_APPEND): a
 * header with the kernel's boot id, then `+PID TICKS` when a process started, `-PID` when it was
 * reaped. A start costs one write(2) (it must be on disk before a SIGKILL of the daemon could
 * orphan the process); exits are collected and written with the next start, or after a second. The journal is rewritten with the live records only (write + rename: a SIGKILL
 * at any point leaves one complete journal) when it holds four times more lines than that.
 *
 * Which process a pid is: TICKS is the boot-time clock (clock ticks since boot, as field 22 of
 * /proc/PID/stat) when the record is written, read from the monotonic clock without a syscall.
 * At that moment the pid is ours — the process runs, or is a zombie only we can reap — so the
 * recorded process started at or before TICKS, while any later holder of the pid was forked after
 * we reaped ours, i.e. after TICKS (pids are allocated cyclically: a freed pid comes back only after
 * the whole pid space). A record is acted on only when the process's start time is <= TICKS and
 * the boot id matches. This replaced reading /proc/PID/stat and creating one file per process,
 * which cost ~35 % of the daemon's CPU per Accept=yes connection. Per-pid files of earlier versions
 * (`<dir>/<pid>` holding the exact start time) are still honoured and removed.
 *
 * With cgroup tracking (`--cgroup auto`, @mptcp/activation cgroup.ts) the journal also records the
 * daemon's cgroup tree (`@cgroup PATH`, after the header): the next daemon kills every unit cgroup
 * left in it (cgroup.kill, which also reaches a process that left its process group with setsid())
 * and waits until each is empty (inotify on cgroup.events) before it opens its sockets.
 *
 * Why the process groups too: they need no cgroup delegation (often unavailable in containers), no change in
 * how processes are spawned (PR_SET_PDEATHSIG would also fire when the spawning thread exits) and
 * works for services whose own children share their process group (every service is a session and
 * group leader: setsid).
 */
import {
  closeSync,
  constants as fsc,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { CgroupTree, reapCgroups, TREE_PREFIX } from '@mptcp/activation';

/** The journal is compacted once it holds this many lines and four times more than live records. */
export const COMPACT_MIN = 4096;

/** Exits not carried by a start are written after at most this long. */
const FLUSH_DELAY_MS = 1000;

/** USER_HZ: the unit of /proc/PID/stat's start time on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

const statBuffer = Buffer.allocUnsafe(1024);
const CLOSE_PAREN = 0x29;
const SPACE = 0x20;

/** The start time of `pid` in clock ticks since boot, or undefined when it is gone or a zombie. */
export function startTimeOf(pid: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/stat`, fsc.O_RDONLY);
  } catch {
    return undefined;
  }
  let n: number;
  try {
    // One read into a reused buffer: the line is < 1 KiB.
    n = readSync(fd, statBuffer, 0, statBuffer.length, 0);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
  // comm may contain spaces and parentheses: the fields start after the last ')'. The state is
  // field 3, the start time field 22.
  const stat = statBuffer.subarray(0, n);
  let i = stat.lastIndexOf(CLOSE_PAREN) + 2;
  if (i < 2 || i >= n) return undefined;
  const state = stat[i];
  if (state === 0x5a /* Z */ || state === 0x58 /* X */) return undefined;
  for (let field = 0; field < 19; field++) {
    i = stat.indexOf(SPACE, i) + 1;
    if (i === 0) return undefined;
  }
  const end = stat.indexOf(SPACE, i);
  return stat.toString('latin1', i, end < 0 ? n : end);
}

/** The kernel's boot id (changes at every boot), or '' when unknown. */
export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
  } catch {
    return '';
  }
}

/**
 * The boot-time clock in clock ticks, as an upper bound, from the monotonic clock: CLOCK_BOOTTIME
 * is CLOCK_MONOTONIC plus the time spent suspended, so the offset is read once from /proc/uptime
 * (10 ms resolution, rounded up here) and again when the wall clock jumped against the monotonic
 * one (a resume from suspend, or a clock step).
 */
/**
 * CLOCK_MONOTONIC in ms. Not performance.now(): the `performance` global loads perf_hooks on first
 * use (~14 ms of the daemon's start-up, for one clock read).
 */
function monoMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6;
}

export class BootClock {
  private offsetMs = 0;
  private wallMinusMono = 0;

  constructor() {
    this.calibrate();
  }

  private calibrate(): void {
    // The boot-time clock was in [uptime, uptime + 10 ms) at some point between `before` and
    // `after`; anchoring it at `before` can only overestimate, by up to the window. A process
    // descheduled inside the window (a loaded machine) widens it: take the tightest of a few reads.
    let best = Infinity;
    for (let i = 0; i < 5 && best > 0.1; i++) {
      const before = monoMs();
      const uptime = Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
      const window = monoMs() - before;
      if (window < best) {
        best = window;
        this.offsetMs = uptime * 1000 + 1000 / TICKS_PER_SECOND - before;
      }
    }
    this.wallMinusMono = Date.now() - monoMs();
  }

  /** Clock ticks since boot now, never less than the true value. */
  ticks(): number {
    const mono = monoMs();
    if (Math.abs(Date.now() - mono - this.wallMinusMono) > 1000) this.calibrate();
    return Math.ceil(((monoMs() + this.offsetMs) * TICKS_PER_SECOND) / 1000) + 1;
  }

  /** True when ticks() lies between two /proc/uptime readings taken around it (it is used only then). */
  check(): boolean {
    const uptime = (): number => Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]) * TICKS_PER_SECOND;
    const within = (): boolean => {
      const before = uptime();
      const t = this.ticks();
      // ticks() is ceil()+1 over an anchor up to one uptime step (10 ms) plus the calibration window
      // early, so it may lead a later /proc/uptime reading by up to 4 ticks and a little more.
      return t >= before && t <= uptime() + 5;
    };
    if (within()) return true;
    // A wide calibration window (the process was descheduled) overestimates: calibrate again once.
    this.calibrate();
    return within();
  }
}

/** Live (non-zombie) members of process group `pgid`. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] !== 'Z' && rest[0] !== 'X' && Number(rest[2]) === pgid) out.push(Number(name));
    } catch {
      // Exited meanwhile.
    }
  }
  return out;
}

/** How a recorded process is recognised: it started at or before `ticks`, or exactly at `start`. */
export type PidRecord = { startedBy: number } | { start: string };

const HEADER = 'mptcpd-lite pids v2 boot ';
/** The line that records the daemon's cgroup tree (ignored by daemons before it: not a record). */
const CGROUP_LINE = '@cgroup ';

/**
 * The records a journal's lines leave (pid → record): `+PID TICKS` adds, `=PID START` adds an exact
 * start time, `-PID` removes; malformed lines are skipped. Empty when the journal was written
 * during another boot than `boot`.
 */
export function replayJournal(text: string, boot: string): Map<number, PidRecord> {
  const live = new Map<number, PidRecord>();
  const lines = text.split('\n');
  if (lines[0] !== `${HEADER}${boot}` || boot === '') return live;
  for (const line of lines) {
    const m = /^([+=])(\d+) (\d+)$/.exec(line);
    if (m) live.set(Number(m[2]), m[1] === '+' ? { startedBy: Number(m[3]) } : { start: m[3] as string });
    else if (/^-\d+$/.test(line)) live.delete(Number(line.slice(1)));
  }
  return live;
}

/** The cgroup trees a journal records (`@cgroup PATH` lines), when it was written during boot `boot`. */
export function journalCgroups(text: string, boot: string): string[] {
  const lines = text.split('\n');
  if (lines[0] !== `${HEADER}${boot}` || boot === '') return [];
  const out = new Set<string>();
  for (const line of lines) {
    // Only a tree of ours (cgroup.ts treeName()), never any other cgroup a corrupt line could name.
    if (line.startsWith(CGROUP_LINE) && basename(line.slice(CGROUP_LINE.length)).startsWith(TREE_PREFIX))
      out.add(line.slice(CGROUP_LINE.length));
  }
  return [...out];
}

/** Whether the process now holding `pid` is the one `record` names. */
export function isRecorded(pid: number, record: PidRecord): boolean {
  const start = startTimeOf(pid);
  if (start === undefined) return false;
  return 'start' in record ? start === record.start : Number(start) <= record.startedBy;
}

export interface ChildRegistryLog {
  warning(message: string): void;
  notice(message: string): void;
}

export class ChildRegistry {
  private enabled = true;
  /** The journal, open for appending; -1 until reapOrphans() (or the first add()) opened it. */
  private fd = -1;
  private readonly boot = bootId();
  /** Undefined when the boot-time clock cannot be derived: start times are then read from /proc. */
  private readonly clock: BootClock | undefined;
  /** What the journal says is running (pid → its line), to compact it. */
  private readonly live = new Map<number, string>();
  /** Lines in the journal file. */
  private lines = 0;
  /** `-PID` lines not written yet. */
  private removals = '';
  private flushTimer: NodeJS.Timeout | undefined;
  /** The daemon's cgroup tree (recordCgroup()), written after the header. */
  private cgroup: string | undefined;
  private readonly onExit = (): void => this.close();

  constructor(
    readonly dir: string,
    private readonly log: ChildRegistryLog,
    private readonly uid = process.getuid?.() ?? 0,
  ) {
    let clock: BootClock | undefined;
    try {
      clock = new BootClock();
      if (!clock.check()) clock = undefined;
    } catch {
      clock = undefined;
    }
    this.clock = clock;
  }

  /**
   * Records the daemon's cgroup tree in the journal (with its next rewrite: reapOrphans() makes one),
   * so that a daemon after a crash finds the unit cgroups to kill even from elsewhere.
   */
  recordCgroup(base: string): void {
    if (base.includes('\n')) return;
    this.cgroup = base;
    if (this.fd >= 0) this.write(`${CGROUP_LINE}${base}\n`, 1);
  }

  /** The journal's path. */
  get journal(): string {
    return join(this.dir, 'journal');
  }

  /** Creates the directory (0700), or refuses one that is not ours: its entries name pids to kill. */
  open(): boolean {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const st = lstatSync(this.dir);
      if (!st.isDirectory() || st.uid !== this.uid || (st.mode & 0o077) !== 0) {
        this.log.warning(
          `${this.dir}: not a 0700 directory owned by uid ${this.uid}; service processes are not recorded (after a crash, orphans must be stopped by hand)`,
        );
        this.enabled = false;
      }
      if (this.boot === '') {
        this.log.warning(`/proc/sys/kernel/random/boot_id unreadable; service processes are not recorded`);
        this.enabled = false;
      }
    } catch (err) {
      this.log.warning(`${this.dir}: ${(err as Error).message}; service processes are not recorded`);
      this.enabled = false;
    }
    return this.enabled;
  }

  /**
   * Records `pid` at once: one write(2) of its line (with the exits collected since the last one).
   * Called once the process exists and before it can have been reaped.
   */
  add(pid: number): void {
    if (!this.enabled) return;
    let line: string;
    if (this.clock) line = `+${pid} ${this.clock.ticks()}\n`;
    else {
      const start = startTimeOf(pid);
      if (start === undefined) return;
      line = `=${pid} ${start}\n`;
    }
    this.live.set(pid, line);
    this.write(`${this.takeRemovals()}${line}`, 1);
  }

  /**
   * Records several processes with one write(2) (the Accept=yes fast path reports its starts in
   * batches: one write per batch instead of one per process).
   */
  addAll(pids: readonly number[]): void {
    if (!this.enabled || pids.length === 0) return;
    let text = '';
    let n = 0;
    for (const pid of pids) {
      let line: string;
      if (this.clock) line = `+${pid} ${this.clock.ticks()}\n`;
      else {
        const start = startTimeOf(pid);
        if (start === undefined) continue;
        line = `=${pid} ${start}\n`;
      }
      this.live.set(pid, line);
      text += line;
      n += 1;
    }
    if (n > 0) this.write(`${this.takeRemovals()}${text}`, n);
  }

  /** The process was reaped: its record goes with the next write. */
  remove(pid: number): void {
    if (!this.enabled || !this.live.delete(pid)) return;
    this.removals += `-${pid}\n`;
    if (this.flushTimer) return;
    // No hurry (a stale record is recognised by its start time): usually the next start carries it.
    this.flushTimer = setTimeout(() => this.flush(), FLUSH_DELAY_MS);
    this.flushTimer.unref();
  }

  /** Writes the collected exits now. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.removals !== '') this.write(this.takeRemovals(), 0);
  }

  /** Flushes and closes the journal (it stays on disk: what still runs stays recorded). */
  close(): void {
    process.removeListener('exit', this.onExit);
    this.flush();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private takeRemovals(): string {
    const r = this.removals;
    if (r === '') return r;
    this.removals = '';
    this.lines += r.length - r.replaceAll('\n', '').length;
    return r;
  }

  private write(text: string, added: number): void {
    try {
      if (this.fd < 0) this.reopen();
      writeSync(this.fd, text);
      this.lines += added;
    } catch (err) {
      // A full or read-only file system: the process runs unrecorded.
      this.log.warning(`${this.journal}: ${(err as Error).message}; a service process may not be recorded`);
      return;
    }
    if (this.lines >= COMPACT_MIN && this.lines > 4 * this.live.size) {
      try {
        this.rewrite();
      } catch (err) {
        this.log.warning(`${this.journal}: compaction failed: ${(err as Error).message}`);
      }
    }
  }

  /**
   * The journal for appending when reapOrphans() did not open it: the existing one when it is of
   * this boot (its records stay for the next daemon), else a new one.
   */
  private reopen(): void {
    try {
      const st = lstatSync(this.journal);
      const first = st.isFile() ? readFileSync(this.journal, 'latin1').split('\n', 1)[0] : undefined;
      if (first === `${HEADER}${this.boot}`) {
        this.fd = openSync(this.journal, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_NOFOLLOW);
        if (this.cgroup !== undefined) writeSync(this.fd, `${CGROUP_LINE}${this.cgroup}\n`);
        return;
      }
    } catch {
      // None yet.
    }
    this.rewrite();
  }

  /**
   * A new journal with the header and the live records (a new file renamed over the old one, never
   * through a symlink), kept open for appending.
   */
  private rewrite(): void {
    const tmp = `${this.journal}.new`;
    const tree = this.cgroup !== undefined ? `${CGROUP_LINE}${this.cgroup}\n` : '';
    const text = `${HEADER}${this.boot}\n${tree}${[...this.live.values()].join('')}`;
    const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW | fsc.O_APPEND, 0o600);
    try {
      writeSync(fd, text);
      renameSync(tmp, this.journal);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = fd;
    this.lines = this.live.size + 1;
  }

  /** The records a previous daemon left: the journal's live ones and per-pid files of earlier versions. */
  private recorded(): Map<number, PidRecord> {
    const found = new Map<number, PidRecord>();
    for (const name of readdirSync(this.dir)) {
      const file = join(this.dir, name);
      try {
        const st = lstatSync(file);
        if (st.isFile() && st.uid === this.uid) {
          if (name === 'journal')
            for (const [pid, r] of replayJournal(readFileSync(file, 'latin1'), this.boot)) found.set(pid, r);
          else if (/^\d+$/.test(name)) found.set(Number(name), { start: readFileSync(file, 'utf8').trim() });
        }
      } catch {
        // Gone meanwhile.
      }
      if (name !== 'journal') rmSync(file, { force: true });
    }
    return found;
  }

  /**
   * The unit cgroups a previous daemon left in its tree (the journal's, and ours): cgroup.kill, and
   * wait until each is empty (inotify on cgroup.events), then rmdir.
   */
  private async reapCgroups(timeoutMs: number): Promise<void> {
    const trees = new Set<string>();
    if (this.cgroup !== undefined) trees.add(this.cgroup);
    if (this.enabled) {
      try {
        const st = lstatSync(this.journal);
        if (st.isFile() && st.uid === this.uid)
          for (const t of journalCgroups(readFileSync(this.journal, 'latin1'), this.boot)) trees.add(t);
      } catch {
        // No journal.
      }
    }
    const dirs = [...trees].flatMap((t) => new CgroupTree(t).leftovers());
    if (dirs.length === 0) return;
    const killed = await reapCgroups(dirs, timeoutMs);
    if (killed.length > 0)
      this.log.notice(
        `Killed the processes of ${killed.length} service cgroup(s) left running by a previous daemon: ${killed.map((d) => basename(d)).join(', ')}.`,
      );
  }

  /**
   * Kills what a previous daemon left running (SIGKILL to each recorded group whose leader is still
   * the recorded process) and waits until those groups are gone, at most `timeoutMs`. Starts a new,
   * empty journal.
   */
  async reapOrphans(timeoutMs = 5000): Promise<number[]> {
    await this.reapCgroups(timeoutMs);
    if (!this.enabled) return [];
    const killed: number[] = [];
    for (const [pid, record] of this.recorded()) {
      if (pid <= 1 || !isRecorded(pid, record)) continue;
      try {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          process.kill(pid, 'SIGKILL');
        }
        killed.push(pid);
      } catch {
        // Gone meanwhile.
      }
    }
    try {
      this.live.clear();
      this.rewrite();
      // Exits not written yet when the daemon exits are written then.
      process.once('exit', this.onExit);
    } catch (err) {
      this.log.warning(`${this.journal}: ${(err as Error).message}; service processes are not recorded`);
      this.enabled = false;
    }
    if (killed.length === 0) return killed;
    this.log.notice(
      `Killed ${killed.length} service process group(s) left running by a previous daemon: ${killed.join(', ')}.`,
    );
    const deadline = Date.now() + timeoutMs;
    while (killed.some((pgid) => groupMembers(pgid).length > 0)) {
      if (Date.now() > deadline) {
        this.log.warning(
          `process groups ${killed.filter((g) => groupMembers(g).length > 0).join(', ')} did not go away after SIGKILL`,
        );
        break;
      }
      // SIGKILL is delivered asynchronously; the kernel frees the sockets when the last member exits.
      await new Promise((r) => setTimeout(r, 10));
    }
    return killed;
  }
}
