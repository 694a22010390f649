/**
 * Shared pieces of the directive tables (src/unit-directives.ts, socket-directives.ts,
 * service-directives.ts): specifier expansion with systemd's messages, word lists, paths,
 * user/group names, Exec*= rows, and keeping settings we do not interpret verbatim (KEY_CHECKS).
 */
import { fail, ok, strerror, type Parsed } from './errno.js';
import { parseExecValue, pathSimplify } from './exec.js';
import { execLine, pct } from './format.js';
import { ifnameValid } from './interfaces.js';
import { KEY_CHECKS, type KeyCheck } from './known-keys.js';
import type { DirectiveContext, DirectiveParser, Pending } from './load-state.js';
import type {
  ExecCommand,
  ServiceUnit,
  ServiceUnitCore,
  SocketUnit,
  SocketUnitCore,
  UnitSection,
  UnitSectionCore as UnitSectionCoreFields,
} from './model.js';
import { extractFirstWord, type ExtractFlags } from './quoting.js';
import { custom, parseFailed, type DirectiveRow, type ValueType } from './registry.js';
import { expandSpecifiers, type SpecifierSet } from './specifiers.js';
import { parseBoolean } from './values/boolean.js';
import { parseInteger, parseMode, parseUnsigned } from './values/integer.js';
import { badExitStatusWords, parseNice, parseOomScoreAdjust, parseRlimit } from './values/exec-limits.js';
import { checkSchedulingValue, parseCpuSet } from './values/exec-scheduling.js';
import { parseSize } from './values/size.js';
import { parseSec } from './values/timespan.js';

export { parseFailed };

export type Sock = SocketUnit;
/** What the [Socket] table's own printers read (SocketUnit itself is derived from the table). */
export type Core = SocketUnitCore;
export type Limits = SocketUnitCore & { accept: boolean };
export type SvcCore = ServiceUnitCore;
export type UnitSectionCore = UnitSectionCoreFields;
export type Svc = ServiceUnit;
export const sock = (c: DirectiveContext): Sock => c.state.unit as Sock;
export const svc = (c: DirectiveContext): Svc => c.state.unit as Svc;
export const unitSection = (c: DirectiveContext): UnitSection => c.state.unit.unit;

/** Expands specifiers; on failure warns with `message(err)` and returns undefined. */
export function expand(
  c: DirectiveContext,
  v: string,
  onError: (err: string) => void,
  set: SpecifierSet = 'full',
): string | undefined {
  // No specifier: the value as is (what expandSpecifiers() answers), without building its result.
  if (set !== 'name' && v.indexOf('%') < 0) return v;
  const r = expandSpecifiers(v, c.spec, set);
  if (r.ok) return r.value;
  onError(strerror(r.error));
  return undefined;
}

/** expand() with the usual warning: `Failed to resolve unit specifiers in 'V', ignoring: <err>`. */
export function expandOrWarn(c: DirectiveContext, v: string, set: SpecifierSet = 'full'): string | undefined {
  if (set !== 'name' && v.indexOf('%') < 0) return v;
  return expand(c, v, (err) => c.warn(`Failed to resolve unit specifiers in '${v}', ignoring: ${err}`), set);
}

/**
 * extract_first_word() over a whole value: `word` for each word until it returns false (stop);
 * `bad` on a syntax error.
 */
