/**
 * What systemd 257 says when a start job ends badly: the manager's job line (job.c
 * job_done_message_format(): `Failed to start UNIT - DESCRIPTION.`, `Failed to listen on …` for a
 * socket) and systemctl's answer (src/shared/bus-wait-for-jobs.c log_job_error_with_service_result():
 * `Job for UNIT failed because <why>.`, the why chosen by the service's Result=).
 * Recorded with the oracle: test/fixtures/v257/failed-start.
 */
import { unitStatusString } from './logger.js';

/** bus-wait-for-jobs.c's explanations, by the service's Result= (257's words, its typo included). */
export const JOB_FAILURE_EXPLANATIONS: Readonly<Record<string, string>> = {
  resources: 'of unavailable resources or another system error',
  protocol: 'the service did not take the steps required by its unit configuration',
  timeout: 'a timeout was exceeded',
  'exit-code': 'the control process exited with error code',
  signal: 'a fatal signal was delivered to the control process',
  'core-dump': 'a fatal signal was delivered causing the control process to dump core',
  watchdog: 'the service failed to send watchdog ping',
  'start-limit-hit': 'start of the service was attempted too often',
  'oom-kill': 'of an out-of-memory (OOM) siutation',
};

/** systemctl's first line for a failed start job of a service: `Job for UNIT failed because ….` or `Job for UNIT failed.` */
export function jobFailedMessage(unit: string, result: string | undefined): string {
  const why = result === undefined ? undefined : JOB_FAILURE_EXPLANATIONS[result];
  return why === undefined ? `Job for ${unit} failed.` : `Job for ${unit} failed because ${why}.`;
}

/** The manager's line for a failed start job: `Failed to start UNIT - DESCRIPTION.` (a socket: `Failed to listen on …`). */
export function failedToStartLine(unit: string, description: string | undefined): string {
  const what = unit.endsWith('.socket') ? 'Failed to listen on' : 'Failed to start';
  return `${what} ${unitStatusString(unit, description)}.`;
}
