/**
 * The environment a service process gets. Nothing of the daemon's own environment leaks, as with
 * systemd (exec_context build_environment() + the manager's default environment). The exact list:
 *
 * 1. `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin` (systemd's default for system services);
 * 2. `LANG` (and other `LC_*`) when the daemon has them — systemd takes them from locale.conf;
 * 3. `INVOCATION_ID` (32 hex digits, new per start);
 * 4. `USER` always (root without `User=`), and with SetLoginEnvironment= (default: on with `User=` or
 *    `PAMName=`) `LOGNAME`, `HOME` unless it is `/`, `SHELL` unless it is a nologin shell — for every
 *    command, `+`/`!`/`!!` ones too (systemd 257 build_environment(), see userEnvironment());
 * 5. `LISTEN_FDS`, `LISTEN_FDNAMES` (and `LISTEN_PID`, set to the service's own PID by the exec
 *    launcher), or `REMOTE_ADDR`/`REMOTE_PORT` for Accept=yes instances;
 * 6. `SYSTEMD_EXEC_PID` (the process' own PID, set by the launcher, as systemd ≥ 248);
 * 7. `Environment=` assignments, then `EnvironmentFile=` (read right before exec; it wins).
 */
import { parseBoolean, type ServiceUnit } from '@mptcp/unit';
import { readEnvironmentFiles } from './environment-file.js';
import { randomId128 } from './random-id.js';
import { loginUser } from './user.js';

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
  Object.assign(env, userEnvironment(input.service));
  Object.assign(env, input.activation ?? {});
  for (const [k, v] of input.service.environment) env[k] = v;
  for (const [k, v] of readEnvironmentFiles(input.service.environmentFiles, input.service.name)) env[k] = v;
  return env;
}

/**
 * SetLoginEnvironment= as exec_context_get_set_login_environment(): the last assignment (parse_tristate():
 * an empty one resets, an invalid one is ignored), else on with `User=` or `PAMName=`. `explicit` is
 * an assigned yes, which makes the user's passwd entry win over the synthesized root/nobody.
 */
export function setLoginEnvironment(service: ServiceUnit): { on: boolean; explicit: boolean } {
  let set: boolean | undefined;
  for (const v of service.extra['SetLoginEnvironment'] ?? []) {
    if (v === '') set = undefined;
    else {
      const b = parseBoolean(v);
      if (b.ok) set = b.value;
    }
  }
  return { on: set ?? (service.user !== undefined || service.pamName !== undefined), explicit: set === true };
}

/**
 * USER, LOGNAME, HOME and SHELL as systemd 257's build_environment() sets them (a system manager):
 * the user is `User=`'s, else root; `USER` always, the other three only with SetLoginEnvironment=,
 * and `HOME` not when it is `/`, `SHELL` not when it is a placeholder (nologin, true, false), both
 * path_simplify()'d. The `+`, `!` and `!!` prefixes change who runs the command, not these.
 */
export function userEnvironment(service: ServiceUnit): Record<string, string> {
  const login = setLoginEnvironment(service);
  const pam = service.pamName !== undefined;
  // Without User= a system manager queries root, synthesized, unless PAMName= makes it its own user
  // (we run as root) from the passwd file; an explicit SetLoginEnvironment=yes prefers the file too.
  const fromFile = (service.user !== undefined || pam) && (login.explicit || pam);
  const user = loginUser(service.user ?? 'root', fromFile, service.name);
  const env: Record<string, string> = { USER: user.name };
  if (!login.on) return env;
  env.LOGNAME = user.name;
  const home = user.home !== undefined ? simplifyPath(user.home) : undefined;
  if (home !== undefined && home !== '/') env.HOME = home;
  const shell = user.shell !== undefined ? simplifyPath(user.shell) : undefined;
  if (shell !== undefined && !PLACEHOLDER_SHELLS.has(shell)) env.SHELL = shell;
  return env;
}

/** is_nologin_shell(): the shells that only refuse a login. */
const PLACEHOLDER_SHELLS = new Set([
  '/bin/nologin',
  '/sbin/nologin',
  '/usr/bin/nologin',
  '/usr/sbin/nologin',
  '/bin/false',
  '/usr/bin/false',
  '/bin/true',
  '/usr/bin/true',
]);

/** path_simplify() of an absolute path: no empty or `.` components, no trailing slash (`..` stays). */
function simplifyPath(path: string): string {
  return `/${path
    .split('/')
    .filter((c) => c !== '' && c !== '.')
    .join('/')}`;
}

/** LISTEN_FDS and LISTEN_FDNAMES for `names.length` fds (LISTEN_PID is set by the launcher). */
export function listenEnvironment(names: readonly string[]): Record<string, string> {
  return { LISTEN_FDS: String(names.length), LISTEN_FDNAMES: names.join(':') };
}
