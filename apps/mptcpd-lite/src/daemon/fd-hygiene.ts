/**
 * Fds the daemon inherited (a careless parent, a shell's stray redirections) must not reach the
 * services it starts: systemd closes everything it did not open. Node's own fds are close-on-exec
 * already; this marks every other fd ≥ 3 close-on-exec too, once, at start.
 */
import { readdirSync } from 'node:fs';
import { setCloexec } from '@mptcp/native';

/** Returns the fds that were marked (for logging); [] when /proc or the addon is unavailable. */
export function closeInheritedFdsOnExec(): number[] {
  let fds: number[];
  try {
    fds = readdirSync('/proc/self/fd')
      .map(Number)
      .filter((fd) => Number.isInteger(fd) && fd >= 3);
  } catch {
    return [];
  }
  const marked: number[] = [];
  for (const fd of fds) {
    try {
      setCloexec(fd, true);
      marked.push(fd);
    } catch {
      // the directory fd of the listing above, already closed
    }
  }
  return marked;
}
