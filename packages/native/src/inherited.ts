/**
 * Listening sockets passed by a supervisor (systemd, mptcpd-lite activate/dev, systemfd) through
 * LISTEN_FDS/LISTEN_PID. A listen() on the address one of them is bound to adopts it instead of
 * opening a new socket — as Rust's listenfd does for systemfd — so a restarted app takes over the
 * socket that kept the connections waiting in its backlog. Each passed socket is adopted once.
 */
import { sockName, isListening, socketType } from './primitives.js';
import type { SockAddr } from './types.js';

const SD_LISTEN_FDS_START = 3;

interface Passed {
  fd: number;
  local: SockAddr & { family: 'inet' | 'inet6' };
  taken: boolean;
}

let passed: Passed[] | undefined;

/** The passed IP stream listeners of this process (read once; fds that are not such sockets are skipped). */
function inherited(): Passed[] {
  if (passed) return passed;
  passed = [];
  const env = process.env;
  if (env['LISTEN_PID'] !== String(process.pid)) return passed;
  const n = Number(env['LISTEN_FDS']);
  if (!Number.isInteger(n) || n <= 0) return passed;
  for (let fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
    try {
      if (socketType(fd) !== 'stream' || !isListening(fd)) continue;
      const local = sockName(fd);
      if (local.family === 'inet' || local.family === 'inet6') passed.push({ fd, local, taken: false });
    } catch {
      // not a socket, or closed: not ours to adopt
    }
  }
  return passed;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

function hostMatches(wanted: string | undefined, local: Passed['local']): boolean {
  if (wanted === undefined || WILDCARDS.has(wanted)) return true;
  if (WILDCARDS.has(local.address)) return true;
  const norm = (a: string): string => a.replace(/^::ffff:/i, '').toLowerCase();
  return norm(wanted) === norm(local.address);
}

/**
 * The fd of a passed listener bound to `port` (not 0) on `host` (a wildcard or no host matches any
 * address; a passed wildcard listener matches any host), marked as taken; undefined when none.
 */
export function takeInheritedListener(host: string | undefined, port: number): number | undefined {
  if (!(port > 0)) return undefined;
  const match = inherited().find((p) => !p.taken && p.local.port === port && hostMatches(host, p.local));
  if (!match) return undefined;
  match.taken = true;
  return match.fd;
}

/** Whether any passed listener is still free (cheap after the first call). */
export function hasInheritedListeners(): boolean {
  return inherited().some((p) => !p.taken);
}

/** Testing: forget what was read from the environment. */
export function resetInheritedListeners(): void {
  passed = undefined;
}
