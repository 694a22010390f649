/**
 * The directive tables: one row per [Unit]/[Socket]/[Service] key, like systemd's
 * load-fragment-gperf.gperf.in. A row names the value parser and the field it fills; messages are
 * systemd's own (checked against systemd-analyze verify 252).
 */
import { constants as osConstants } from 'node:os';
import { parseSocketProtocol, type SocketOptionValues } from '@mptcp/constants';
import { parseNetlinkAddress, parseSocketAddress } from './address.js';
import { fail, ok, strerror, type Parsed } from './errno.js';
import { envAssignmentIsValid, envReplace, splitEnvironmentValue } from './environment.js';
import { parseExecValue, pathSimplify } from './exec.js';
import { execLine, formatListenValue, LISTEN_KEYS, pct } from './format.js';
import { ifnameValid } from './interfaces.js';
import { KEY_CHECKS, type KeyCheck } from './known-keys.js';
import type { DirectiveContext, DirectiveParser, LoadState, Pending } from './load-state.js';
import type {
  ExecCommand,
  KillMode,
  ListenKind,
  RestartPolicy,
  ServiceType,
  ServiceUnit,
  ServiceUnitCore,
  SocketUnit,
  SocketUnitCore,
  UnitSection,
  UnitSectionCore as UnitSectionCoreFields,
} from './model.js';
import { DEFAULT_TIMEOUT_USEC } from './defaults.js';
import { extractFirstWord, quoteWord, type ExtractFlags } from './quoting.js';
import {
  BIND_IPV6_ONLY,
  BOOL,
  custom,
  oneOf,
  INT,
  IP_TOS,
  lite,
  LONG,
  MODE,
  optional,
  parseFailed,
  parsersOf,
  SEC,
  SEC_FIX0,
  SIZE,
  socketOptionsOf,
  STRING,
  TIMESTAMPING,
  UNSIGNED,
  value,
  type DirectiveRow,
  type ModelFields,
  type ValueType,
} from './registry.js';
import { expandSpecifiers, type SpecifierSet } from './specifiers.js';
import { parseUnitName } from './unit-name.js';
import { parseBoolean } from './values/boolean.js';
import { parseInteger, parseMode, parseUnsigned } from './values/integer.js';
import { parseSize } from './values/size.js';
import { formatTimespan, parseSec, parseSecFix0, usecToNumber } from './values/timespan.js';

export { parseFailed };

type Sock = SocketUnit;
/** What the [Socket] table's own printers read (SocketUnit itself is derived from the table). */
type Core = SocketUnitCore;
type Limits = SocketUnitCore & { accept: boolean };
type SvcCore = ServiceUnitCore;
type UnitSectionCore = UnitSectionCoreFields;
type Svc = ServiceUnit;
const sock = (c: DirectiveContext): Sock => c.state.unit as Sock;
const svc = (c: DirectiveContext): Svc => c.state.unit as Svc;
const unitSection = (c: DirectiveContext): UnitSection => c.state.unit.unit;

/** Expands specifiers; on failure warns with `message(err)` and returns undefined. */
function expand(
  c: DirectiveContext,
  v: string,
  onError: (err: string) => void,
  set: SpecifierSet = 'full',
): string | undefined {
  const r = expandSpecifiers(v, c.spec, set);
  if (r.ok) return r.value;
  onError(strerror(r.error));
  return undefined;
}

/** expand() with the usual warning: `Failed to resolve unit specifiers in 'V', ignoring: <err>`. */
function expandOrWarn(c: DirectiveContext, v: string, set: SpecifierSet = 'full'): string | undefined {
  return expand(c, v, (err) => c.warn(`Failed to resolve unit specifiers in '${v}', ignoring: ${err}`), set);
}

/**
 * extract_first_word() over a whole value: `word` for each word until it returns false (stop);
 * `bad` on a syntax error.
 */
function forEachWord(v: string, flags: ExtractFlags, word: (w: string) => boolean | void, bad: () => void): void {
  let p = 0;
  for (;;) {
    const r = extractFirstWord(v, p, flags);
    if (!r.ok) return bad();
    if (r.word === undefined) return;
    p = r.rest;
    if (word(r.word) === false) return;
  }
}

// ---- generic value rows ---------------------------------------------------------------------

type Setter<U, T> = (u: U, v: T) => void;

/** A row setting `set(target(c), value)` with the value type's parser (for targets other than a model field). */
function typed<T>(type: ValueType<T>) {
  return <U>(target: (c: DirectiveContext) => U, set: Setter<U, T>): DirectiveParser =>
    (v, c) => {
      const r = type.parse(v);
      if (r.ok) set(target(c), r.value);
      else parseFailed(c, v, r.error);
    };
}

/** A setting whose default depends on others: kept in the load state until loading ends. */
const pending = <T>(type: ValueType<T>, set: Setter<Pending, T>): DirectiveParser =>
  typed(type)((c) => c.state.pending, set);

