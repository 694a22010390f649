/**
 * Restart= decision (service.c service_shall_restart()) from how the main process ended, and the
 * delay before the restart (RestartSec=, RestartSteps=, RestartMaxDelaySec=:
 * service_restart_usec_next()). For non-oneshot services, SIGHUP/SIGINT/SIGTERM/SIGPIPE count as a
 * clean exit, as in systemd.
 */
import type { RestartPolicy, ServiceUnit } from '@mptcp/unit';

export type ServiceResult =
  | 'success'
  | 'exit-code'
  | 'signal'
  | 'core-dump'
  | 'timeout'
  | 'watchdog'
  | 'protocol'
  | 'start-limit-hit'
  | 'resources'
  | 'exec-condition';

const CLEAN_SIGNALS = new Set(['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE']);
const CORE_SIGNALS = new Set([
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGILL',
  'SIGQUIT',
  'SIGSEGV',
  'SIGSYS',
  'SIGTRAP',
  'SIGXCPU',
  'SIGXFSZ',
]);

export function resultOfExit(code: number | null, signal: string | null, oneshot = false): ServiceResult {
  if (signal !== null) {
    if (!oneshot && CLEAN_SIGNALS.has(signal)) return 'success';
    return CORE_SIGNALS.has(signal) ? 'core-dump' : 'signal';
  }
  return code === 0 ? 'success' : 'exit-code';
}

export function shallRestart(policy: RestartPolicy, result: ServiceResult): boolean {
  switch (policy) {
    case 'no':
      return false;
    case 'always':
      return result !== 'start-limit-hit';
    case 'on-success':
      return result === 'success';
    case 'on-failure':
      return result !== 'success' && result !== 'start-limit-hit';
    case 'on-abnormal':
      return result === 'signal' || result === 'core-dump' || result === 'timeout' || result === 'watchdog';
    case 'on-abort':
      return result === 'signal' || result === 'core-dump';
    case 'on-watchdog':
      return result === 'watchdog';
  }
}

/**
 * The delay before restart number `nth` (1 = the first): RestartSec= for the first, then growing
 * geometrically over RestartSteps= steps up to RestartMaxDelaySec=.
 */
export function restartDelayUsec(
  unit: Pick<ServiceUnit, 'restartUsec' | 'restartSteps' | 'restartMaxDelayUsec'>,
  nth: number,
): number {
  const base = unit.restartUsec;
  const steps = unit.restartSteps ?? 0;
  const max = unit.restartMaxDelayUsec ?? Infinity;
  if (nth <= 1 || steps === 0 || base === 0 || !Number.isFinite(max) || base >= max) return base;
  if (nth > steps) return max;
  // systemd computes in long double and truncates; rounding the double gets the same µs.
  return Math.round(base * Math.pow(max / base, (nth - 1) / steps));
}