export function forEachWord(
  v: string,
  flags: ExtractFlags,
  word: (w: string) => boolean | void,
  bad: () => void,
): void {
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

export type Setter<U, T> = (u: U, v: T) => void;

/** A row setting `set(target(c), value)` with the value type's parser (for targets other than a model field). */
export function typed<T>(type: ValueType<T>) {
  return <U>(target: (c: DirectiveContext) => U, set: Setter<U, T>): DirectiveParser =>
    (v, c) => {
      const r = type.parse(v);
      if (r.ok) set(target(c), r.value);
      else parseFailed(c, v, r.error);
    };
}

/** A setting whose default depends on others: kept in the load state until loading ends. */
export const pending = <T>(type: ValueType<T>, set: Setter<Pending, T>): DirectiveParser =>
  typed(type)((c) => c.state.pending, set);

/** IFNAMSIZ-valid interface names (ifname_valid()). */
export const IFNAME: ValueType<string> = { parse: (v) => (ifnameValid(v) ? ok(v) : fail('EINVAL')), format: (v) => v };

/** A choice among fixed strings (DEFINE_CONFIG_PARSE_ENUM); `what` for the few parsers that keep their own message. */
export function choice<T extends string>(
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
export function store(target: 'unit' | 'section' | 'install', v: string, c: DirectiveContext): void {
  const u = c.state.unit;
  const rec = target === 'unit' ? u.unit.extra : target === 'install' ? u.install : u.extra;
  (rec[c.key] ??= []).push(v);
}

/**
 * Settings we do not interpret (keys without a row) are kept verbatim; the ones systemd checks with
 * a generic parser are checked the same way first (KEY_CHECKS), so that a bad value gives
 * systemd's warning (or error).
 */
export function keep(target: 'unit' | 'section' | 'install'): DirectiveParser {
  return (v, c) => {
    const check = KEY_CHECKS[c.section]?.[c.key];
    if (check && !validKept(check, v, c)) return;
    store(target, v, c);
  };
}

/** A row that keeps its value verbatim after the generic check `check`. */
export function kept(check: KeyCheck): DirectiveParser {
  return (v, c) => {
    if (validKept(check, v, c)) store('section', v, c);
  };
}

export function validKept(check: KeyCheck, v: string, c: DirectiveContext): boolean {
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
    case 'nice': {
      if (v === '') return true;
      const r = parseNice(v);
      if (r.ok) return true;
      return fail(
        r.error === 'ERANGE'
          ? `Nice priority out of range, ignoring: ${v}`
          : `Failed to parse nice priority '${v}', ignoring: ${strerror(r.error)}`,
      );
    }
    case 'oom': {
      if (v === '') return true;
      const r = parseOomScoreAdjust(v);
      if (r.ok) return true;
      return fail(
        r.error === 'ERANGE'
          ? `OOM score adjust value out of range, ignoring: ${v}`
          : `Failed to parse the OOM score adjust value '${v}', ignoring: ${strerror(r.error)}`,
      );
    }
    case 'rlimit': {
      const r = parseRlimit(c.key, v);
      if (r.ok || r.error !== 'EILSEQ') return generic(r);
      return fail(`Soft resource limit chosen higher than hard limit, ignoring: ${v}`);
    }
    case 'sched': {
      // CPUScheduling*=, IOScheduling*=, CPUAffinity=, TimerSlackNSec=, CoredumpFilter=, Personality=.
      // config_parse_exec_cpu_affinity(): `numa` as written, else the specifiers first (257).
      if (c.key === 'CPUAffinity' && v !== 'numa') {
        const k = expandOrWarn(c, v);
        if (k === undefined) return false;
        // A value that only became `numa` is not the keyword: parse_cpu_set_extend() refuses it.
        const r = parseCpuSet(k, c.key);
        for (const w of r.warnings) c.warn(w);
        if (!r.ok) c.warn(r.message);
        return r.ok;
      }
      const r = checkSchedulingValue(c.key, v);
      for (const w of r.warnings) c.warn(w);
      return r.keep;
    }
    case 'status':
      // The valid words are kept; each refused one is reported on its own.
      for (const w of badExitStatusWords(v)) c.warn(`Failed to parse value, ignoring: ${w}`);
      return true;
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
    case 'nspaths': {
      // config_parse_namespace_path_strv(): words (quotes removed), each with optional `-` then `+`,
      // specifiers resolved, then an absolute, normalized path; a bad word is reported and skipped,
      // a syntax error drops the rest. The value is kept as written: the launcher reads it the same way.
      let p = 0;
      for (;;) {
        const r = extractFirstWord(v, p, { unquote: true });
        if (!r.ok) {
          c.warn(`Failed to extract first word, ignoring: ${v}`);
          return true;
        }
        if (r.word === undefined) return true;
        p = r.rest;
        let w = r.word;
        if (w.startsWith('-')) w = w.slice(1);
        if (w.startsWith('+')) w = w.slice(1);
        const k = expand(c, w, (err) => c.warn(`Failed to resolve unit specifiers in ${w}: ${err}`));
        if (k !== undefined) checkPath(c, k);
        if (p >= v.length) return true;
      }
    }
    case 'paths:': {
      // config_parse_colon_separated_paths(): each ':'-separated path is checked on its own.
      const k = expandOrWarn(c, v);
      if (k === undefined) return false;
      for (const part of k.split(':')) if (part !== '' && checkPath(c, part) === undefined) return false;
      return true;
    }
    default:
      // `bool|w1|w2`: a boolean or one of the enum words 257 takes (PrivateTmp=disconnected, …).
      return check.split('|').slice(1).includes(v) || generic(parseBoolean(v));
  }
}

// ---- paths, users, units ---------------------------------------------------------------------

/** path_simplify_and_warn(PATH_CHECK_ABSOLUTE[|FATAL]): returns the simplified path or undefined. */
export function checkPath(c: DirectiveContext, p: string, fatal = false): string | undefined {
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
export function userGroupValid(n: string): boolean {
  if (n === '') return false;
  // parse_uid(): decimal, no leading zero; (uid_t) -1 and the 16-bit -1 are not valid IDs.
  if (/^\d+$/.test(n) && (n === '0' || n[0] !== '0') && Number(n) < 4294967295 && Number(n) !== 65535) return true;
  // Relaxed rules (user-util.c): no blank at either end, no control characters, no ':' or '/',
  // not all digits, not '-' followed by digits only, not "." or "..". No length limit.
  if (n.startsWith(' ') || n.endsWith(' ')) return false;
  if (/[\x00-\x1f\x7f:/]/.test(n)) return false;
  if (/^\d*$/.test(n) || /^-\d*$/.test(n)) return false;
  return n !== '.' && n !== '..';
}

/** valid_user_group_name() without VALID_USER_RELAX: [a-zA-Z_][a-zA-Z0-9_-]*[$]?, at most 31 characters, or a numeric ID. */
export function userGroupStrict(n: string): boolean {
  if (/^\d+$/.test(n)) return true;
  return n.length <= 31 && /^[a-zA-Z_][a-zA-Z0-9_-]*\$?$/.test(n);
}

/** A valid name that strict rules refuse: a notice (printed, not a syntax warning). */
export function lenientNameNotice(c: DirectiveContext, name: string): void {
  c.state.diagnostics.push({
    severity: 'warning',
    notice: true,
    file: c.file,
    message: `Accepting user/group name '${name}', which does not match strict user/group name rules.`,
  });
}

/** config_parse_user_group_compat(): empty resets; invalid is fatal. */
export function userGroup(set: (c: DirectiveContext, v: string | undefined) => void): DirectiveParser {
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
export function keptUserGroup(v: string, c: DirectiveContext): void {
  let accepted = false;
  userGroup(() => {
    accepted = true;
  })(v, c);
  if (accepted) store('section', v, c);
}

// ---- Exec*= ------------------------------------------------------------------------------------

export function exec(
  get: (c: DirectiveContext) => ExecCommand[],
  reset: (c: DirectiveContext) => void,
): DirectiveParser {
  return (v, c) => {
    if (v === '') return reset(c);
    const r = parseExecValue(v, c.spec, { file: c.file, line: c.line });
    for (let i = 0; i < r.messages.length; i++) {
      const m = r.messages[i] as (typeof r.messages)[number];
      if (m.fatal) c.fatal(m.message);
      else c.warn(m.message);
    }
    if (r.fatal) return;
    get(c).push(...r.commands);
  };
}

// ---- the tables ---------------------------------------------------------------------------------

/** An Exec*= row: the unit's command list `f` (reset by an empty value), printed one line per command. */
export function execRow<const K extends string>(f: K): DirectiveRow<Record<K, ExecCommand[]>> {
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
export function printText<const K extends string>(
  f: K,
  escape: (v: string) => string = pct,
): (u: Partial<Record<K, string>>, key: string) => string[] {
  return (u, key) => {
    const v = u[f];
    return v === undefined ? [] : [`${key}=${escape(v)}`];
  };
}

/** User=/Group=/SocketUser=/SocketGroup=: config_parse_user_group_compat() into the optional field `f`. */
export function userGroupRow<const K extends string>(f: K): DirectiveRow<Partial<Record<K, string>>> {
  return custom(
    userGroup((c, v) => {
      const u = c.state.unit as unknown as Partial<Record<K, string>>;
      if (v === undefined) delete u[f];
      else u[f] = v;
    }),
    printText(f),
  );
}

/** fdname_is_valid(): ≤ 255 printable ASCII characters, no `:`. */
export function fdnameIsValid(s: string): boolean {
  return s.length > 0 && s.length <= 255 && /^[\x20-\x7e]*$/.test(s) && !s.includes(':');
}
