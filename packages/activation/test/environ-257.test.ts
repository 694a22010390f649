/**
 * Environment= lines with a bad word, as systemd 257 (config_parse_environ(), recorded in
 * fixtures/v257/environ by record.sh): each word is applied as it is read, so the words before one
 * that extract_first_word() refuses (an unknown C escape such as `\ ` or `\q`, an unclosed quote)
 * stay set; the line then ends with `Invalid syntax, ignoring: VALUE`. A word that is no assignment,
 * or whose specifiers fail, is skipped with its own warning and the line goes on. We dropped the
 * whole line.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadEngineUnits } from '../src/index.js';
import { recording } from './helpers/recorded-257.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/environ/', import.meta.url));
const rec = recording(FIXTURE);

/** `systemctl show -p Environment`'s value: words split at blanks, "…" quoted with C escapes. */
function shownEnvironment(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of line.matchAll(re)) {
    if (m[2] !== undefined) words.push(m[2]);
    else words.push((m[1] as string).replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n' })[c as 't' | 'n'] ?? c));
  }
  return words;
}

describe('Environment= with a bad word (systemd 257, fixtures/v257/environ)', () => {
  it('keeps the assignments before the bad word and warns as 257', async () => {
    const { units, warnings } = await loadEngineUnits([FIXTURE]);
    // The manager's load-time lines, FILE:LINE: text (our FILE is the full path).
    const logged = rec.lines.filter((l) => l.startsWith('[log] warning: ')).map((l) => l.slice(15));
    expect(logged.length).toBeGreaterThan(5);
    expect(warnings.map((w) => w.replace(FIXTURE, '')).filter((w) => /^e\d\.service:/.test(w))).toEqual(logged);
    for (const n of ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']) {
      const shown = rec.tagged('show', `${n}.service`)[0] ?? '';
      expect(shown.startsWith('Environment=')).toBe(true);
      const svc = units.services?.find((s) => s.name === `${n}.service`);
      expect({ unit: n, env: svc?.environment.map(([k, v]) => `${k}=${v}`) }).toEqual({
        unit: n,
        env: shownEnvironment(shown.slice('Environment='.length)),
      });
    }
  });
});