/** IFNAMSIZ-valid interface names (ifname_valid()). */
const IFNAME: ValueType<string> = { parse: (v) => (ifnameValid(v) ? ok(v) : fail('EINVAL')), format: (v) => v };

/** A choice among fixed strings (DEFINE_CONFIG_PARSE_ENUM); `what` for the few parsers that keep their own message. */
function choice<T extends string>(
  values: readonly T[],
  what: string | undefined,
  set: (c: DirectiveContext, v: T) => void,
): DirectiveParser {
  return (v, c) => {
    if ((values as readonly string[]).includes(v)) set(c, v as T);
    else if (what === undefined) parseFailed(c, v, 'EINVAL');
    else c.warn(`Failed to parse ${what}, ignoring: ${v}`);
  };
}

/** Stores the assignment verbatim (`extra` of the unit, of its [Unit] section, or `install`). */
function store(target: 'unit' | 'section' | 'install', v: string, c: DirectiveContext): void {
  const u = c.state.unit;
  const rec = target === 'unit' ? u.unit.extra : target === 'install' ? u.install : u.extra;
  (rec[c.key] ??= []).push(v);
}

/**
 * Settings we do not interpret (keys without a row) are kept verbatim; the ones systemd checks with
 * a generic parser are checked the same way first (KEY_CHECKS), so that a bad value gives
 * systemd's warning (or error).
 */
function keep(target: 'unit' | 'section' | 'install'): DirectiveParser {
  return (v, c) => {
    const check = KEY_CHECKS[c.section]?.[c.key];
    if (check && !validKept(check, v, c)) return;
    store(target, v, c);
  };
}

/** A row that keeps its value verbatim after the generic check `check`. */
function kept(check: KeyCheck): DirectiveParser {
  return (v, c) => {
    if (validKept(check, v, c)) store('section', v, c);
  };
}

function validKept(check: KeyCheck, v: string, c: DirectiveContext): boolean {
  const fail = (message: string): false => {
    c.warn(message);
    return false;
  };
  const generic = (r: Parsed<unknown>): boolean =>
    r.ok || fail(`Failed to parse ${c.key}=${v}, ignoring: ${strerror(r.error)}`);
  switch (check) {
    case 'bool':
      return generic(parseBoolean(v));
    case 'tristate':
      return v === '' || generic(parseBoolean(v));
    case 'bool!': {
      const r = parseBoolean(v);
      if (r.ok) return true;
      c.fatal(`Failed to parse ${c.key}=${v}: ${strerror(r.error)}`);
      return false;
    }
    case 'sec':
      return generic(parseSec(v));
    case 'mode':
      return generic(parseMode(v));
    case 'unsigned':
      return generic(parseUnsigned(v));
    case 'int':
      return generic(parseInteger(v));
    case 'size':
      return generic(parseSize(v));
    case 'printf':
    case 'path':
    case 'path!': {
      if (v === '') return true;
      const fatal = check === 'path!';
      let failed = false;
      const k = expand(c, v, (err) => {
        failed = true;
        if (fatal) c.fatal(`Failed to resolve unit specifiers in '${v}': ${err}`);
        else c.warn(`Failed to resolve unit specifiers in '${v}', ignoring: ${err}`);
      });
      if (k === undefined || failed) return false;
      if (check === 'printf') return true;
      return checkPath(c, k, fatal) !== undefined;
    }
    case 'paths:': {
      // config_parse_colon_separated_paths(): each ':'-separated path is checked on its own.
      const k = expandOrWarn(c, v);
      if (k === undefined) return false;
      for (const part of k.split(':')) if (part !== '' && checkPath(c, part) === undefined) return false;
      return true;
    }
  }
}

// ---- paths, users, units ---------------------------------------------------------------------

/** path_simplify_and_warn(PATH_CHECK_ABSOLUTE[|FATAL]): returns the simplified path or undefined. */
function checkPath(c: DirectiveContext, p: string, fatal = false): string | undefined {
  const sfx = fatal ? '' : ', ignoring';
  const report = fatal ? c.fatal.bind(c) : c.warn.bind(c);
  if (!p.startsWith('/')) {
    report(`${c.key}= path is not absolute${sfx}: ${p}`);
    return undefined;
  }
  const s = pathSimplify(p);
  if (Buffer.byteLength(s) >= 4096 || s.split('/').some((x) => Buffer.byteLength(x) > 255)) {
    report(`${c.key}= path has invalid length (${Buffer.byteLength(s)} bytes)${fatal ? '' : ', ignoring'}.`);
    return undefined;
  }
  if (s.split('/').includes('..')) {
    report(`${c.key}= path is not normalized${sfx}: ${s}`);
    return undefined;
  }
  return s;
}

