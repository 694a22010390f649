/**
 * fnmatch() patterns in ConditionHost= (glibc fnmatch(3), FNM_CASEFOLD) and ConditionKernelVersion=
 * `$=`/`!$=` (no flags) as systemd 257 answers them: POSIX classes (`[[:alpha:]]*`), `]` first in a
 * list, a class with FNM_CASEFOLD testing the unfolded character (`[[:upper:]]*` does not match `vm`),
 * folded range bounds, `[z-a]` and an unknown class matching nothing (unmet, not "Couldn't
 * determine"), an unterminated `[[:alpha:]`. Recorded with the oracle (fixtures/v257/condition-fnmatch:
 * record.sh, cases.txt; 257 saw hostname `vm` and the `[release]` kernel).
 */
import { readFileSync } from 'node:fs';
import { hostname, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { fnmatch } from '../src/fnmatch.js';
import { capture, expectStateAsShown, recording, startEngine, stopEngines } from './helpers/recorded-257.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/condition-fnmatch/', import.meta.url));
const rec = recording(FIXTURE);
const recorded = (tag: string): string => rec.lines.find((l) => l.startsWith(`[${tag}] `))?.slice(tag.length + 3) ?? '';
const HOST = recorded('host');
const RELEASE = recorded('release');

/** cases.txt: each case's unit name, key and pattern (with its `$=`/`!$=` for KernelVersion). */
const CASES = readFileSync(join(FIXTURE, 'cases.txt'), 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [name = '', condition = ''] = l.split(' ');
    const eq = condition.indexOf('=');
    return { unit: `${name}.service`, key: condition.slice(0, eq), value: condition.slice(eq + 1) };
  });

/** What 257's check saw on the machine it ran on, and whether this machine shows the same. */
function input(key: string): { seen: string; here: string } {
  return key === 'ConditionHost' ? { seen: HOST, here: hostname() } : { seen: RELEASE, here: release() };
}

/** The condition's answer by fnmatch(), for `subject`. */
function answer(key: string, value: string, subject: string): boolean {
  if (key === 'ConditionHost') return fnmatch(value, subject, { casefold: true });
  const not = value.startsWith('!$=');
  const m = fnmatch(value.slice(not ? 3 : 2), subject);
  return not ? !m : m;
}

const shown = (unit: string): string | undefined => rec.tagged('show', unit)[0];

afterEach(stopEngines);

describe('fnmatch() conditions as 257 (fixtures/v257/condition-fnmatch)', () => {
  it('recorded on hostname vm', () => {
    expect(HOST).toBe('vm');
    expect(RELEASE).not.toBe('');
  });

  it.each(CASES.map((c) => [c.unit, `${c.key}=${c.value}`, c] as const))(
    '%s: %s gives 257 ConditionResult for what 257 saw',
    (unit, _what, c) => {
      const yes = answer(c.key, c.value, input(c.key).seen);
      expect(yes ? 'yes' : 'no').toBe(/ConditionResult=(\w+)/.exec(shown(unit) ?? '')?.[1]);
    },
  );

  it.each(CASES.map((c) => [c.unit, `${c.key}=${c.value}`, c] as const))(
    '%s: %s through the engine (same result, skip line, no warning)',
    async (unit, _what, c) => {
      const { seen, here } = input(c.key);
      if (seen !== here) return; // this machine's hostname/kernel is not what 257 saw: the case above covers it
      const log = capture();
      const { e } = await startEngine(FIXTURE, { files: [unit], logger: log, prefix: 'condition-fnmatch-' });
      expect(rec.tagged('rc', unit)).toEqual(['0']);
      await e.startUnit(unit);
      const info = e.unitInfo(unit);
      const show = expectStateAsShown(info, shown(unit));
      expect(info?.conditionResult ? 'yes' : 'no').toBe(show.ConditionResult);
      const about = (l: string): boolean =>
        l.startsWith(`${unit} skipped`) || l.startsWith(`${unit}: Couldn't determine`);
      expect(log.lines.filter((l) => about(l.text)).map((l) => `${l.level}: ${l.text}`)).toEqual(
        rec.lines.flatMap((l) => {
          const m = /^\[log\] (\w+): (.*)$/.exec(l);
          const level = m?.[1] === 'info' ? 'info' : m?.[1] === 'err' ? 'error' : 'warn';
          return m && about(m[2] as string) ? [`${level}: ${m[2]}`] : [];
        }),
      );
    },
  );
});
