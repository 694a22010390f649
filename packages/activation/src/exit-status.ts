/**
 * systemd's own exit statuses of a service process that failed a step before its program ran
 * (src/basic/exit-status.h), as systemd 257 names them (`systemd-analyze exit-status`): e.g.
 * `status=218/CAPABILITIES`. Exit codes 0, 1 and 126/127 keep their usual names.
 */
import { errnoMessage, isErrnoName } from '@mptcp/constants';

export const SYSTEMD_EXIT_STATUS: Readonly<Record<number, string>> = {
  // LSB's init script codes and BSD's <sysexits.h>: unit_log_process_exit() names them too (EXIT_STATUS_FULL).
  2: 'INVALIDARGUMENT',
  3: 'NOTIMPLEMENTED',
  4: 'NOPERMISSION',
  5: 'NOTINSTALLED',
  6: 'NOTCONFIGURED',
  7: 'NOTRUNNING',
  64: 'USAGE',
  65: 'DATAERR',
  66: 'NOINPUT',
  67: 'NOUSER',
  68: 'NOHOST',
  69: 'UNAVAILABLE',
  70: 'SOFTWARE',
  71: 'OSERR',
  72: 'OSFILE',
  73: 'CANTCREAT',
  74: 'IOERR',
  75: 'TEMPFAIL',
  76: 'PROTOCOL',
  77: 'NOPERM',
  78: 'CONFIG',
  200: 'CHDIR',
  201: 'NICE',
  202: 'FDS',
  203: 'EXEC',
  204: 'MEMORY',
  205: 'LIMITS',
  206: 'OOM_ADJUST',
  207: 'SIGNAL_MASK',
  208: 'STDIN',
  209: 'STDOUT',
  210: 'CHROOT',
  211: 'IOPRIO',
  212: 'TIMERSLACK',
  213: 'SECUREBITS',
  214: 'SETSCHEDULER',
  215: 'CPUAFFINITY',
  216: 'GROUP',
  217: 'USER',
  218: 'CAPABILITIES',
  219: 'CGROUP',
  220: 'SETSID',
  221: 'CONFIRM',
  222: 'STDERR',
  224: 'PAM',
  225: 'NETWORK',
  226: 'NAMESPACE',
  227: 'NO_NEW_PRIVILEGES',
  228: 'SECCOMP',
  229: 'SELINUX_CONTEXT',
  230: 'PERSONALITY',
  231: 'APPARMOR',
  232: 'ADDRESS_FAMILIES',
  233: 'RUNTIME_DIRECTORY',
  235: 'CHOWN',
  236: 'SMACK_PROCESS_LABEL',
  237: 'KEYRING',
  238: 'STATE_DIRECTORY',
  239: 'CACHE_DIRECTORY',
  240: 'LOGS_DIRECTORY',
  241: 'CONFIGURATION_DIRECTORY',
  242: 'NUMA_POLICY',
  243: 'CREDENTIALS',
  244: 'BPF',
  245: 'KSM',
};

export const EXIT_LIMITS = 205;
export const EXIT_IOPRIO = 211;
export const EXIT_TIMERSLACK = 212;
export const EXIT_SETSCHEDULER = 214;
export const EXIT_CPUAFFINITY = 215;
export const EXIT_GROUP = 216;
export const EXIT_PERSONALITY = 230;
export const EXIT_USER = 217;
export const EXIT_CAPABILITIES = 218;
export const EXIT_CGROUP = 219;
export const EXIT_NETWORK = 225;
export const EXIT_NAMESPACE = 226;
export const EXIT_SECCOMP = 228;
export const EXIT_SECUREBITS = 213;
export const EXIT_SELINUX_CONTEXT = 229;
export const EXIT_APPARMOR = 231;
export const EXIT_ADDRESS_FAMILIES = 232;
export const EXIT_SMACK_PROCESS_LABEL = 236;
export const EXIT_BPF = 244;

/** The status of a failed native launcher step, by its syscall (@mptcp/native spawnProcess). */
const STEP_STATUS: Readonly<Record<string, number>> = {
  coredump_filter: EXIT_LIMITS,
  sched_setattr: EXIT_SETSCHEDULER,
  sched_setaffinity: EXIT_CPUAFFINITY,
  ioprio_set: EXIT_IOPRIO,
  personality: EXIT_PERSONALITY,
  setgroups: EXIT_GROUP,
  setgid: EXIT_GROUP,
  setuid: EXIT_USER,
  // The child's attach to its service's cgroup (cgroup.ts): 257's EXIT_CGROUP.
  cgroup: EXIT_CGROUP,
};

/**
 * What 257's exec child logs when a native launcher step fails (log_exec_error_errno() in
 * exec_invoke()), e.g. `Failed to set up CPU affinity: Invalid argument`; undefined for the steps
 * without such a message here.
 */
