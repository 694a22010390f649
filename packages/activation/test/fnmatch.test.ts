/**
 * fnmatch() answers as glibc's fnmatch(3) in the C locale, which systemd 257's PID 1 uses for
 * ConditionHost= (FNM_CASEFOLD), `$=`/`!$=` comparisons (no flags) and glob components (FNM_PERIOD).
 * fixtures/glibc-fnmatch/fnmatch.json is recorded from Debian trixie's glibc (257's) by record.py:
 * the 12 POSIX classes, `]` first in a list, `!`/`^`, ranges, escapes, `[=c=]`/`[.c.]`, unterminated
 * brackets and invalid class names, each with the three flag sets, and 1500 seeded random patterns.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type FnmatchFlags, fnmatch } from '../src/fnmatch.js';

type Row = [pattern: string, string: string, none: boolean, casefold: boolean, period: boolean];

const recorded = JSON.parse(
  readFileSync(new URL('./fixtures/glibc-fnmatch/fnmatch.json', import.meta.url), 'utf8'),
) as { glibc: string; cases: Row[] };

const FLAG_SETS: Array<[string, FnmatchFlags, (r: Row) => boolean]> = [
  ['0', {}, (r) => r[2]],
  ['FNM_CASEFOLD', { casefold: true }, (r) => r[3]],
  ['FNM_PERIOD', { period: true }, (r) => r[4]],
];

describe(`fnmatch() as glibc ${recorded.glibc} in the C locale (fixtures/glibc-fnmatch)`, () => {
  it.each(FLAG_SETS)('with flags %s: every recorded case', (_name, flags, expected) => {
    const wrong = recorded.cases
      .filter((r) => fnmatch(r[0], r[1], flags) !== expected(r))
      .map((r) => `${JSON.stringify(r[0])} ~ ${JSON.stringify(r[1])}: glibc ${expected(r)}`);
    expect(wrong).toEqual([]);
  });

  it('covers the classes, a leading ] and an invalid class name', () => {
    const find = (p: string, s: string): Row | undefined => recorded.cases.find((r) => r[0] === p && r[1] === s);
    expect(find('[[:alpha:]]*', 'vm')?.[3]).toBe(true);
    expect(find('[]a]', 'a')?.[2]).toBe(true);
    expect(find('[[:foo:]]*', 'vm')?.[2]).toBe(false);
    expect(recorded.cases.length).toBeGreaterThan(2000);
  });

  it('is linear enough for many stars (only the last * backtracks, as glibc)', () => {
    expect(fnmatch(`${'*a'.repeat(40)}b`, 'a'.repeat(5000))).toBe(false);
  });
});