/** valid_user_group_name(VALID_USER_ALLOW_NUMERIC|VALID_USER_RELAX). */
function userGroupValid(n: string): boolean {
  if (n === '') return false;
  // parse_uid(): decimal, no leading zero; (uid_t) -1 and the 16-bit -1 are not valid IDs.
  if (/^\d+$/.test(n) && (n === '0' || n[0] !== '0') && Number(n) < 4294967295 && Number(n) !== 65535) return true;
  // Relaxed rules (user-util.c): no blank at either end, no control characters, no ':' or '/',
  // not all digits, not '-' followed by digits only, not "." or "..". No length limit.
  if (n.startsWith(' ') || n.endsWith(' ')) return false;
  if (/[\x00-\x1f\x7f:\/]/.test(n)) return false;
  if (/^\d*$/.test(n) || /^-\d*$/.test(n)) return false;
  return n !== '.' && n !== '..';
}

/** valid_user_group_name() without VALID_USER_RELAX: [a-zA-Z_][a-zA-Z0-9_-]*[$]?, at most 31 characters, or a numeric ID. */
function userGroupStrict(n: string): boolean {
  if (/^\d+$/.test(n)) return true;
  return n.length <= 31 && /^[a-zA-Z_][a-zA-Z0-9_-]*\$?$/.test(n);
}

/** A valid name that strict rules refuse: a notice (printed, not a syntax warning). */
function lenientNameNotice(c: DirectiveContext, name: string): void {
  c.state.diagnostics.push({
    severity: 'warning',
    notice: true,
    file: c.file,
    message: `Accepting user/group name '${name}', which does not match strict user/group name rules.`,
  });
}

/** config_parse_user_group_compat(): empty resets; invalid is fatal. */
function userGroup(set: (c: DirectiveContext, v: string | undefined) => void): DirectiveParser {
  return (v, c) => {
    if (v === '') return set(c, undefined);
    const k = expand(c, v, (err) => c.fatal(`Failed to resolve unit specifiers in ${v}: ${err}`));
    if (k === undefined) return;
    if (!userGroupValid(k)) return c.fatal(`Invalid user/group name or numeric ID: ${k}`);
    if (!userGroupStrict(k)) lenientNameNotice(c, k);
    if (k === 'nobody' && (c.key === 'User' || c.key === 'SocketUser')) {
      // log_struct(LOG_NOTICE, …): printed, but not a syntax warning.
      c.state.diagnostics.push({
        severity: 'warning',
        notice: true,
        file: c.file,
        line: c.line,
        message: 'Special user nobody configured, this is not safe!',
      });
    }
    set(c, k);
  };
}

/** User=/Group= where we do not model them ([Socket]): the same checks, then kept verbatim. */
function keptUserGroup(v: string, c: DirectiveContext): void {
  let accepted = false;
  userGroup(() => {
    accepted = true;
  })(v, c);
  if (accepted) store('section', v, c);
}

// ---- Listen*= ----------------------------------------------------------------------------------

const LISTEN_KIND: Readonly<Record<string, ListenKind>> = {
  ListenStream: 'stream',
  ListenDatagram: 'datagram',
  ListenSequentialPacket: 'seqpacket',
  ListenFIFO: 'fifo',
  ListenSpecial: 'special',
  ListenNetlink: 'netlink',
  ListenMessageQueue: 'mqueue',
  ListenUSBFunction: 'usb-function',
};

/** patch_var_run() (systemd >= 254): `/var/run/...` becomes `/run/...`, with a notice. */
function patchVarRun(c: DirectiveContext, path: string): string {
  if (!path.startsWith('/var/run/')) return path;
  const z = pathSimplify('/run/' + path.slice('/var/run/'.length));
  c.warn(
    `${c.key}= references a path below legacy directory /var/run/, updating ${path} → ${z}; please update the unit file accordingly.`,
  );
  return z;
}

