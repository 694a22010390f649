/** Environment= assignments (config_parse_environ) and EnvironmentFile= contents (parse_env_file_internal). */

/** env_name_is_valid(): `[A-Za-z_][A-Za-z0-9_]*`. */
export function envNameIsValid(n: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(n);
}

/** env_value_is_valid(): no control characters except newline and tab. */
export function envValueIsValid(v: string): boolean {
  return !/[\x00-\x08\x0b-\x1f\x7f]/.test(v);
}

/** env_assignment_is_valid(). */
export function envAssignmentIsValid(a: string): boolean {
  const eq = a.indexOf('=');
  return eq > 0 && envNameIsValid(a.slice(0, eq)) && envValueIsValid(a.slice(eq + 1));
}

/** strv_env_replace(): replace in place when the name exists, else append. */
// name → position, per environment array: 40,000 Environment= lines must not cost 40,000² compares.
const envIndexes = new WeakMap<Array<[string, string]>, Map<string, number>>();

export function envReplace(env: Array<[string, string]>, name: string, value: string): void {
  let index = envIndexes.get(env);
  // Rebuilt when the array was changed behind our back (its length no longer matches).
  if (!index || index.size !== env.length) {
    index = new Map();
    env.forEach(([k], i) => index?.set(k, i));
    envIndexes.set(env, index);
  }
  const i = index.get(name);
  if (i !== undefined) env[i] = [name, value];
  else {
    index.set(name, env.length);
    env.push([name, value]);
  }
}

export interface EnvFileResult {
  /** Assignments in order; a later one replaces an earlier one in place. */
  env: Array<[string, string]>;
  /** Entries systemd drops with a warning (invalid names). */
  warnings: Array<{ line: number; message: string }>;
  /** Set when systemd refuses the whole file (invalid UTF-8 in a key or value): `env` is then empty. */
  error?: { line: number; code: 'EINVAL'; message: string };
}

/** utf8_is_valid(): also refuses the noncharacters U+FFFE/U+FFFF and lone surrogates (U+FFFD marks bytes that were not UTF-8). */
const NOT_UTF8 = /[\uFFFD\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const NEWLINE = '\n\r';
const WS = ' \t\n\r';
const SHELL_NEED_ESCAPE = '"\\`$';

/**
 * Parses an environment file as systemd does for EnvironmentFile=: `KEY=value` lines, `#`/`;`
 * comments, single quotes (literal), double quotes (with `\"` `\\` `` \` `` `\$` escapes), backslash
 * escapes and continuation lines outside quotes, trailing blanks of unquoted values dropped.
 */
export function parseEnvironmentFile(input: string | Uint8Array): EnvFileResult {
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  const env: Array<[string, string]> = [];
  const warnings: EnvFileResult['warnings'] = [];
  let error: EnvFileResult['error'];
  type State =
    | 'PRE_KEY'
    | 'KEY'
    | 'PRE_VALUE'
    | 'VALUE'
    | 'VALUE_ESCAPE'
    | 'SQ'
    | 'DQ'
    | 'DQ_ESCAPE'
    | 'COMMENT'
    | 'COMMENT_ESCAPE';
  let state: State = 'PRE_KEY';
  let key = '';
  let value: string | undefined;
  let lastKeyWs = -1;
  let lastValueWs = -1;
  let line = 1;
  const push = (atLine: number): void => {
    const k = lastKeyWs >= 0 ? key.slice(0, lastKeyWs) : key;
    let v = value ?? '';
    if (state === 'VALUE' && lastValueWs >= 0) v = v.slice(0, lastValueWs);
    if (error) return;
    if (NOT_UTF8.test(k)) error = { line: atLine, code: 'EINVAL', message: `invalid UTF-8 in key '${k}', ignoring.` };
    else if (NOT_UTF8.test(v))
      error = { line: atLine, code: 'EINVAL', message: `invalid UTF-8 value for key ${k}: '${v}', ignoring.` };
    else if (!envNameIsValid(k))
      warnings.push({ line: atLine, message: `Invalid environment variable name '${k}', ignoring.` });
    else envReplace(env, k, v);
    key = '';
    value = undefined;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    // Physical line of this character (systemd counts only some newlines; we count them all).
    const at = line;
    if (c === '\n') line++;
    switch (state) {
      case 'PRE_KEY':
        if (c === '#' || c === ';') state = 'COMMENT';
        else if (!WS.includes(c)) {
          state = 'KEY';
          lastKeyWs = -1;
          key = c;
        }
        break;
      case 'KEY':
        if (NEWLINE.includes(c)) {
          state = 'PRE_KEY';
          key = '';
        } else if (c === '=') {
          state = 'PRE_VALUE';
          lastValueWs = -1;
        } else {
          if (!WS.includes(c)) lastKeyWs = -1;
          else if (lastKeyWs < 0) lastKeyWs = key.length;
          key += c;
        }
        break;
      case 'PRE_VALUE':
        if (NEWLINE.includes(c)) {
          push(at);
          state = 'PRE_KEY';
        } else if (c === "'") state = 'SQ';
        else if (c === '"') state = 'DQ';
        else if (c === '\\') state = 'VALUE_ESCAPE';
        else if (!WS.includes(c)) {
          state = 'VALUE';
          value = (value ?? '') + c;
        }
        break;
      case 'VALUE':
        if (NEWLINE.includes(c)) {
          push(at);
          state = 'PRE_KEY';
        } else if (c === '\\') {
          state = 'VALUE_ESCAPE';
          lastValueWs = -1;
        } else {
          if (!WS.includes(c)) lastValueWs = -1;
          else if (lastValueWs < 0) lastValueWs = (value ?? '').length;
          value = (value ?? '') + c;
        }
        break;
      case 'VALUE_ESCAPE':
        state = 'VALUE';
        if (!NEWLINE.includes(c)) value = (value ?? '') + c;
        break;
      case 'SQ':
        if (c === "'") state = 'PRE_VALUE';
        else value = (value ?? '') + c;
        break;
      case 'DQ':
        if (c === '"') state = 'PRE_VALUE';
        else if (c === '\\') state = 'DQ_ESCAPE';
        else value = (value ?? '') + c;
        break;
      case 'DQ_ESCAPE':
        state = 'DQ';
        if (SHELL_NEED_ESCAPE.includes(c)) value = (value ?? '') + c;
        else if (c !== '\n') value = (value ?? '') + '\\' + c;
        break;
      case 'COMMENT':
        if (c === '\\') state = 'COMMENT_ESCAPE';
        else if (NEWLINE.includes(c)) state = 'PRE_KEY';
        break;
      case 'COMMENT_ESCAPE':
        if (NEWLINE.includes(c)) state = 'PRE_KEY';
        else state = 'COMMENT';
        break;
    }
  }
  if (
    state === 'PRE_VALUE' ||
    state === 'VALUE' ||
    state === 'VALUE_ESCAPE' ||
    state === 'SQ' ||
    state === 'DQ' ||
    state === 'DQ_ESCAPE'
  )
    push(line);
  return error ? { env: [], warnings, error } : { env, warnings };
}
