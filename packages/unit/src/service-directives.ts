/**
 * The [Service] table, like systemd's load-fragment-gperf.gperf.in: one row per key; its value
 * rows carry their model field (ServiceUnit's value fields are derived from them), default and
 * printer.
 */
import { constants as osConstants } from 'node:os';
import { fail, ok } from './errno.js';
import { envAssignmentIsValid, envReplace } from './environment.js';
import { pathSimplify } from './exec.js';
import { pct } from './format.js';
import type { DirectiveContext, DirectiveParser } from './load-state.js';
import type { KillMode, RestartPolicy, ServiceType } from './model.js';
import { DEFAULT_TIMEOUT_USEC } from './defaults.js';
import { quoteWord } from './quoting.js';
import {
  BOOL,
  custom,
  oneOf,
  optional,
  parsersOf,
  SEC,
  SEC_FIX0,
  UNSIGNED,
  value,
  type ModelFields,
  type ValueType,
} from './registry.js';
import { expandSpecifiers } from './specifiers.js';
import { parseUnitName } from './unit-name.js';
import { parseBoolean } from './values/boolean.js';
import { parseInteger } from './values/integer.js';
import { formatTimespan, parseSecFix0, usecToNumber } from './values/timespan.js';
import {
  type SvcCore,
  svc,
  expand,
  expandOrWarn,
  forEachWord,
  choice,
  checkPath,
  userGroupValid,
  userGroupStrict,
  lenientNameNotice,
  execRow,
  printText,
  userGroupRow,
  fdnameIsValid,
} from './directive-helpers.js';

// ---- service enums ------------------------------------------------------------------------------

const SERVICE_TYPES: readonly ServiceType[] = [
  'simple',
  'exec',
  'forking',
  'oneshot',
  'dbus',
  'notify',
  'notify-reload',
  'idle',
];
const RESTART: readonly RestartPolicy[] = [
  'no',
  'on-success',
  'on-failure',
  'on-abnormal',
  'on-watchdog',
  'on-abort',
  'always',
];
const KILL_MODES: readonly KillMode[] = ['control-group', 'mixed', 'process', 'none'];
/** TimeoutStartFailureMode=/TimeoutStopFailureMode= (service_timeout_failure_mode_table); unset is terminate. */
const TIMEOUT_FAILURE_MODES = ['terminate', 'abort', 'kill'] as const;
const INPUTS = ['null', 'tty', 'tty-force', 'tty-fail', 'socket', 'data'];
const OUTPUTS = ['inherit', 'null', 'tty', 'journal', 'kmsg', 'journal+console', 'kmsg+console', 'socket'];

function stdio(output: boolean, set: (c: DirectiveContext, v: string) => void): DirectiveParser {
  return (v, c) => {
    const m = /^(fd|file|append|truncate):(.*)$/.exec(v);
    if (m) {
      const kind = m[1] as string;
      if (!output && (kind === 'append' || kind === 'truncate'))
        return c.warn(`Failed to parse input specifier, ignoring: ${v}`);
      const arg = expand(c, m[2] as string, (err) =>
        c.warn(`Failed to resolve unit specifiers in '${v}', ignoring: ${err}`),
      );
      if (arg === undefined) return;
      if (kind === 'fd') {
        if (!fdnameIsValid(arg)) return c.warn(`Invalid file descriptor name, ignoring: ${arg}`);
        return set(c, `fd:${arg}`);
      }
      // path_simplify_and_warn(PATH_CHECK_ABSOLUTE|PATH_CHECK_FATAL), but the setting is only skipped.
      if (!arg.startsWith('/')) return c.warn(`${c.key}= path is not absolute: ${arg}`);
      const p = pathSimplify(arg);
      if (p.split('/').includes('..')) return c.warn(`${c.key}= path is not normalized: ${p}`);
      return set(c, `${kind}:${p}`);
    }
    if (output && (v === 'syslog' || v === 'syslog+console')) {
      c.warn(
        `Standard output type ${v} is obsolete, automatically updating to ${v.replace('syslog', 'journal')}. Please update your unit file, and consider removing the setting altogether.`,
      );
      return set(c, v.replace('syslog', 'journal'));
    }
    if (v === 'fd') return set(c, output ? 'fd:stdout' : 'fd:stdin');
    if ((output ? OUTPUTS : INPUTS).includes(v)) return set(c, v);
    c.warn(`Failed to parse ${output ? 'output' : 'input'} specifier, ignoring: ${v}`);
  };
}