/** config_parse_socket_listen(). */
const listen: DirectiveParser = (v, c) => {
  const u = sock(c);
  if (v === '') {
    u.listen = [];
    return;
  }
  const kind = LISTEN_KIND[c.key] as ListenKind;
  const k = expandOrWarn(c, v);
  if (k === undefined) return;
  const entry = { kind, value: k, file: c.file, line: c.line };
  if (kind === 'fifo' || kind === 'special' || kind === 'mqueue' || kind === 'usb-function') {
    let p = checkPath(c, k);
    if (p === undefined) return;
    if (kind === 'fifo') p = patchVarRun(c, p);
    u.listen.push({ ...entry, value: p, address: { family: 'path', path: p } });
  } else if (kind === 'netlink') {
    const r = parseNetlinkAddress(k);
    if (!r.ok) return c.warn(`Failed to parse address value in '${k}', ignoring: ${strerror(r.error)}`);
    u.listen.push({ ...entry, address: r.value });
  } else {
    const opts: { ipv6?: boolean; interfaces?: NonNullable<LoadState['options']['interfaces']> } = {};
    if (c.state.options.ipv6 !== undefined) opts.ipv6 = c.state.options.ipv6;
    if (c.state.options.interfaces) opts.interfaces = c.state.options.interfaces;
    const a = k.startsWith('/') ? patchVarRun(c, k) : k;
    const r = parseSocketAddress(a, opts);
    if (!r.ok) return c.warn(`Failed to parse address value in '${a}', ignoring: ${strerror(r.error)}`);
    if (r.value.family === 'inet6' && c.state.options.ipv6 === false) {
      // socket_address_parse_and_warn(): a plain log line, then EAFNOSUPPORT, which the caller does not report.
      c.state.diagnostics.push({
        severity: 'warning',
        file: c.file,
        unit: c.state.unit.name,
        message: 'Binding to IPv6 address not available since kernel does not support IPv6.',
      });
      return;
    }
    if (kind === 'seqpacket' && r.value.family !== 'unix')
      return c.warn(`Address family not supported, ignoring: ${v}`);
    u.listen.push({ ...entry, value: a, address: r.value });
  }
  // ListenSpecial= is honoured (the engine opens the file and watches it, as systemd does: a file that
  // cannot be polled, like a regular file, fails the socket with EPERM); the others are not.
  if (c.state.options.liteWarnings !== false && (kind === 'netlink' || kind === 'mqueue' || kind === 'usb-function')) {
    c.warn(`${c.key}= is not supported by mptcpd-lite, ignoring`);
  }
};

// ---- Exec*= ------------------------------------------------------------------------------------

function exec(get: (c: DirectiveContext) => ExecCommand[], reset: (c: DirectiveContext) => void): DirectiveParser {
  return (v, c) => {
    if (v === '') return reset(c);
    const r = parseExecValue(v, c.spec, { file: c.file, line: c.line });
    for (const m of r.messages) (m.fatal ? c.fatal.bind(c) : c.warn.bind(c))(m.message);
    if (r.fatal) return;
    get(c).push(...r.commands);
  };
}

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

// ---- the tables ---------------------------------------------------------------------------------

const JOB_MODES = [
  'fail',
  'replace',
  'replace-irreversibly',
  'isolate',
  'flush',
  'ignore-dependencies',
  'ignore-requirements',
  'triggering',
  'restart-dependencies',
];
/** Kept verbatim after a check with its own message. */
function keepIf(ok: (v: string) => boolean, message: (v: string, key: string) => string): DirectiveParser {
  return (v, c) => (ok(v) ? store('unit', v, c) : c.warn(message(v, c.key)));
}

/** config_parse_unit_deps(): words (no unquoting), each a loadable unit name, else a warning; kept verbatim. */
const dependency: DirectiveParser = (v, c) => {
  // systemd-analyze verify --recursive-errors=no (MANAGER_TEST_RUN_IGNORE_DEPENDENCIES): specifiers are
  // resolved, but unit_add_dependency_by_name() returns before looking at the name.
  const ignore = c.state.options.ignoreDependencies === true;
  forEachWord(
    v,
    { retainEscape: true },
    (word) => {
      const k = expandOrWarn(c, word, 'name');
      if (k === undefined || ignore) return;
      const n = parseUnitName(k);
      if (!n || n.template) c.warn(`Failed to add dependency on ${k}, ignoring: Invalid argument`);
      else if (k === c.state.unit.name) {
        c.state.diagnostics.push({
          severity: 'warning',
          file: c.file,
          unit: k,
          message: `Dependency ${c.key}=${k} is dropped.`,
        });
      }
    },
    () => c.warn(`Invalid syntax, ignoring: ${v}`),
  );
  store('unit', v, c);
};

const DEPENDENCIES = [
  'Requires',
  'Requisite',
  'Wants',
  'BindsTo',
  'BindTo',
  'Upholds',
  'Conflicts',
  'Before',
  'After',
  'OnSuccess',
  'OnFailure',
  'PropagatesReloadTo',
  'PropagateReloadTo',
  'ReloadPropagatedFrom',
  'PropagateReloadFrom',
  'PropagatesStopTo',
  'StopPropagatedFrom',
  'PartOf',
  'JoinsNamespaceOf',
];

/** config_parse_job_mode(): one of JOB_MODES, kept verbatim. */
const jobMode = keepIf(
  (v) => JOB_MODES.includes(v),
  (v, k) => `Failed to parse ${k}=${v}, ignoring: Invalid argument`,
);
/** config_parse_job_timeout_sec() & co.: a time span, with the message naming the key. */
const jobTimeout = keepIf(
  (v) => parseSec(v).ok,
  (v, k) => `Failed to parse ${k}= parameter, ignoring: ${v}`,
);

