/**
 * The app runs in its own session and process group (setsid; pgid = its PID), so stopping it also
 * stops what it started (`sh -c`, `npm run`, workers) — none of them may keep accepting on the
 * shared socket with old code. Signalling the group is @mptcp/native's killProcessGroup().
 */
import { readFileSync, readdirSync } from 'node:fs';

/** State and process group of a process, from /proc/PID/stat; undefined when gone. */
function statOf(pid: number): { state: string; pgrp: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', pgrp: Number(fields[2]) };
}

/** Whether `pid` is alive (not a zombie) and still in process group `pgid`. */
export function inGroup(pid: number, pgid: number): boolean {
  const s = statOf(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X' && s.pgrp === pgid;
}

/** Live (not zombie) processes of a process group, from /proc/PID/stat. */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) if (/^\d+$/.test(e) && inGroup(Number(e), pgid)) out.push(Number(e));
  return out;
}
