/**
 * Helpers for a daemon that opens thousands of sockets at start-up and then idles
 * (addon_startup.cc). All are optimizations only: without the addon, or with one built before
 * them, they do nothing and say so (false).
 */
import { binding } from './binding.js';

/**
 * Grows the process's fd table once, on a short-lived native thread, so that it holds `count` fds
 * (fds 0 … count-1); returns at once. The kernel starts a table with 64 slots and doubles it when a
 * new fd does not fit; in a multi-threaded process (every Node process) each doubling waits for an
 * RCU grace period, ~10 ms of wall time without CPU: 1,000 listening sockets opened one after
 * another wait through 5 of them. Called early (before the units are parsed), the one resize
 * happens while the caller does other work. True when the resize was started.
 */
export function reserveFds(count: number): boolean {
  try {
    return binding().reserveFds?.(Math.max(0, Math.min(Math.floor(count), 2 ** 31 - 1))) ?? false;
  } catch {
    return false;
  }
}

/**
 * glibc's malloc_trim(0): hands the free pages of malloc's heaps back to the kernel. For a daemon
 * once it is ready and idle (start-up's short-lived native allocations leave them resident). True
 * when memory was released.
 */
export function trimMallocHeap(): boolean {
  try {
    return binding().mallocTrim?.() ?? false;
  } catch {
    return false;
  }
}

/**
 * Sets V8 flags as node:v8's setFlagsFromString() does (the same V8 call), without loading node:v8,
 * which brings node:stream and the other stream modules with it (~1.4 MB of an idle daemon's RSS).
 * False when the addon cannot do it (not loaded, built before this, or a Node binary that does not
 * export the V8 function): then nothing was set and the caller may use node:v8.
 */
export function setV8Flags(flags: string): boolean {
  try {
    return binding().setV8Flags?.(flags) ?? false;
  } catch {
    return false;
  }
}

/**
 * Reads many small files in one addon call (a daemon's start-up reads thousands of unit files: one
 * call instead of an open, a read and a close through node:fs for each). Each file is opened
 * O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC and read to its end (for regular files: a short read
 * ends it, no read() to see 0). Returns per path its bytes (a
 * view into one buffer shared by all of them), or undefined for a file the caller must read itself:
 * empty, more than `maxBytes`, or an open/read error (a FIFO: EAGAIN). Undefined as a whole when the
 * addon cannot (not loaded, or built before this).
 */
export function readSmallFiles(paths: readonly string[], maxBytes: number): Array<Buffer | undefined> | undefined {
  let r: { data: Buffer; lengths: Int32Array } | undefined;
  try {
    r = binding().readSmallFiles?.(paths as string[], Math.max(0, Math.min(Math.floor(maxBytes), 2 ** 31 - 2)));
  } catch {
    return undefined;
  }
  if (!r) return undefined;
  const out = new Array<Buffer | undefined>(paths.length);
  let at = 0;
  for (let i = 0; i < paths.length; i++) {
    const n = r.lengths[i] ?? 0;
    if (n > 0) {
      out[i] = r.data.subarray(at, at + n);
      at += n;
    } else out[i] = undefined;
  }
  return out;
}
