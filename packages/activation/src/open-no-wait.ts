/**
 * open() of a path the daemon hands to a service (StandardInput=file:, StandardOutput=file:…)
 * without ever waiting in open(): a FIFO opened blocking waits for its other end, and the daemon
 * would stop serving every unit meanwhile. systemd 257 opens these in the forked child
 * (exec-invoke.c acquire_path()), so only that process waits; the daemon cannot, so it opens with
 * O_NONBLOCK and then gives the service an fd without it (a service's stdio is blocking):
 *
 * - a FIFO: its open does not wait once both ends are open, so the daemon holds both ends for a
 *   moment (O_RDWR through /proc/self/fd) while it reopens the FIFO with the caller's flags. An
 *   output FIFO with no reader fails ENXIO at once (257: the process waits for a reader); an input
 *   FIFO with no writer opens, and the service reads end-of-file until one comes (257: the process
 *   waits in open() for a writer);
 * - a regular file or a device: reopened through /proc/self/fd without O_NONBLOCK (reopening it
 *   does not wait); a terminal keeps the O_NONBLOCK open (reopening one can wait for its carrier).
 *
 * Node has no fcntl(F_SETFL), hence the reopen; /proc/self/fd/N reaches the inode the first open
 * found, never a file put at the path since.
 */
import { closeSync, constants as fsc, fstatSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';

const O_CLOEXEC = 0o2000000;

/** isatty(3); node:tty (which loads node:net) only once a character device is named. */
function isTerminal(fd: number): boolean {
  const tty = (process.getBuiltinModule?.('node:tty') ??
    createRequire(import.meta.url)('node:tty')) as typeof import('node:tty');
  return tty.isatty(fd);
}

/** open(path, flags, mode) that never blocks; the fd has the flags' access mode and O_APPEND, not O_NONBLOCK. */
export function openNoWait(path: string, flags: number, mode: number): number {
  const first = openSync(path, flags | fsc.O_NONBLOCK | fsc.O_NOCTTY, mode);
  let fd: number;
  let both: number | undefined;
  try {
    const st = fstatSync(first);
    if (st.isCharacterDevice() && isTerminal(first)) return first;
    const self = `/proc/self/fd/${first}`;
    if (st.isFIFO()) both = openSync(self, fsc.O_RDWR | fsc.O_NONBLOCK | O_CLOEXEC);
    // O_CREAT, O_EXCL and O_TRUNC did their work in the first open.
    fd = openSync(self, (flags & ~(fsc.O_CREAT | fsc.O_EXCL | fsc.O_TRUNC | fsc.O_NONBLOCK)) | fsc.O_NOCTTY);
  } catch (err) {
    closeSync(first);
    throw err;
  } finally {
    if (both !== undefined) closeSync(both);
  }
  closeSync(first);
  return fd;
}
