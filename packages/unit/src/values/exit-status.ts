/**
 * The exit-status lists of a service (SuccessExitStatus=, RestartPreventExitStatus=,
 * RestartForceExitStatus=), as systemd 257's config_parse_set_status() reads them: whitespace-separated
 * words (no quoting), each an exit status (exit_status_from_string(): one of the names of
 * `systemd-analyze exit-status`, else safe_atou8() — base 0, so `0x10` is 16) or else a signal
 * (signal_from_string(): `SIGUSR1`, `USR1`, a number 1..64, `RTMIN+n`); other words are warned about
 * ("Failed to parse value, ignoring: WORD") and skipped. An empty assignment empties the list.
 */
import { parseSignal } from '../service-directives.js';
import { parseUnsignedBig } from './integer.js';

/** exit_status_mappings[] (src/shared/exit-status.c): every class (libc, systemd, LSB, BSD). */
export const EXIT_STATUS_NAMES: Readonly<Record<string, number>> = {
  SUCCESS: 0,
  FAILURE: 1,
  INVALIDARGUMENT: 2,
  NOTIMPLEMENTED: 3,
  NOPERMISSION: 4,
  NOTINSTALLED: 5,
  NOTCONFIGURED: 6,
  NOTRUNNING: 7,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  NOUSER: 67,
  NOHOST: 68,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  OSERR: 71,
  OSFILE: 72,
  CANTCREAT: 73,
  IOERR: 74,
  TEMPFAIL: 75,
  PROTOCOL: 76,
  NOPERM: 77,
  CONFIG: 78,
  CHDIR: 200,
  NICE: 201,
  FDS: 202,
  EXEC: 203,
  MEMORY: 204,
  LIMITS: 205,
  OOM_ADJUST: 206,
  SIGNAL_MASK: 207,
  STDIN: 208,
  STDOUT: 209,
  CHROOT: 210,
  IOPRIO: 211,
  TIMERSLACK: 212,
  SECUREBITS: 213,
  SETSCHEDULER: 214,
  CPUAFFINITY: 215,
  GROUP: 216,
  USER: 217,
  CAPABILITIES: 218,
  CGROUP: 219,
  SETSID: 220,
  CONFIRM: 221,
  STDERR: 222,
  PAM: 224,
  NETWORK: 225,
  NAMESPACE: 226,
  NO_NEW_PRIVILEGES: 227,
  SECCOMP: 228,
  SELINUX_CONTEXT: 229,
  PERSONALITY: 230,
  APPARMOR: 231,
  ADDRESS_FAMILIES: 232,
  RUNTIME_DIRECTORY: 233,
  CHOWN: 235,
  SMACK_PROCESS_LABEL: 236,
  KEYRING: 237,
  STATE_DIRECTORY: 238,
  CACHE_DIRECTORY: 239,
  LOGS_DIRECTORY: 240,
  CONFIGURATION_DIRECTORY: 241,
  NUMA_POLICY: 242,
  CREDENTIALS: 243,
  BPF: 244,
  KSM: 245,
  EXCEPTION: 255,
};

/** A parsed list: exit statuses (0..255) and signal names (`SIGUSR1`, `SIGRTMIN+1`). */
export interface ExitStatusSet {
  status: number[];
  signal: string[];
}

/** One word of a list: an exit status, a signal, or undefined (refused). */
export function parseExitStatusWord(word: string): { status: number } | { signal: string } | undefined {
  const named = Object.prototype.hasOwnProperty.call(EXIT_STATUS_NAMES, word) ? EXIT_STATUS_NAMES[word] : undefined;
  if (named !== undefined) return { status: named };
  const n = parseUnsignedBig(word, { max: 255n });
  if (n.ok) return { status: Number(n.value) };
  const signal = parseSignal(word);
  return signal === undefined ? undefined : { signal };
}

const WORD_SEPARATORS = /[ \t\n\r]+/;

/** The words of one assignment that systemd refuses, in order. */
export function badExitStatusWords(v: string): string[] {
  return v.split(WORD_SEPARATORS).filter((w) => w !== '' && parseExitStatusWord(w) === undefined);
}

/**
 * The list the assignments make, in the order written (as kept in a unit's `extra`): each adds its
 * words, an empty one clears what came before.
 */
export function exitStatusSet(assignments: readonly string[] | undefined): ExitStatusSet {
  const status = new Set<number>();
  const signal = new Set<string>();
  for (const v of assignments ?? []) {
    if (v.trim() === '') {
      status.clear();
      signal.clear();
      continue;
    }
    for (const w of v.split(WORD_SEPARATORS)) {
      if (w === '') continue;
      const r = parseExitStatusWord(w);
      if (r === undefined) continue;
      if ('status' in r) status.add(r.status);
      else signal.add(r.signal);
    }
  }
  return { status: [...status].sort((a, b) => a - b), signal: [...signal] };
}

/** exit_status_set_test(): an exit with this status, or a death (core dumped or not) by this signal. */
export function exitStatusSetHas(set: ExitStatusSet | undefined, code: number | null, signal: string | null): boolean {
  if (set === undefined) return false;
  if (signal !== null) return set.signal.includes(signal);
  return code !== null && set.status.includes(code);
}
