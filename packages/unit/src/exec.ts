/**
 * Command lines of ExecStart= & co. (config_parse_exec, load-fragment.c) and their exec-time
 * environment expansion (replace_env_argv, env-util.c).
 */
import type { ExecCommand } from './model.js';
import { extractFirstWord, splitWords } from './quoting.js';
import { strerror } from './errno.js';
import { expandSpecifiers, type SpecifierContext } from './specifiers.js';

/** One message from the command-line parser; `fatal` ones make systemd refuse the unit. */
export interface ExecMessage {
  message: string;
  fatal: boolean;
}

export interface ExecParseResult {
  commands: ExecCommand[];
  messages: ExecMessage[];
  /** The assignment failed with -ENOEXEC (unit not loadable). */
  fatal: boolean;
}

const WS = ' \t\n\r';
const FLAGS = { unquote: true, cunescape: true } as const;

/** string_is_safe(). */
function isSafe(s: string): boolean {
  return !/[\x00-\x1f\x7f\\"']/.test(s);
}

/** path_is_valid(): non-empty, ≤ PATH_MAX, every component ≤ NAME_MAX. */
function pathIsValid(p: string): boolean {
  if (p === '') return false;
  // A UTF-16 unit is at most 3 UTF-8 bytes: up to 85 units no component can exceed NAME_MAX.
  if (p.length <= 85) return true;
  if (Buffer.byteLength(p) >= 4096) return false;
  return p.split('/').every((c) => Buffer.byteLength(c) <= 255);
}

/** filename_is_valid(). */
function filenameIsValid(p: string): boolean {
  return p !== '' && p !== '.' && p !== '..' && !p.includes('/') && Buffer.byteLength(p) <= 255;
}

/** path_simplify(): drop duplicate slashes, `.` components, a trailing slash and `..` right below the root. */
export function pathSimplify(p: string): string {
  const abs = p.startsWith('/');
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  // path_simplify(): "/../foo" is "/foo" (nothing is above the root); an inner ".." stays.
  let lead = 0;
  if (abs) while (parts[lead] === '..') lead++;
  const s = (lead > 0 ? parts.slice(lead) : parts).join('/');
  return abs ? '/' + s : s === '' ? '.' : s;
}

/** extract_first_word_and_warn(): retry with UNESCAPE_RELAX and report like systemd. */
function extractAndWarn(
  s: string,
  p: number,
  rvalue: string,
  messages: ExecMessage[],
  fatal: boolean,
): { word: string | undefined; rest: number } | undefined {
  const r = extractFirstWord(s, p, FLAGS);
  if (r.ok) return { word: r.word, rest: r.rest };
  const r2 = extractFirstWord(s, p, { ...FLAGS, unescapeRelax: true });
  if (r2.ok) {
    messages.push({ message: `Ignoring unknown escape sequences: "${r2.word ?? ''}"`, fatal: false });
    return { word: r2.word, rest: r2.rest };
  }
  messages.push({ message: `Unbalanced quoting, ignoring: "${rvalue}"`, fatal });
  return undefined;
}

/**
 * config_parse_exec(): parses one Exec*= value into commands (`;` separates several). Empty value
 * = reset (caller's business). Specifiers are expanded with `ctx`.
 */
export function parseExecValue(
  rvalue: string,
  ctx: SpecifierContext,
  where: { file: string; line: number },
): ExecParseResult {
  const commands: ExecCommand[] = [];
  const messages: ExecMessage[] = [];
  let p = 0;
  let semicolon: boolean;
  const failWith = (message: string, ignore: boolean): ExecParseResult => {
    messages.push({ message, fatal: !ignore });
    return { commands, messages, fatal: !ignore };
  };
  do {
    semicolon = false;
    // A bad first word only drops the command (systemd returns 0 there).
    const first = extractAndWarn(rvalue, p, rvalue, messages, false);
    if (!first) return { commands, messages, fatal: false };
    if (first.word === undefined) break;
    p = first.rest;
    if (first.word === ';') {
      semicolon = true;
      continue;
    }
    const fw = first.word;
    let f = 0;
    let ignoreFailure = false;
    let separateArgv0 = false;
    let noEnvExpand = false;
    let fullPrivileges = false;
    let noSetuid = false;
    let ambientMagic = false;
    for (;;) {
      const c = fw[f];
      if (c === '-' && !ignoreFailure) ignoreFailure = true;
      else if (c === '@' && !separateArgv0) separateArgv0 = true;
      else if (c === ':' && !noEnvExpand) noEnvExpand = true;
      else if (c === '+' && !(fullPrivileges || noSetuid || ambientMagic)) fullPrivileges = true;
      else if (c === '!' && !(fullPrivileges || noSetuid || ambientMagic)) noSetuid = true;
      else if (c === '!' && !(fullPrivileges || ambientMagic)) {
        noSetuid = false;
        ambientMagic = true;
      } else break;
      f++;
    }
    const ignore = ignoreFailure;
    const sfx = ignore ? ', ignoring' : '';
    const rawPath = fw.slice(f);
    const pe = expandSpecifiers(rawPath, ctx);
    if (!pe.ok)
      return failWith(`Failed to resolve unit specifiers in '${rawPath}'${sfx}: ${strerror(pe.error)}`, ignore);
    let path = pe.value;
    if (path === '') return failWith(`Empty path in command line${sfx}: ${rvalue}`, ignore);
    if (!isSafe(path)) return failWith(`Executable path contains special characters${sfx}: ${path}`, ignore);
    if (path.endsWith('/')) return failWith(`Executable path specifies a directory${sfx}: ${path}`, ignore);
    if (!(path.startsWith('/') ? pathIsValid(path) : filenameIsValid(path))) {
      return failWith(`Neither a valid executable name nor an absolute path${sfx}: ${path}`, ignore);
    }
    const argv: string[] = [];
    if (!separateArgv0) argv.push(path);
    path = pathSimplify(path);
    while (p < rvalue.length) {
      if (rvalue[p] === ';' && (p + 1 >= rvalue.length || WS.includes(rvalue[p + 1] as string))) {
        p++;
        while (p < rvalue.length && WS.includes(rvalue[p] as string)) p++;
        semicolon = true;
        break;
      }
      if (
        rvalue[p] === '\\' &&
        rvalue[p + 1] === ';' &&
        (p + 2 >= rvalue.length || WS.includes(rvalue[p + 2] as string))
      ) {
        p += 2;
        while (p < rvalue.length && WS.includes(rvalue[p] as string)) p++;
        argv.push(';');
        continue;
      }
      const w = extractAndWarn(rvalue, p, rvalue, messages, !ignore);
      if (!w) return { commands, messages, fatal: !ignore };
      if (w.word === undefined) {
        p = rvalue.length;
        break;
      }
      p = w.rest;
      const we = expandSpecifiers(w.word, ctx);
      if (!we.ok)
        return failWith(`Failed to resolve unit specifiers in '${w.word}'${sfx}: ${strerror(we.error)}`, ignore);
      argv.push(we.value);
    }
    if (argv.length === 0) return failWith(`Empty executable name or zeroeth argument${sfx}: ${rvalue}`, ignore);
    commands.push({
      path,
      argv,
      ignoreFailure,
      noEnvExpand,
      fullPrivileges,
      noUserSwitch: noSetuid || ambientMagic,
      ambientMagic,
      argv0Override: separateArgv0,
      raw: rvalue,
      file: where.file,
      line: where.line,
    });
  } while (semicolon);
  return { commands, messages, fatal: false };
}

function envGet(env: Readonly<Record<string, string>> | ReadonlyMap<string, string>, name: string): string | undefined {
  if (env instanceof Map) return env.get(name);
  const rec = env as Readonly<Record<string, string>>;
  return Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined;
}

/**
 * replace_env() without the extended/braceless flags, as a state machine like systemd's: `${VAR}` →
 * value (unset → empty), `$$` → `$`; `${VAR:…` is unsupported syntax and stays as written, but a
 * `${…}` inside it is still expanded (`${A:-${B}}` → `${A:-b}`).
 */
export function replaceEnv(
  format: string,
  env: Readonly<Record<string, string>> | ReadonlyMap<string, string>,
): string {
  let state: 'WORD' | 'CURLY' | 'VARIABLE' = 'WORD';
  let r = '';
  let word = 0;
  for (let e = 0; e < format.length; e++) {
    const c = format[e];
    if (state === 'WORD') {
      if (c === '$') state = 'CURLY';
    } else if (state === 'CURLY') {
      if (c === '{') {
        r += format.slice(word, e - 1);
        word = e - 1;
        state = 'VARIABLE';
      } else if (c === '$') {
        r += format.slice(word, e);
        word = e + 1;
        state = 'WORD';
      } else state = 'WORD';
    } else if (c === '}') {
      r += envGet(env, format.slice(word + 2, e)) ?? '';
      word = e + 1;
      state = 'WORD';
    } else if (c === ':') state = 'WORD';
  }
  return r + format.slice(word);
}

/**
 * The exec-time `$VAR` expansion systemd applies to argv (replace_env_argv): a word that is exactly
 * `$NAME` is replaced by the variable's value split at whitespace (with quotes honoured; unset → no
 * word at all); `${NAME}` inside a word is replaced as one piece; `$$` → `$`. Commands with the `:`
 * prefix are returned unchanged.
 */
export function expandExecCommand(
  cmd: Pick<ExecCommand, 'argv' | 'noEnvExpand'>,
  env: Readonly<Record<string, string>> | ReadonlyMap<string, string>,
): string[] {
  if (cmd.noEnvExpand) return [...cmd.argv];
  const out: string[] = [];
  for (const w of cmd.argv) {
    if (w[0] === '$' && w[1] !== '{' && w[1] !== '$') {
      const v = envGet(env, w.slice(1));
      if (v !== undefined) out.push(...(splitWords(v, { unquote: true, relax: true }) ?? []));
      continue;
    }
    out.push(replaceEnv(w, env));
  }
  return out;
}
