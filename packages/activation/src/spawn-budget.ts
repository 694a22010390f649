/**
 * How many Accept=yes connections may wait for their instance to be spawned at once: as many as the
 * fds left allow (so a small RLIMIT_NOFILE goes to running instances, not to connections held
 * unserved), at least one, at most MAX_STARTS_IN_FLIGHT (spawns overlap, which keeps the
 * connection rate up). One budget for all the engine's sockets.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** At most this many Accept=yes connections wait for their instance to be spawned (all sockets). */
const MAX_STARTS_IN_FLIGHT = 64;
/** fds one waiting connection may cost until its instance runs: the connection, pidfd, output pipes. */
const FDS_PER_START = 4;
const FD_COUNT_TTL_MS = 250;
/**
 * Free fds above which a recent count is trusted: what the waiting connections can take, plus two
 * fds (pidfd, output capture) for each of the ~1900 instances 250 ms at 7500 connections/s start.
 */
const FD_COUNT_MARGIN = MAX_STARTS_IN_FLIGHT * FDS_PER_START + 3840;

let fdLimitCache: number | undefined;

/** RLIMIT_NOFILE (soft), read once from /proc/self/limits; Infinity when unknown. */
function fdLimit(): number {
  if (fdLimitCache === undefined) {
    try {
      const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
      fdLimitCache = m && m[1] !== 'unlimited' ? Number(m[1]) : Number.POSITIVE_INFINITY;
    } catch {
      fdLimitCache = Number.POSITIVE_INFINITY;
    }
  }
  return fdLimitCache;
}

/** The last count of open fds (startsAllowed()). */
let fdCount: { open: number; at: number } | undefined;

/** How many starts may be in flight now (see the file comment). */
function startsAllowed(): number {
  const limit = fdLimit();
  if (!Number.isFinite(limit)) return MAX_STARTS_IN_FLIGHT;
  // Far from the limit (the usual case) a count at most FD_COUNT_TTL_MS old is enough: within that
  // time what is accepted cannot use up the margin, and /proc/self/fd is not listed per
  // connection. Near the limit it is counted each time.
  const now = performance.now();
  if (fdCount && now - fdCount.at < FD_COUNT_TTL_MS && limit - fdCount.open >= FD_COUNT_MARGIN)
    return MAX_STARTS_IN_FLIGHT;
  let open: number;
  try {
    open = readdirSync('/proc/self/fd').length;
  } catch {
    return MAX_STARTS_IN_FLIGHT;
  }
  fdCount = { open, at: now };
  return Math.max(1, Math.min(MAX_STARTS_IN_FLIGHT, Math.floor((limit - open) / FDS_PER_START)));
}

/** Accepted connections whose instance is not spawned yet, against the fd budget. */
export class SpawnBudget {
  inFlight = 0;

  /** Whether accepting one more connection now would hold its fds unserved. */
  exhausted(): boolean {
    return this.inFlight > 0 && this.inFlight >= startsAllowed();
  }
}
