/**
 * The engine's side of conditions (conditions.ts evaluates them): the hooks of a service's start
 * (service-start.ts startRun()) and of a socket's (socket-runtime.ts open()).
 *
 * ExecCondition= as systemd 257 (service.c service_enter_condition(), service_sigchld_event()): its
 * commands run first, before ExecStartPre=, one after the other as control processes (the `-`,
 * `+`, `!`, `:` and `@` prefixes as for ExecStartPre=; a `-` failure counts as success). Exit 0:
 * the next, then ExecStartPre=. Exit 1–254 (also 203 for a missing executable): the start is
 * skipped — ExecStopPost= runs with SERVICE_RESULT=exec-condition, the unit is inactive (dead) with
 * Result=exec-condition and ConditionResult=no, `Skipped due to 'exec-condition'.` and `Condition
 * check resulted in UNIT being skipped.` (info), the start job succeeds, and Restart= never
 * applies. Exit 255 or a signal: the start fails (`Condition check process exited, …`, result
 * exit-code/signal/core-dump) as a failed ExecStartPre= does.
 */
import type { ExecCommand, SocketUnit } from '@mptcp/unit';
import { markExecConditionSkipped, testStartConditions } from './conditions.js';
import type { StartReport } from './engine-types.js';
import { ActivationError } from './errors.js';
import type { ExitStatus } from './exec.js';
import { unitStatusString } from './logger.js';
import { resultOfExit } from './restart-policy.js';
import { succeeded } from './service-exec.js';
import type { ServiceParts } from './service-run.js';
import { describeControlExit } from './socket-exec.js';

/** The error a skipped start ends with: the start job is done, nothing runs (not a failure). */
export function conditionUnmet(unit: string): ActivationError {
  return new ActivationError('CONDITION_UNMET', `Condition check resulted in ${unit} being skipped.`, { unit });
}

/** Condition*=/Assert*= at a service's start: throws CONDITION_UNMET (logged) or JOB_ASSERT (logged). */
export function checkServiceConditions(s: ServiceParts): void {
  if (!testStartConditions(s.p, s.p.unit, s.log)) throw conditionUnmet(s.p.name);
}

/** Runs the ExecCondition= commands (see the top). Throws CONDITION_UNMET to skip, EXEC_FAILED to fail. */
export async function runExecConditions(
  s: ServiceParts,
  runControl: (cmd: ExecCommand) => Promise<ExitStatus>,
  checkNotStopped: () => void,
): Promise<void> {
  const { p, run, log } = s;
  const list = p.unit.execCondition;
  if (list.length === 0) return;
  s.timers.armStartIfPending();
  for (const cmd of list) {
    const status = await runControl(cmd);
    checkNotStopped();
    if (succeeded(status) || cmd.ignoreFailure) continue;
    if (status.signal === null && status.code !== null && status.code < 255) {
      run.result = 'exec-condition';
      throw conditionUnmet(p.name);
    }
    // 255 is EXIT_EXCEPTION in 257's exit status table.
    const how = status.code === 255 ? 'code=exited, status=255/EXCEPTION' : describeControlExit(status);
    log.warn(`Condition check process exited, ${how}`, { unit: p.name });
    if (run.result === 'success') run.result = resultOfExit(status.code, status.signal, true);
    throw new ActivationError('EXEC_FAILED', `Condition check process exited (ExecCondition=${cmd.raw})`, {
      unit: p.name,
    });
  }
}

/**
 * After ExecStopPost= of a start ExecCondition= skipped: the unit is inactive (dead), Result=
 * exec-condition, and 257's two lines. Returns false for any other error (the caller fails the start).
 */
export function endSkippedStart(s: ServiceParts, err: unknown): boolean {
  if ((err as { code?: string }).code !== 'CONDITION_UNMET' || s.run.result !== 'exec-condition') return false;
  const { p, run, log } = s;
  s.exec.releaseControlContext();
  run.control = undefined;
  p.controlPid = undefined;
  s.timers.clearStart();
  s.options.notify?.unregister(p);
  markExecConditionSkipped(p);
  p.lastResult = 'exec-condition';
  log.info("Skipped due to 'exec-condition'.", { unit: p.name });
  log.info(`Condition check resulted in ${unitStatusString(p.name, p.unit.unit.description)} being skipped.`, {
    unit: p.name,
    bare: true,
  });
  s.setState('inactive', 'dead');
  p.fdStore.releaseUnlessPreserved(p.unit.fileDescriptorStorePreserve, false);
  return true;
}

/**
 * Condition*=/Assert*= at a socket's start (unit_start() before socket_start()): unmet, the socket
 * stays dead (nothing is bound) and the start succeeds; a failed assert fails the job (JOB_ASSERT in
 * the report). Returns whether the socket goes on opening. `holder` keeps the results for status.
 */
export function socketConditionsMet(
  holder: object,
  unit: SocketUnit,
  report: StartReport,
  log: ServiceParts['log'],
): boolean {
  try {
    return testStartConditions(holder, unit, log);
  } catch (err) {
    const e = err as ActivationError;
    report.failed.push({ unit: unit.name, error: e.message, code: e.code });
    return false;
  }
}

/** Whether a unit has checks to run at its start (a socket with them is not pre-opened at daemon start). */
export function hasStartConditions(unit: { unit: { conditions?: unknown[]; asserts?: unknown[] } }): boolean {
  return (unit.unit.conditions?.length ?? 0) > 0 || (unit.unit.asserts?.length ?? 0) > 0;
}