/**
 * The [Unit] table (both unit types), in the order the printer writes the settings back; its value
 * rows fill the UnitSection (`section: true`), whose value fields are derived from them.
 */
export const UNIT_TABLE = {
  ...Object.fromEntries(DEPENDENCIES.map((k) => [k, custom(dependency)])),
  OnSuccessJobMode: custom(jobMode),
  OnFailureJobMode: custom(jobMode),
  JobTimeoutSec: custom(jobTimeout),
  JobRunningTimeoutSec: custom(jobTimeout),
  OnFailureIsolate: custom((v, c) => {
    // config_parse_job_mode_isolate(): a plain log line (no file:line) for a valid value.
    if (!parseBoolean(v).ok) return c.warn(`Failed to parse boolean, ignoring: ${v}`);
    c.state.diagnostics.push({
      severity: 'warning',
      file: c.file,
      message: 'OnFailureIsolate is deprecated. Please use OnFailureJobMode= instead',
    });
    store('unit', v, c);
  }),
  Description: custom<UnitSectionCore>(
    (v, c) => {
      const k = expandOrWarn(c, v);
      if (k === undefined) return;
      unitSection(c).description = k === '' ? undefined : k;
      if (k === '') delete unitSection(c).description;
    },
    (u, key) => (u.description !== undefined ? [`${key}=${pct(u.description)}`] : []),
  ),
  Documentation: custom<UnitSectionCore>(
    (v, c) => {
      const u = unitSection(c);
      if (v === '') {
        u.documentation = [];
        return;
      }
      forEachWord(
        v,
        { unquote: true, retainEscape: true },
        (word) => {
          const k = expandOrWarn(c, word);
          if (k === undefined || k === '') return;
          if (!/^(https?|file|info|man):/.test(k)) c.warn(`Invalid URL, ignoring: ${k}`);
          else u.documentation.push(k);
        },
        () => parseFailed(c, v, 'EINVAL'),
      );
    },
    (u, key) => u.documentation.map((d) => `${key}=${pct(quoteWord(d))}`),
  ),
  StartLimitIntervalSec: value(SEC, 'startLimitIntervalUsec', 10_000_000, { section: true }),
  StartLimitInterval: value(SEC, 'startLimitIntervalUsec', 10_000_000, { section: true, unprinted: true }),
  StartLimitBurst: value(UNSIGNED, 'startLimitBurst', 5, { section: true }),
  // config_parse_emergency_action(): its own message.
  SuccessAction: value(
    oneOf([
      'none',
      'exit',
      'exit-force',
      'reboot',
      'reboot-force',
      'reboot-immediate',
      'poweroff',
      'poweroff-force',
      'poweroff-immediate',
      'halt',
      'halt-force',
      'halt-immediate',
      'kexec',
      'kexec-force',
      'soft-reboot',
      'soft-reboot-force',
    ]),
    'successAction',
    'none',
    {
      section: true,
      invalid: (v) => `Failed to parse SuccessAction=, ignoring: ${v}`,
    },
  ),
};

/** UnitSection's value fields, derived from the [Unit] table's value rows. */
export type UnitSectionValueFields = ModelFields<typeof UNIT_TABLE>;

export const UNIT_DIRECTIVES: Readonly<Record<string, DirectiveParser>> = parsersOf(UNIT_TABLE);

/**
 * IPPROTO_* names systemd's socket_protocol_from_name() also knows (the IPv6 extension headers of
 * <netinet/in.h>): known, so refused with "Protocol not supported" rather than "Invalid argument".
 */
const IPV6_EXTENSION_PROTOCOLS: ReadonlySet<string> = new Set([
  'hopopts',
  'routing',
  'fragment',
  'icmpv6',
  'none',
  'dstopts',
  'mh',
]);

/** An Exec*= row: the unit's command list `f` (reset by an empty value), printed one line per command. */
function execRow<const K extends string>(f: K): DirectiveRow<Record<K, ExecCommand[]>> {
  const list = (c: DirectiveContext): Record<K, ExecCommand[]> => c.state.unit as unknown as Record<K, ExecCommand[]>;
  return custom(
    exec(
      (c) => list(c)[f],
      (c) => (list(c)[f] = []),
    ),
    (u, key) => u[f].map((cmd) => `${key}=${execLine(cmd)}`),
  );
}

/** Printer of an optional string field: `KEY=value` when set, `%` doubled if it was specifier-expanded. */
function printText<const K extends string>(
  f: K,
  escape: (v: string) => string = pct,
): (u: Partial<Record<K, string>>, key: string) => string[] {
  return (u, key) => {
    const v = u[f];
    return v === undefined ? [] : [`${key}=${escape(v)}`];
  };
}