export function spawnStepMessage(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { syscall?: unknown; code?: unknown; message?: unknown };
  if (typeof e.syscall !== 'string' || typeof e.code !== 'string' || !isErrnoName(e.code)) return undefined;
  const text =
    e.syscall === 'prctl' && typeof e.message === 'string' && e.message.includes('PR_SET_TIMERSLACK')
      ? 'Failed to set up timer slack'
      : STEP_MESSAGE[e.syscall];
  return text === undefined ? undefined : `${text}: ${errnoMessage(e.code)}`;
}

/** executor.c's last line for a process that failed before its program ran: `Failed at step USER spawning /bin/true: No such process`. */
export function failedAtStep(status: number, path: string, why: string): string {
  return `Failed at step ${SYSTEMD_EXIT_STATUS[status] ?? String(status)} spawning ${path}: ${why}`;
}

/** strerror() of a launcher error's errno name (`No such file or directory`), if it has one. */
export function errnoText(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && isErrnoName(code) ? errnoMessage(code) : undefined;
}

/**
 * setup_namespace()'s words for a mount step that failed: `PATH: strerror` (257: `Failed to set up
 * mount namespacing: /nonexistent/ro: No such file or directory`), from the launcher's `mount ENOENT
 * /nonexistent/ro (…)`; undefined when the error names no path.
 */
export function namespaceFailure(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { path?: unknown; message?: unknown };
  const why = errnoText(error);
  const path =
    typeof e.path === 'string'
      ? e.path
      : typeof e.message === 'string'
        ? /^\S+ [A-Z0-9]+ (\/\S*)/.exec(e.message)?.[1]
        : undefined;
  return path !== undefined && why !== undefined ? `${path}: ${why}` : undefined;
}

/**
 * The executor's lines for a program that could not be executed (exec-invoke.c, executor.c): a path
 * that does not lead to an executable file is `Unable to locate executable 'PATH': …` (notice);
 * another execve() failure `Failed to execute PATH: …`; both end with `Failed at step EXEC spawning
 * PATH: …`. Undefined for an error that is not execve()'s.
 */
export function execStepMessages(error: unknown, path: string): { notice?: string; errors: string[] } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { syscall?: unknown; code?: unknown };
  if (e.syscall !== 'execve' || typeof e.code !== 'string' || !isErrnoName(e.code)) return undefined;
  const why = errnoMessage(e.code);
  const step = `Failed at step EXEC spawning ${path}: ${why}`;
  if (e.code === 'ENOENT' || e.code === 'EACCES')
    return { notice: `Unable to locate executable '${path}': ${why}`, errors: [step] };
  return { errors: [`Failed to execute ${path}: ${why}`, step] };
}

const STEP_MESSAGE: Readonly<Record<string, string>> = {
  coredump_filter: 'Failed to adjust coredump_filter',
  sched_setattr: 'Failed to set up CPU scheduling',
  setpriority: 'Failed to set up process scheduling priority (nice level)',
  sched_setaffinity: 'Failed to set up CPU affinity',
  ioprio_set: 'Failed to set up IO scheduling priority',
  personality: 'Failed to set up execution domain (personality)',
  setgroups: 'Changing group credentials failed',
  setgid: 'Changing group credentials failed',
};

/** `226/NAMESPACE`, `0/SUCCESS`, `127/EXEC` (a failed exec: the sh wrapper's and the native launcher's code), `1/FAILURE`. */
export function exitStatusText(code: number): string {
  if (code === 0) return '0/SUCCESS';
  if (code === 126 || code === 127) return `${code}/EXEC`;
  const name = SYSTEMD_EXIT_STATUS[code];
  return name ? `${code}/${name}` : `${code}/FAILURE`;
}

/**
 * The systemd exit status of a process that failed before its program ran, when it is not 203/EXEC:
 * a refused sandbox step (ActivationError.exitStatus), or a native launcher step systemd reports by
 * its own status (the capability steps: 218/CAPABILITIES; the mount namespace's steps, namespace.ts:
 * 226/NAMESPACE). Undefined for the others.
 */
export function spawnExitStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { exitStatus?: unknown; syscall?: unknown; message?: unknown };
  if (typeof e.exitStatus === 'number') return e.exitStatus;
  if (e.syscall === 'capset') return EXIT_CAPABILITIES;
  // The native launcher's process-attribute and credential steps (exec_invoke()'s statuses).
  const step = typeof e.syscall === 'string' ? STEP_STATUS[e.syscall] : undefined;
  if (step !== undefined) return step;
  if (e.syscall === 'prctl' && typeof e.message === 'string' && e.message.includes('PR_SET_TIMERSLACK'))
    return EXIT_TIMERSLACK;
  if (e.syscall === 'unshare' || e.syscall === 'mount' || e.syscall === 'mount_setattr' || e.syscall === 'lstat')
    return EXIT_NAMESPACE;
  if (
    e.syscall === 'prctl' &&
    typeof e.message === 'string' &&
    /PR_CAPBSET_DROP|PR_CAP_AMBIENT|PR_SET_KEEPCAPS/.test(e.message)
  )
    return EXIT_CAPABILITIES;
  return undefined;
}
