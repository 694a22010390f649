/**
 * The environment a service process gets. Nothing of the daemon's own environment leaks, as with
 * systemd (exec_context build_environment() + the manager's default environment). The exact list:
 *
 * 1. `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin` (systemd's default for system services);
 * 2. `LANG` (and other `LC_*`) when the daemon has them — systemd takes them from locale.conf;
 * 3. `INVOCATION_ID` (32 hex digits, new per start);
 * 4. `HOME`, `USER`, `LOGNAME`, `SHELL` when `User=` is set;
 * 5. `LISTEN_FDS`, `LISTEN_FDNAMES` (and `LISTEN_PID`, set to the service's own PID by the exec
 *    launcher), or `REMOTE_ADDR`/`REMOTE_PORT` for Accept=yes instances;
 * 6. `SYSTEMD_EXEC_PID` (the process' own PID, set by the launcher, as systemd ≥ 248);
 * 7. `Environment=` assignments, then `EnvironmentFile=` (read right before exec; it wins).
 */
import type { ServiceUnit } from '@mptcp/unit';
import { readEnvironmentFiles } from './environment-file.js';
import { randomId128 } from './random-id.js';
import type { ResolvedUser } from './user.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin';

/** The locale variables a service inherits from the daemon. */
export const LOCALE_VARS = [
  'LANG',
  'LANGUAGE',
  'LC_CTYPE',
  'LC_NUMERIC',
  'LC_TIME',
  'LC_COLLATE',
  'LC_MONETARY',
  'LC_MESSAGES',
  'LC_PAPER',
  'LC_NAME',
  'LC_ADDRESS',
  'LC_TELEPHONE',
  'LC_MEASUREMENT',
  'LC_IDENTIFICATION',
  'LC_ALL',
];

/** A v4 UUID without dashes, as systemd's sd_id128_randomize() (random-id.ts: from a pool of /dev/urandom bytes). */
export function invocationId(): string {
  return randomId128();
}

export interface ServiceEnvironmentInput {
  service: ServiceUnit;
  user?: ResolvedUser;
  /** LISTEN_FDS/LISTEN_FDNAMES or REMOTE_* computed by the caller. */
  activation?: Record<string, string>;
  /** The daemon's environment, for the locale variables only. */
  daemonEnv?: NodeJS.ProcessEnv;
  invocationId?: string;
}

export function buildServiceEnvironment(input: ServiceEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH };
  const daemonEnv = input.daemonEnv ?? process.env;
  for (const name of LOCALE_VARS) {
    const v = daemonEnv[name];
    if (v !== undefined) env[name] = v;
  }
  env.INVOCATION_ID = input.invocationId ?? invocationId();
  if (input.user) {
    env.HOME = input.user.home;
    env.USER = input.user.name;
    env.LOGNAME = input.user.name;
    env.SHELL = input.user.shell;
  }
  Object.assign(env, input.activation ?? {});
  for (const [k, v] of input.service.environment) env[k] = v;
  for (const [k, v] of readEnvironmentFiles(input.service.environmentFiles, input.service.name)) env[k] = v;
  return env;
}

/** LISTEN_FDS and LISTEN_FDNAMES for `names.length` fds (LISTEN_PID is set by the launcher). */
export function listenEnvironment(names: readonly string[]): Record<string, string> {
  return { LISTEN_FDS: String(names.length), LISTEN_FDNAMES: names.join(':') };
}