/** User=/Group=/SocketUser=/SocketGroup=: config_parse_user_group_compat() into the optional field `f`. */
function userGroupRow<const K extends string>(f: K): DirectiveRow<Partial<Record<K, string>>> {
  return custom(
    userGroup((c, v) => {
      const u = c.state.unit as unknown as Partial<Record<K, string>>;
      if (v === undefined) delete u[f];
      else u[f] = v;
    }),
    printText(f),
  );
}

type LimitField = 'triggerLimitIntervalUsec' | 'triggerLimitBurst' | 'pollLimitIntervalUsec' | 'pollLimitBurst';

/**
 * TriggerLimit*=/PollLimit*= defaults (socket_verify(): unset, infinity or UINT_MAX): 2 s, and a
 * burst that depends on Accept=. Resolved when loading ends (finishSocket()) and by the printer.
 */
export const LIMIT_DEFAULTS: Readonly<Record<LimitField, (accept: boolean) => number>> = {
  triggerLimitIntervalUsec: () => 2_000_000,
  triggerLimitBurst: (accept) => (accept ? 200 : 20),
  pollLimitIntervalUsec: () => 2_000_000,
  pollLimitBurst: (accept) => (accept ? 150 : 15),
};

/** A TriggerLimit*=/PollLimit*= row: kept pending until loading ends, printed when not the default. */
function limitRow(f: LimitField): DirectiveRow<Limits> {
  const type = f.endsWith('Usec') ? SEC : UNSIGNED;
  return custom(
    pending(type, (p, v) => (p[f] = v)),
    (u, key) => (u[f] === LIMIT_DEFAULTS[f](u.accept) ? [] : [`${key}=${type.format(u[f])}`]),
  );
}

const usecToSec = (usec: number): number => Math.floor(usec / 1_000_000);

/**
 * The [Socket] table, in the order `printSocketUnit()` writes the settings back. Value rows carry
 * their model field (SocketUnit's fields are derived from them), default, printer and, for
 * setsockopt options, the @mptcp/constants descriptor field openSocket() applies.
 */
