/**
 * The limits the engine applies before it activates anything, and their accounting (socket.c,
 * service.c): TriggerLimitIntervalSec=/TriggerLimitBurst= (the socket fails), MaxConnections=/
 * MaxConnectionsPerSource= (a connection is refused), the service's StartLimitIntervalSec=/
 * StartLimitBurst= (the service and its sockets fail), and the counters `status` shows.
 * PollLimit*= only pauses polling: it lives with the watches (socket-runtime.ts).
 */
import type { ServiceUnit, SocketUnit } from '@mptcp/unit';
import { ConnectionLimits } from './connection-limits.js';
import type { Logger } from './logger.js';
import { RateLimit } from './rate-limit.js';
import { type ServiceProcess, markStartLimitHit } from './service-process.js';
import type { SocketRuntime } from './socket-runtime.js';

export const TRIGGER_LIMIT_MESSAGE = 'Trigger limit hit, refusing further activation.';

/** `old` when the settings did not change (its window is kept), else a fresh limit. */
export function updatedLimit(old: RateLimit, intervalUsec: number, burst: number): RateLimit {
  return old.intervalUsec === intervalUsec && old.burst === burst ? old : new RateLimit(intervalUsec, burst);
}

export function triggerLimitOf(unit: SocketUnit): RateLimit {
  return new RateLimit(unit.triggerLimitIntervalUsec, unit.triggerLimitBurst);
}

export function startLimitOf(unit: ServiceUnit): RateLimit {
  return new RateLimit(unit.unit.startLimitIntervalUsec, unit.unit.startLimitBurst);
}

/** MaxConnections=/MaxConnectionsPerSource= of `unit`, keeping the counts of `carried` (a reopened socket's). */
export function connectionLimitsFor(unit: SocketUnit, carried?: ConnectionLimits): ConnectionLimits {
  const limits = carried ?? new ConnectionLimits(unit.maxConnections, unit.maxConnectionsPerSource);
  limits.maxConnections = unit.maxConnections;
  limits.maxPerSource = unit.maxConnectionsPerSource;
  return limits;
}

/** Settings that never need new fds (a reload applies them at once): limits and trigger rate. */
export function applyRuntimeLimits(sock: SocketRuntime, unit: SocketUnit): void {
  sock.triggerLimit = updatedLimit(sock.triggerLimit, unit.triggerLimitIntervalUsec, unit.triggerLimitBurst);
  sock.limits.maxConnections = unit.maxConnections;
  sock.limits.maxPerSource = unit.maxConnectionsPerSource;
}

/** One activation of `sock` within its trigger limit: counted; false when the limit is hit. */
export function takeTrigger(sock: SocketRuntime): boolean {
  if (!sock.triggerLimit.below()) return false;
  sock.counters.triggers += 1;
  return true;
}

/**
 * One start of `process` within its start limit; false (logged with systemd's words, the service
 * `failed`, keeping the result of its last run unless that was success — or dead when that run was
 * skipped by ExecCondition=: see markStartLimitHit()) when the limit is hit.
 */
export function takeStart(startLimit: RateLimit, process: ServiceProcess, log: Logger): boolean {
  if (startLimit.below()) return true;
  log.warn('Start request repeated too quickly.', { unit: process.name });
  const result = markStartLimitHit(process);
  // unit_log_skip() for a last run that ExecCondition= skipped, else unit_log_failure().
  if (result === 'exec-condition') log.info("Skipped due to 'exec-condition'.", { unit: process.name });
  else log.warn(`Failed with result '${result}'.`, { unit: process.name });
  return false;
}
