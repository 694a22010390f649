/**
 * Restart= decision (service.c service_shall_restart()) from how the main process ended, and the
 * delay before the restart (RestartSec=, RestartSteps=, RestartMaxDelaySec=:
 * service_restart_usec_next()). For non-oneshot services, SIGHUP/SIGINT/SIGTERM/SIGPIPE count as a
 * clean exit, as in systemd; SuccessExitStatus= adds exit statuses and signals that do (is_clean_exit(),
 * for the main and the control processes), RestartPreventExitStatus=/RestartForceExitStatus= overrule
 * Restart= for the main process's exit (service_shall_restart()). RuntimeMaxSec= is read here too.
 */
import { exitStatusSet, exitStatusSetHas, parseSec, type ExitStatusSet } from '@mptcp/unit';
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
  | 'oom-kill'
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

/**
 * service_sigchld_event(): how a process of the service ended. `oneshot` (257's EXIT_CLEAN_COMMAND:
 * a oneshot's or a control process) takes no signal as clean; `success` is the unit's
 * SuccessExitStatus=. A death by a signal that dumps core is taken as dumped (CLD_DUMPED), which no
 * SuccessExitStatus= makes clean.
 */
export function resultOfExit(
  code: number | null,
  signal: string | null,
  oneshot = false,
  success?: ExitStatusSet,
): ServiceResult {
  if (signal !== null) {
    if (CORE_SIGNALS.has(signal)) return 'core-dump';
    if (!oneshot && CLEAN_SIGNALS.has(signal)) return 'success';
    return exitStatusSetHas(success, null, signal) ? 'success' : 'signal';
  }
  return code === 0 || exitStatusSetHas(success, code, null) ? 'success' : 'exit-code';
}

/** A unit's exit-status lists and runtime limit, parsed once per unit object (a reload makes a new one). */
export interface ExitStatusLists {
  success: ExitStatusSet;
  prevent: ExitStatusSet;
  force: ExitStatusSet;
  /** RuntimeMaxSec= (µs; Infinity when unset or `infinity`). */
  runtimeMaxUsec: number;
  /** RuntimeRandomizedExtraSec= (µs). */
  runtimeRandomizedExtraUsec: number;
}

const listsCache = new WeakMap<object, ExitStatusLists>();

function secOf(v: string | undefined, unset: number): number {
  if (v === undefined || v === '') return unset;
  const r = parseSec(v);
  if (!r.ok) return unset;
  return r.value.infinity ? Infinity : Number(r.value.usec);
}

/** SuccessExitStatus=, RestartPreventExitStatus=, RestartForceExitStatus=, RuntimeMaxSec= of `unit`. */
export function exitStatusLists(unit: Pick<ServiceUnit, 'extra' | 'type'>): ExitStatusLists {
  let lists = listsCache.get(unit);
  if (lists) return lists;
  const extra = unit.extra ?? {};
  const max = secOf(extra['RuntimeMaxSec']?.at(-1), Infinity);
  lists = {
    success: exitStatusSet(extra['SuccessExitStatus']),
    prevent: exitStatusSet(extra['RestartPreventExitStatus']),
    force: exitStatusSet(extra['RestartForceExitStatus']),
    // service_verify(): "RuntimeMaxSec= has no effect in combination with Type=oneshot. Ignoring."
    runtimeMaxUsec: unit.type === 'oneshot' ? Infinity : max,
    runtimeRandomizedExtraUsec: secOf(extra['RuntimeRandomizedExtraSec']?.at(-1), 0),
  };
  listsCache.set(unit, lists);
  return lists;
}

/** resultOfExit() with the unit's SuccessExitStatus=. */
export function resultOfUnitExit(
  unit: Pick<ServiceUnit, 'extra' | 'type'>,
  code: number | null,
  signal: string | null,
  command: boolean,
): ServiceResult {
  return resultOfExit(code, signal, command, exitStatusLists(unit).success);
}

/** is_clean_exit() of a command (control process, oneshot): exit 0 or one in SuccessExitStatus=. */
export function cleanCommandExit(
  unit: Pick<ServiceUnit, 'extra' | 'type'>,
  status: { code: number | null; signal: string | null },
): boolean {
  return resultOfUnitExit(unit, status.code, status.signal, true) === 'success';
}

/**
 * service_shall_restart() after a run that was not stopped by hand: RestartPreventExitStatus= first
 * (never), then RestartForceExitStatus= (always, but not a oneshot that succeeded), then Restart=.
 * `mainExit` is how the main process ended (257's main_exec_status), if it ran.
 */
export function shallRestartUnit(
  unit: Pick<ServiceUnit, 'extra' | 'type' | 'restart'>,
  result: ServiceResult,
  mainExit: { code: number | null; signal: string | null } | undefined,
): boolean {
  if (mainExit) {
    const { prevent, force } = exitStatusLists(unit);
    if (exitStatusSetHas(prevent, mainExit.code, mainExit.signal)) return false;
    if (exitStatusSetHas(force, mainExit.code, mainExit.signal))
      return !(unit.type === 'oneshot' && result === 'success');
  }
  return shallRestart(unit.restart, result);
}

/**
 * service_shall_restart()'s switch on Restart= (257): on-failure is every result but success and
 * exec-condition; on-abnormal also leaves out exit-code (so protocol, resources, timeout, signal,
 * core-dump, watchdog, oom-kill restart); always is everything but exec-condition. start-limit-hit
 * never restarts: 257 enters dead with allow_restart=false for it (service_can_start()).
 */
export function shallRestart(policy: RestartPolicy, result: ServiceResult): boolean {
  if (result === 'start-limit-hit') return false;
  switch (policy) {
    case 'no':
      return false;
    case 'always':
      return result !== 'exec-condition';
    case 'on-success':
      return result === 'success';
    case 'on-failure':
      return result !== 'success' && result !== 'exec-condition';
    case 'on-abnormal':
      return result !== 'success' && result !== 'exit-code' && result !== 'exec-condition';
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