export const SOCKET_TABLE = {
  // Every Listen*= line is printed, in order, by the first row.
  ListenStream: custom<Core>(listen, (u) => u.listen.map((e) => `${LISTEN_KEYS[e.kind]}=${formatListenValue(e)}`)),
  ListenDatagram: custom(listen),
  ListenSequentialPacket: custom(listen),
  ListenFIFO: custom(listen),
  ListenSpecial: custom(listen),
  ListenNetlink: custom(listen),
  ListenMessageQueue: custom(listen),
  ListenUSBFunction: custom(listen),
  SocketProtocol: custom<Core>(
    (v, c) => {
      // "Invalid argument" for an unknown name, "Protocol not supported" for a known one not allowed here.
      const r = parseSocketProtocol(v, c.state.options.systemdVersion ?? 257);
      if (r.ok) sock(c).socketProtocol = r.protocol;
      else
        parseFailed(
          c,
          v,
          r.error === 'EINVAL' && IPV6_EXTENSION_PROTOCOLS.has(v.toLowerCase()) ? 'EPROTONOSUPPORT' : r.error,
        );
    },
    (u, key) => (u.socketProtocol !== 0 ? [`${key}=${u.socketProtocol}`] : []),
  ),
  BindIPv6Only: value(BIND_IPV6_ONLY, 'bindIPv6Only', 'default'),
  Backlog: value(UNSIGNED, 'backlog', 2147483647),
  BindToDevice: optional(IFNAME, 'bindToDevice', {
    resets: (v) => v === '' || v === '*',
    invalid: (v) => `Invalid interface name, ignoring: ${v}`,
    sockopt: 'bindToDevice',
  }),
  SocketUser: userGroupRow('socketUser'),
  SocketGroup: userGroupRow('socketGroup'),
  SocketMode: value(MODE, 'socketMode', 0o666),
  DirectoryMode: value(MODE, 'directoryMode', 0o755),
  Accept: value(BOOL, 'accept', false),
  Writable: value(BOOL, 'writable', false, { lite: 'if-set' }),
  FlushPending: value(BOOL, 'flushPending', false),
  MaxConnections: value(UNSIGNED, 'maxConnections', 64),
  MaxConnectionsPerSource: value(UNSIGNED, 'maxConnectionsPerSource', 0),
  KeepAlive: value(BOOL, 'keepAlive', false, { sockopt: 'keepAlive' }),
  KeepAliveTimeSec: optional(SEC, 'keepAliveTimeUsec', { sockopt: { field: 'keepAliveTimeSec', encode: usecToSec } }),
  KeepAliveIntervalSec: optional(SEC, 'keepAliveIntervalUsec', {
    sockopt: { field: 'keepAliveIntervalSec', encode: usecToSec },
  }),
  KeepAliveProbes: optional(UNSIGNED, 'keepAliveProbes', { sockopt: 'keepAliveProbes' }),
  NoDelay: value(BOOL, 'noDelay', false, { sockopt: 'noDelay' }),
  Priority: optional(INT, 'priority', { sockopt: 'priority' }),
  DeferAcceptSec: value(SEC, 'deferAcceptUsec', 0, {
    // TCP_DEFER_ACCEPT takes seconds, rounded up (0 = off).
    sockopt: { field: 'deferAcceptSec', encode: (usec) => (usec > 0 ? Math.ceil(usec / 1_000_000) : undefined) },
  }),
  ReceiveBuffer: optional(SIZE, 'receiveBuffer', { sockopt: 'receiveBuffer' }),
  SendBuffer: optional(SIZE, 'sendBuffer', { sockopt: 'sendBuffer' }),
  IPTOS: optional(IP_TOS, 'ipTos', { resets: (v) => v === '', sockopt: 'ipTos' }),
  IPTTL: optional(INT, 'ipTtl', { sockopt: 'ipTtl' }),
  Mark: optional(INT, 'mark', { sockopt: 'mark' }),
  ReusePort: value(BOOL, 'reusePort', false, { sockopt: 'reusePort' }),
  FreeBind: value(BOOL, 'freeBind', false, { sockopt: 'freeBind' }),
  Transparent: value(BOOL, 'transparent', false, { sockopt: 'transparent' }),
  Broadcast: value(BOOL, 'broadcast', false, { sockopt: 'broadcast' }),
  PassCredentials: value(BOOL, 'passCredentials', false, { sockopt: 'passCredentials' }),
  PassSecurity: value(BOOL, 'passSecurity', false, { lite: 'if-set', sockopt: 'passSecurity' }),
  PassPacketInfo: value(BOOL, 'passPacketInfo', false, { lite: 'if-set', sockopt: 'passPacketInfo' }),
  Timestamping: value(TIMESTAMPING, 'timestamping', 'off', { sockopt: 'timestamping' }),
  TCPCongestion: optional(STRING, 'tcpCongestion', { resets: (v) => v === '', sockopt: 'tcpCongestion' }),
  PipeSize: optional(SIZE, 'pipeSize', { lite: 'always' }),
  MessageQueueMaxMessages: optional(LONG, 'messageQueueMaxMessages', { lite: 'always' }),
  MessageQueueMessageSize: optional(LONG, 'messageQueueMessageSize', { lite: 'always' }),
  ExecStartPre: execRow('execStartPre'),
  ExecStartPost: execRow('execStartPost'),
  ExecStopPre: execRow('execStopPre'),
  ExecStopPost: execRow('execStopPost'),
  TimeoutSec: value(SEC_FIX0, 'timeoutUsec', DEFAULT_TIMEOUT_USEC),
  Service: custom<Core>((v, c) => {
    const k = expand(c, v, (err) => c.warn(`Failed to resolve unit specifiers in ${v}, ignoring: ${err}`), 'name');
    if (k === undefined) return;
    if (!k.endsWith('.service')) return c.warn(`Unit must be of type service, ignoring: ${v}`);
    const n = parseUnitName(k);
    if (!n) return c.warn(`Failed to load unit ${v}, ignoring: Unit name ${k} is not valid.`);
    // manager_load_unit_prepare(): a template cannot be loaded; 257 warns and keeps the previous value.
    if (n.template) return c.warn(`Failed to load unit ${v}, ignoring: Unit name ${k} is missing the instance name.`);
    sock(c).service = k;
  }, printText('service')),
  RemoveOnStop: value(BOOL, 'removeOnStop', false),
  Symlinks: custom<Core>(
    (v, c) => {
      const u = sock(c);
      if (v === '') {
        u.symlinks = [];
        return;
      }
      forEachWord(
        v,
        { unquote: true },
        (word) => {
          const k = expandOrWarn(c, word);
          const p = k === undefined ? undefined : checkPath(c, k);
          if (p === undefined) return false;
          u.symlinks.push(p);
        },
        () => c.warn(`Invalid syntax, ignoring: ${v}`),
      );
    },
    (u, key) => u.symlinks.map((s) => `${key}=${pct(quoteWord(s))}`),
  ),
  FileDescriptorName: custom<Core>((v, c) => {
    if (v === '') {
      delete sock(c).fileDescriptorName;
      return;
    }
    const k = expandOrWarn(c, v);
    if (k === undefined) return;
    if (!fdnameIsValid(k)) return c.warn(`Invalid file descriptor name, ignoring: ${k}`);
    sock(c).fileDescriptorName = k;
  }, printText('fileDescriptorName')),
  TriggerLimitIntervalSec: limitRow('triggerLimitIntervalUsec'),
  TriggerLimitBurst: limitRow('triggerLimitBurst'),
  PollLimitIntervalSec: limitRow('pollLimitIntervalUsec'),
  PollLimitBurst: limitRow('pollLimitBurst'),
  SmackLabel: custom(lite(kept('printf'))),
  SmackLabelIPIn: custom(lite(kept('printf'))),
  SmackLabelIPOut: custom(lite(kept('printf'))),
  SELinuxContextFromNet: value(BOOL, 'selinuxContextFromNet', false, { lite: 'if-set' }),
  PassFileDescriptorsToExec: value(BOOL, 'passFileDescriptorsToExec', false, { lite: 'if-set' }),
  'X-MPTCPFallback': value(BOOL, 'mptcpFallback', false),
  // For the socket's Exec*= helpers: checked like systemd (an invalid name is fatal), kept verbatim.
  User: custom(keptUserGroup),
  Group: custom(keptUserGroup),
};

