/**
 * `$VAR` expansion of ExecStart= & co. at exec time, as systemd's replace_env_argv() does it with the
 * service's final environment:
 * - a word that is exactly `$NAME` becomes the value split on whitespace (zero or more arguments);
 * - `${NAME}` anywhere in a word is replaced by the value, the word stays one argument;
 * - `$$` is a literal `$`; unknown variables expand to nothing; other `$` are kept.
 * The `:` prefix (`noEnvExpand`) turns all of this off.
 */

import * as unit from '@mptcp/unit';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type UnitExpand = (cmd: { argv: readonly string[]; noEnvExpand: boolean }, env: Readonly<Record<string, string>>) => string[];
/** @mptcp/unit's expandExecCommand() (systemd's word splitting with unquoting) when present. */
const unitExpand = (unit as Record<string, unknown>).expandExecCommand as UnitExpand | undefined;

export function expandArgv(argv: readonly string[], env: Readonly<Record<string, string>>, noEnvExpand = false): string[] {
  if (noEnvExpand) return [...argv];
  if (typeof unitExpand === 'function') return unitExpand({ argv, noEnvExpand }, env);
  return fallbackExpandArgv(argv, env);
}

/** The subset used when @mptcp/unit has no expandExecCommand(). */
export function fallbackExpandArgv(argv: readonly string[], env: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const word of argv) {
    if (word.startsWith('$') && !word.startsWith('${') && !word.startsWith('$$') && NAME.test(word.slice(1))) {
      const value = env[word.slice(1)] ?? '';
      out.push(...value.split(/[ \t\n\r]+/).filter((w) => w !== ''));
      continue;
    }
    out.push(expandWord(word, env));
  }
  return out;
}

export function expandWord(word: string, env: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < word.length; i++) {
    const c = word[i];
    if (c !== '$') {
      out += c;
      continue;
    }
    const next = word[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    if (next === '{') {
      const end = word.indexOf('}', i + 2);
      const name = end < 0 ? '' : word.slice(i + 2, end);
      if (end >= 0 && NAME.test(name)) {
        out += env[name] ?? '';
        i = end;
        continue;
      }
    }
    out += c;
  }
  return out;
}
