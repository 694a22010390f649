/**
 * Every service process the daemon starts, recorded on disk so that a daemon killed with SIGKILL
 * leaves nothing it cannot find again: `<control socket>.pids/<pid>` holds the process' start time
 * (field 22 of /proc/PID/stat). The next daemon on the same control socket — once it knows no other
 * daemon answers there — kills every recorded process group whose leader still has that pid and
 * start time, and waits until the group is gone, before it opens its sockets: an orphaned Accept=no
 * service no longer holds the port (EADDRINUSE) and no orphaned instance keeps running.
 *
 * Why this mechanism: it needs no cgroup delegation (often unavailable in containers), no change in
 * how processes are spawned (PR_SET_PDEATHSIG would also fire when the spawning thread exits) and
 * works for services whose own children share their process group (every service is a session and
 * group leader: setsid).
 */
import { mkdirSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** The start time of `pid` in clock ticks since boot, or undefined when it is gone or a zombie. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may contain spaces and parentheses: the fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return rest[19];
  } catch {
    return undefined;
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

export interface ChildRegistryLog {
  warning(message: string): void;
  notice(message: string): void;
}

export class ChildRegistry {
  private enabled = true;
  /** Per pid: the pending write/unlink, so that an unlink never overtakes its write. */
  private readonly pending = new Map<number, Promise<void>>();

  constructor(
    readonly dir: string,
    private readonly log: ChildRegistryLog,
    private readonly uid = process.getuid?.() ?? 0,
  ) {}

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
    } catch (err) {
      this.log.warning(`${this.dir}: ${(err as Error).message}; service processes are not recorded`);
      this.enabled = false;
    }
    return this.enabled;
  }

  /**
   * Records `pid` at once (a small synchronous write: the record must exist before a SIGKILL of the
   * daemon could orphan the process); the removal on exit is asynchronous.
   */
  add(pid: number): void {
    if (!this.enabled) return;
    const start = startTimeOf(pid);
    if (start === undefined) return;
    try {
      writeFileSync(join(this.dir, String(pid)), `${start}\n`, { mode: 0o600 });
    } catch {
      // A full or read-only file system: the process runs unrecorded.
    }
  }

  remove(pid: number): void {
    if (!this.enabled) return;
    this.chain(pid, () => unlink(join(this.dir, String(pid))));
  }

  private chain(pid: number, op: () => Promise<void>): void {
    const next = (this.pending.get(pid) ?? Promise.resolve()).then(op).catch(() => undefined);
    this.pending.set(pid, next);
    void next.then(() => {
      if (this.pending.get(pid) === next) this.pending.delete(pid);
    });
  }

  /**
   * Kills what a previous daemon left running (SIGKILL to each recorded group whose leader is still
   * the recorded process) and waits until those groups are gone, at most `timeoutMs`.
   */
  async reapOrphans(timeoutMs = 5000): Promise<number[]> {
    if (!this.enabled) return [];
    const killed: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const file = join(this.dir, name);
      const pid = Number(name);
      try {
        const st = lstatSync(file);
        const recorded = readFileSync(file, 'utf8').trim();
        if (/^\d+$/.test(name) && pid > 1 && st.isFile() && st.uid === this.uid && startTimeOf(pid) === recorded) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            process.kill(pid, 'SIGKILL');
          }
          killed.push(pid);
        }
      } catch {
        // Gone meanwhile, or not a process group leader any more.
      }
      rmSync(file, { force: true });
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