/** signal_from_string(): `SIGTERM`, `TERM`, a number, `RTMIN+n`; normalised to the SIG name. */
export function parseSignal(v: string): string | undefined {
  const sigs = osConstants.signals as Readonly<Record<string, number>>;
  const name = v.startsWith('SIG') ? v : `SIG${v}`;
  if (Object.prototype.hasOwnProperty.call(sigs, name) && name !== 'SIGIOT' && name !== 'SIGPOLL') return name;
  if (name === 'SIGIOT') return 'SIGABRT';
  if (name === 'SIGPOLL') return 'SIGIO';
  const rt = /^SIGRT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt) {
    const n = rt[3] === undefined ? 0 : Number(rt[3]);
    if ((rt[1] === 'MIN' && rt[2] === '-') || (rt[1] === 'MAX' && rt[2] === '+') || n > 30) return undefined;
    return name;
  }
  // A number goes through safe_atoi() (base 0: 010 is 8, 08 is invalid), 1..64.
  const num = parseInteger(v);
  if (num.ok && num.value >= 1 && num.value <= 64) {
    const n = num.value;
    const found = Object.keys(sigs).find((k) => sigs[k] === n && k !== 'SIGIOT' && k !== 'SIGPOLL');
    if (found) return found;
    if (n >= 34) return `SIGRTMIN+${n - 34}`;
  }
  return undefined;
}

