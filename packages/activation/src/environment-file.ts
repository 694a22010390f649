/**
 * EnvironmentFile= reading. @mptcp/unit's parseEnvironmentFile() is used when it exists (one parser
 * for the whole project); this fallback covers the common subset — `KEY=value` lines, `#`/`;`
 * comments, `export ` prefixes, single/double quotes, backslash escapes and line continuations —
 * so that the engine works with any unit package version.
 */
import { readFileSync } from 'node:fs';
import * as unit from '@mptcp/unit';
import type { EnvironmentFileRef } from './unit-types.js';
import { ActivationError, errnoOf, messageOf } from './errors.js';

type Parser = (text: string, file?: string) => unknown;

function unitParser(): Parser | undefined {
  const f = (unit as Record<string, unknown>).parseEnvironmentFile;
  return typeof f === 'function' ? (f as Parser) : undefined;
}

/** Reads the files in order (later wins); a missing `-` file is skipped, any other error throws. */
export function readEnvironmentFiles(refs: readonly EnvironmentFileRef[], unitName: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const ref of refs) {
    let text: string;
    try {
      text = readFileSync(ref.path, 'utf8');
    } catch (err) {
      if (ref.optional && errnoOf(err) === 'ENOENT') continue;
      throw new ActivationError('ENVIRONMENT_FILE', `Failed to load environment files: ${ref.path}: ${messageOf(err)}`, { unit: unitName, errno: errnoOf(err), cause: err });
    }
    out.push(...parseEnvironmentText(text, ref.path));
  }
  return out;
}

export function parseEnvironmentText(text: string, file = ''): Array<[string, string]> {
  const parser = unitParser();
  if (parser) {
    const parsed = normalise(parser(text, file));
    if (parsed) return parsed;
  }
  return fallbackParse(text);
}

/** Accepts the shapes a parser may reasonably return: pairs, a record, a Map, or `{ variables }`. */
function normalise(result: unknown): Array<[string, string]> | undefined {
  if (Array.isArray(result)) {
    if (result.every((p) => Array.isArray(p) && p.length === 2)) return result as Array<[string, string]>;
    return undefined;
  }
  if (result instanceof Map) return [...(result as Map<string, string>).entries()];
  if (typeof result === 'object' && result !== null) {
    const r = result as Record<string, unknown>;
    for (const key of ['env', 'variables', 'environment', 'assignments', 'entries']) {
      if (key in r) return normalise(r[key]);
    }
    if (Object.values(r).every((v) => typeof v === 'string')) return Object.entries(r as Record<string, string>);
  }
  return undefined;
}

function fallbackParse(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const lines = text.replace(/\\\r?\n/g, '').split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push([m[1] as string, unquote(m[2] as string)]);
  }
  return out;
}

function unquote(v: string): string {
  let out = '';
  let i = 0;
  while (i < v.length) {
    const c = v[i] as string;
    if (c === "'") {
      const end = v.indexOf("'", i + 1);
      out += end < 0 ? v.slice(i + 1) : v.slice(i + 1, end);
      i = end < 0 ? v.length : end + 1;
    } else if (c === '"') {
      i++;
      while (i < v.length && v[i] !== '"') {
        if (v[i] === '\\' && i + 1 < v.length && '"\\`$'.includes(v[i + 1] as string)) i++;
        out += v[i];
        i++;
      }
      i++;
    } else if (c === '\\' && i + 1 < v.length) {
      out += v[i + 1];
      i += 2;
    } else if (c === '#' && /\s$/.test(out)) {
      break;
    } else {
      out += c;
      i++;
    }
  }
  return out.trimEnd();
}