/** SocketUnit's value fields, derived from the [Socket] table's value rows. */
export type SocketValueFields = ModelFields<typeof SOCKET_TABLE>;

export const SOCKET_DIRECTIVES: Readonly<Record<string, DirectiveParser>> = parsersOf(SOCKET_TABLE);

/** The openSocket() options (setsockopt) of a socket unit, from the table's `sockopt` rows. */
export function socketOptionValues(u: SocketUnit): SocketOptionValues {
  return socketOptionsOf(SOCKET_TABLE, u);
}

/** sd_bus_service_name_is_valid(): a unique name (`:1.42`) or 2+ dot-separated elements of [A-Za-z0-9_-] (no leading digit), ≤ 255. */
export function busNameIsValid(s: string): boolean {
  if (s.length === 0 || s.length > 255) return false;
  if (s.startsWith(':')) return /^:[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$/.test(s);
  return /^[A-Za-z_-][A-Za-z0-9_-]*(\.[A-Za-z_-][A-Za-z0-9_-]*)+$/.test(s);
}

/** fdname_is_valid(): ≤ 255 printable ASCII characters, no `:`. */
export function fdnameIsValid(s: string): boolean {
  return s.length > 0 && s.length <= 255 && /^[\x20-\x7e]*$/.test(s) && !s.includes(':');
}

function environment(v: string, c: DirectiveContext): void {
  const u = svc(c);
  if (v === '') {
    u.environment = [];
    return;
  }
  const words = splitEnvironmentValue(v);
  if (!words) return c.warn(`Invalid syntax, ignoring: ${v}`);
  for (const w of words) {
    const k = expand(c, w, (err) => c.warn(`Failed to resolve specifiers in ${w}, ignoring: ${err}`));
    if (k === undefined) continue;
    if (!envAssignmentIsValid(k)) {
      c.warn(`Invalid environment assignment, ignoring: ${k}`);
      continue;
    }
    const eq = k.indexOf('=');
    envReplace(u.environment, k.slice(0, eq), k.slice(eq + 1));
  }
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
  // Settings the service manager resolves (unset: systemd's default there); not printed back yet.
  WatchdogSec: optional(SEC, 'watchdogUsec', { unprinted: true }),
  WatchdogSignal: optional(SIGNAL, 'watchdogSignal', { unprinted: true }),
  NotifyAccess: optional(oneOf(['none', 'main', 'exec', 'all']), 'notifyAccess', { unprinted: true }),
  PIDFile: custom((v, c) => {
    if (v === '') return void delete svc(c).pidFile;
    // config_parse_pid_file(): a specifier error fails the unit (EINVAL, nothing printed for the line).
    const r = expandSpecifiers(v, c.spec);
    if (!r.ok) return c.abort('EINVAL');
    const k = r.value;
    // A relative path is taken below /run.
    const p = checkPath(c, k.startsWith('/') ? k : `/run/${k}`);
    if (p !== undefined) svc(c).pidFile = p;
  }),
  GuessMainPID: optional(BOOL, 'guessMainPID', { unprinted: true }),
  FileDescriptorStoreMax: optional(UNSIGNED, 'fileDescriptorStoreMax', { unprinted: true }),
  FileDescriptorStorePreserve: optional(PRESERVE, 'fileDescriptorStorePreserve', { unprinted: true }),
  RestartSteps: optional(UNSIGNED, 'restartSteps', { unprinted: true }),
  RestartMaxDelaySec: optional(SEC, 'restartMaxDelayUsec', { unprinted: true }),
  ReloadSignal: optional(SIGNAL, 'reloadSignal', { unprinted: true }),
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
      if (k !== undefined) svc(c).pamName = k;
    },
    printText('pamName', String),
  ),
};

/** ServiceUnit's value fields, derived from the [Service] table's value rows. */
export type ServiceValueFields = ModelFields<typeof SERVICE_TABLE>;

export const SERVICE_DIRECTIVES: Readonly<Record<string, DirectiveParser>> = parsersOf(SERVICE_TABLE);

export const INSTALL_DIRECTIVES: Readonly<Record<string, DirectiveParser>> = {};
export { keep };