/** sd_bus_service_name_is_valid(): a unique name (`:1.42`) or 2+ dot-separated elements of [A-Za-z0-9_-] (no leading digit), ≤ 255. */
export function busNameIsValid(s: string): boolean {
  if (s.length === 0 || s.length > 255) return false;
  if (s.startsWith(':')) return /^:[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(s);
  return /^[A-Za-z_-][A-Za-z0-9_-]*(\.[A-Za-z_-][A-Za-z0-9_-]*)+$/.test(s);
}

/**
 * config_parse_environ(): word by word, each applied as it is read; a word with bad syntax (an
 * unknown C escape, an unclosed quote) ends the line with a warning, the words before it stay.
 */
function environment(v: string, c: DirectiveContext): void {
  const u = svc(c);
  if (v === '') {
    u.environment = [];
    return;
  }
  forEachWord(
    v,
    { unquote: true, cunescape: true },
    (w) => {
      const k = expand(c, w, (err) => c.warn(`Failed to resolve specifiers in ${w}, ignoring: ${err}`));
      if (k === undefined) return;
      if (!envAssignmentIsValid(k)) {
        c.warn(`Invalid environment assignment, ignoring: ${k}`);
        return;
      }
      const eq = k.indexOf('=');
      envReplace(u.environment, k.slice(0, eq), k.slice(eq + 1));
    },
    () => c.warn(`Invalid syntax, ignoring: ${v}`),
  );
}

/** config_parse_service_timeout(): 0 = infinity; its own message naming the key. */
const timeoutStart: DirectiveParser = (v, c) => {
  const r = parseSecFix0(v);
  if (!r.ok) return c.warn(`Failed to parse ${c.key}= parameter, ignoring: ${v}`);
  c.state.pending.timeoutStartUsec = usecToNumber(r.value);
  if (c.key === 'TimeoutSec') svc(c).timeoutStopUsec = usecToNumber(r.value);
};

/** config_parse_kill_mode(): empty = control-group; `none` is deprecated (warning). */
const killMode: DirectiveParser = choice(KILL_MODES, 'kill mode specification', (c, v) => {
  if (v === 'none') {
    c.warn(
      "Unit uses KillMode=none. This is unsafe, as it disables systemd's process lifecycle management for the service. Please update the service to use a safer KillMode=, such as 'mixed' or 'control-group'. Support for KillMode=none is deprecated and will eventually be removed.",
    );
  }
  svc(c).killMode = v;
});

/** config_parse_user_group_strv_compat(): each word a valid user/group name, else the unit fails. */
const supplementaryGroups: DirectiveParser = (v, c) => {
  const u = svc(c);
  if (v === '') {
    u.supplementaryGroups = [];
    return;
  }
  forEachWord(
    v,
    { relax: true },
    (word) => {
      let bad = false;
      const k = expand(c, word, (err) => {
        bad = true;
        c.fatal(`Failed to resolve unit specifiers in ${word}: ${err}`);
      });
      if (k === undefined || bad) return false;
      if (!userGroupValid(k)) {
        c.fatal(`Invalid user/group name or numeric ID: ${k}`);
        return false;
      }
      if (!userGroupStrict(k)) lenientNameNotice(c, k);
      u.supplementaryGroups.push(k);
    },
    () => undefined,
  );
};

/** config_parse_service_sockets(): socket unit names, each added once. */
const sockets: DirectiveParser = (v, c) => {
  const u = svc(c);
  // extract_first_word() without flags: quotes are literal.
  forEachWord(
    v,
    {},
    (word) => {
      const k = expandOrWarn(c, word, 'name');
      if (k === undefined) return;
      if (!k.endsWith('.socket') || !parseUnitName(k)) c.warn(`Unit must be of type socket, ignoring: ${k}`);
      else if (!u.sockets.includes(k)) u.sockets.push(k);
    },
    () => c.warn(`Invalid syntax, ignoring: ${v}`),
  );
};

/** signal_from_string(): a number outside 1..64 is ERANGE, anything else unparsable EINVAL. */
const SIGNAL: ValueType<string> = {
  parse: (v) => {
    const s = parseSignal(v);
    return s !== undefined ? ok(s) : fail(parseInteger(v).ok ? 'ERANGE' : 'EINVAL');
  },
  format: (v) => v,
};

/** exec_preserve_mode_from_string(): a boolean or "restart". */
const PRESERVE: ValueType<'no' | 'yes' | 'restart'> = {
  parse: (v) => {
    const b = parseBoolean(v);
    if (b.ok) return ok(b.value ? 'yes' : 'no');
    return v === 'restart' ? ok(v) : fail('EINVAL');
  },
  format: (v) => v,
};

/** StandardInput=/Output=/Error=: printed when not the default (`def` may depend on the unit). */
const printStdio =
  (get: (u: SvcCore) => string, def: (u: SvcCore) => string) =>
  (u: SvcCore, key: string): string[] =>
    get(u) === def(u) ? [] : [`${key}=${pct(get(u))}`];

/**
 * The [Service] table, in the order `printServiceUnit()` writes the settings back. Value rows
 * carry their model field (ServiceUnit's value fields are derived from them), default and printer.
 */
export const SERVICE_TABLE = {
  Type: custom<SvcCore>(
    choice(SERVICE_TYPES, undefined, (c, v) => (c.state.pending.serviceType = v)),
    (u, key) => [`${key}=${u.type}`],
  ),
  ExecCondition: execRow('execCondition'),
  ExecStartPre: execRow('execStartPre'),
  ExecStart: execRow('execStart'),
  ExecStartPost: execRow('execStartPost'),
  ExecReload: execRow('execReload'),
  ExecStop: execRow('execStop'),
  ExecStopPost: execRow('execStopPost'),
  Environment: custom<SvcCore>(environment, (u, key) =>
    u.environment.map(([k, v]) => `${key}=${pct(quoteWord(`${k}=${v}`))}`),
  ),
  EnvironmentFile: custom<SvcCore>(
    (v, c) => {
      const u = svc(c);
      if (v === '') {
        u.environmentFiles = [];
        return;
      }
      const k = expandOrWarn(c, v);
      if (k === undefined) return;
      const optional = k.startsWith('-');
      const p = checkPath(c, optional ? k.slice(1) : k);
      if (p === undefined) return;
      u.environmentFiles.push({ path: p, optional });
    },
    (u, key) => u.environmentFiles.map((f) => `${key}=${pct(`${f.optional ? '-' : ''}${f.path}`)}`),
  ),
  WorkingDirectory: custom<SvcCore>(
    (v, c) => {
      const u = svc(c);
      if (v === '') {
        delete u.workingDirectory;
        return;
      }
      const optional = v.startsWith('-');
      const rest = optional ? v.slice(1) : v;
      if (rest === '~') {
        u.workingDirectory = { path: '~', optional };
        return;
      }
      const sfx = optional ? ', ignoring' : '';
      const k = expand(c, rest, (err) =>
        (optional ? c.warn.bind(c) : c.fatal.bind(c))(
          `Failed to resolve unit specifiers in working directory path '${rest}'${sfx}: ${err}`,
        ),
      );
      if (k === undefined) return;
      const p = checkPath(c, k, !optional);
      if (p === undefined) return;
      u.workingDirectory = { path: p, optional };
    },
    (u, key) => {
      const w = u.workingDirectory;
      return w ? [`${key}=${w.optional ? '-' : ''}${w.path === '~' ? '~' : pct(w.path)}`] : [];
    },
  ),
  User: userGroupRow('user'),
  Group: userGroupRow('group'),
  SupplementaryGroups: custom<SvcCore>(supplementaryGroups, (u, key) =>
    u.supplementaryGroups.map((g) => `${key}=${pct(g)}`),
  ),
  Restart: value(oneOf(RESTART), 'restart', 'no'),
  RestartSec: value(SEC, 'restartUsec', 100_000),
  StandardInput: custom<SvcCore>(
    stdio(false, (c, v) => (svc(c).standardInput = v)),
    printStdio(
      (u) => u.standardInput,
      () => 'null',
    ),
  ),
  StandardOutput: custom<SvcCore>(
    stdio(true, (c, v) => {
      svc(c).standardOutput = v;
      c.state.pending.standardOutputSet = true;
    }),
    printStdio(
      (u) => u.standardOutput,
      (u) => (u.standardInput === 'socket' || u.standardInput.startsWith('tty') ? 'inherit' : 'journal'),
    ),
  ),
  StandardError: custom<SvcCore>(
    stdio(true, (c, v) => (svc(c).standardError = v)),
    printStdio(
      (u) => u.standardError,
      () => 'inherit',
    ),
  ),
  KillSignal: value(SIGNAL, 'killSignal', 'SIGTERM'),
  FinalKillSignal: value(SIGNAL, 'finalKillSignal', 'SIGKILL'),
  SendSIGKILL: value(BOOL, 'sendSIGKILL', true),
  KillMode: custom<SvcCore>(
    (v, c) => (v === '' ? void (svc(c).killMode = 'control-group') : killMode(v, c)),
    (u, key) => (u.killMode !== 'control-group' ? [`${key}=${u.killMode}`] : []),
  ),
  TimeoutStopSec: value(SEC_FIX0, 'timeoutStopUsec', DEFAULT_TIMEOUT_USEC),
  TimeoutStartSec: custom<SvcCore>(timeoutStart, (u, key) =>
    u.timeoutStartUsec === (u.type === 'oneshot' ? Infinity : DEFAULT_TIMEOUT_USEC)
      ? []
      : [`${key}=${formatTimespan(u.timeoutStartUsec)}`],
  ),
  TimeoutSec: custom(timeoutStart),
  NonBlocking: value(BOOL, 'nonBlocking', false),
  Sockets: custom<SvcCore>(sockets, (u, key) =>
    u.sockets.length > 0 ? [`${key}=${u.sockets.map(pct).join(' ')}`] : [],
  ),
  RemainAfterExit: value(BOOL, 'remainAfterExit', false),
  // Settings the service manager resolves (unset: systemd's default there).
  WatchdogSec: optional(SEC, 'watchdogUsec'),
  WatchdogSignal: optional(SIGNAL, 'watchdogSignal'),
  TimeoutStartFailureMode: optional(oneOf(TIMEOUT_FAILURE_MODES), 'timeoutStartFailureMode'),
  TimeoutStopFailureMode: optional(oneOf(TIMEOUT_FAILURE_MODES), 'timeoutStopFailureMode'),
  NotifyAccess: optional(oneOf(['none', 'main', 'exec', 'all']), 'notifyAccess'),
  PIDFile: custom((v, c) => {
    if (v === '') return void delete svc(c).pidFile;
    // config_parse_pid_file(): a specifier error fails the unit (EINVAL, nothing printed for the line).
    const r = expandSpecifiers(v, c.spec);
    if (!r.ok) return c.abort('EINVAL');
    const k = r.value;
    // A relative path is taken below /run.
    const p = checkPath(c, k.startsWith('/') ? k : `/run/${k}`);
    if (p !== undefined) svc(c).pidFile = p;
  }, printText('pidFile')),
  GuessMainPID: optional(BOOL, 'guessMainPID'),
  FileDescriptorStoreMax: optional(UNSIGNED, 'fileDescriptorStoreMax'),
  FileDescriptorStorePreserve: optional(PRESERVE, 'fileDescriptorStorePreserve'),
  RestartSteps: optional(UNSIGNED, 'restartSteps'),
  RestartMaxDelaySec: optional(SEC, 'restartMaxDelayUsec'),
  ReloadSignal: optional(SIGNAL, 'reloadSignal'),
  BusName: custom<SvcCore>(
    (v, c) => {
      // config_parse_bus_name(): specifiers, then sd_bus_service_name_is_valid(); empty is invalid too.
      const k = expand(c, v, (err) => c.warn(`Failed to resolve unit specifiers in ${v}, ignoring: ${err}`));
      if (k === undefined) return;
      if (!busNameIsValid(k)) return c.warn(`Invalid bus name, ignoring: ${k}`);
      svc(c).busName = k;
    },
    printText('busName', String),
  ),
  PAMName: custom<SvcCore>(
    (v, c) => {
      if (v === '') {
        delete svc(c).pamName;
        return;
      }
      const k = expandOrWarn(c, v);
      // config_parse_string(): an empty result (e.g. %i of a non-instance) unsets it.
      if (k === '') delete svc(c).pamName;
      else if (k !== undefined) svc(c).pamName = k;
    },
    printText('pamName', String),
  ),
};

/** ServiceUnit's value fields, derived from the [Service] table's value rows. */
export type ServiceValueFields = ModelFields<typeof SERVICE_TABLE>;

export const SERVICE_DIRECTIVES: Readonly<Record<string, DirectiveParser>> = parsersOf(SERVICE_TABLE);
