/**
 * Restart= decision (service.c service_shall_restart()) from how the main process ended.
 * For non-oneshot services, SIGHUP/SIGINT/SIGTERM/SIGPIPE count as a clean exit, as in systemd.
 */
import type { RestartPolicy } from '@mptcp/unit';

export type ServiceResult = 'success' | 'exit-code' | 'signal' | 'core-dump' | 'timeout' | 'start-limit-hit' | 'resources';

const CLEAN_SIGNALS = new Set(['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE']);
const CORE_SIGNALS = new Set(['SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGQUIT', 'SIGSEGV', 'SIGSYS', 'SIGTRAP', 'SIGXCPU', 'SIGXFSZ']);

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
      return result === 'signal' || result === 'core-dump' || result === 'timeout';
    case 'on-abort':
      return result === 'signal' || result === 'core-dump';
    case 'on-watchdog':
      return false;
  }
}
