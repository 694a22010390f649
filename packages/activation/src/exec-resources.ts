/**
 * What the daemon prepares for each process of a service before the spawn, in exec_invoke()'s order:
 * standard input/output files (service-output.ts: 208/STDIN, 209/STDOUT, 222/STDERR), the exec
 * directories (exec-directories.ts: 233…241) and the credentials (credentials.ts: 243/CREDENTIALS).
 * A step that fails logs 257's two lines and the process "exits" with the step's status without
 * running; the hooks in service-exec.ts are one call each.
 */
import type { ExecCommand, ServiceUnit } from '@mptcp/unit';
import { credentialsEnvironment, freshCredentials, removeCredentials, setupCredentials } from './credentials.js';
import { ActivationError, messageOf } from './errors.js';
import type { ServiceChild } from './exec.js';
import {
  execDirectoryEnvironment,
  failedSetupChild,
  removeRuntimeDirectories,
  setupExecDirectories,
} from './exec-directories.js';
import type { Logger } from './logger.js';
import { type OutputRoute, routeOutput } from './service-output.js';
import type { ServiceProcessOptions, StartContext } from './service-types.js';

/**
 * $RUNTIME_DIRECTORY… of the unit's processes, and $CREDENTIALS_DIRECTORY for those that get the
 * credentials (`credentials`: see ServiceExec's getsCredentials()).
 */
export function execResourcesEnvironment(unit: ServiceUnit, credentials = true): Record<string, string> {
  return { ...execDirectoryEnvironment(unit), ...(credentials ? credentialsEnvironment(unit) : {}) };
}

/**
 * The stdio route (its files open), the directories and the credentials for `cmd` run as the
 * credentials' uid/gid; or, when a step fails, the process that failed at it.
 */
export function setupExecResources(
  unit: ServiceUnit,
  creds: { uid?: number | undefined; gid?: number | undefined; user?: { uid: number; gid: number } | undefined },
  cmd: ExecCommand,
  options: ServiceProcessOptions,
  ctx: StartContext,
  pid: () => number | undefined,
): OutputRoute | ServiceChild {
  const log = (message: string): void => options.logger.error(message, { unit: unit.name });
  let route: OutputRoute | undefined;
  try {
    route = routeOutput(unit, options, ctx, pid);
    // `+`/`!` commands too: 257 sets the directories and credentials up for the unit's user.
    const ids = { uid: creds.uid ?? creds.user?.uid, gid: creds.gid ?? creds.user?.gid };
    setupExecDirectories(unit, ids, (m) => options.logger.warn(m, { unit: unit.name }));
    // Once per run (257 reuse): fresh for ExecStartPre= and the first ExecStart= only.
    setupCredentials(unit, ids, () => freshCredentials(unit, cmd));
    return route;
  } catch (err) {
    route?.release?.();
    if (err instanceof ActivationError && err.exitStatus !== undefined) return failedSetupChild(err, cmd.path, log);
    throw err;
  }
}

/**
 * The run is over: runtime directories (unless preserved) and credentials go. At a run's start
 * (`atStart`) only the credentials: 257 removes RuntimeDirectory= when a run ends
 * (service_enter_dead()) and keeps what is in an existing one at the next start
 * (fixtures/v257/runtime-dir-start).
 */
export function releaseExecResources(unit: ServiceUnit, logger: Logger, atStart = false): void {
  try {
    if (!atStart) removeRuntimeDirectories(unit);
    removeCredentials(unit);
  } catch (err) {
    logger.warn(`Failed to remove the runtime directories or credentials: ${messageOf(err)}`, { unit: unit.name });
  }
}
