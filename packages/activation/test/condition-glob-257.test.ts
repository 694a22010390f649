/**
 * ConditionPathExistsGlob= as systemd 257 answers it (glob_exists(): glibc glob(3) with GLOB_BRACE,
 * readdir_no_dot()), recorded with the oracle over the small tree of fixtures/v257/condition-glob/
 * tree.txt (record.sh, cases.txt): `.*` in an empty directory finds nothing (257 never reads `.` or
 * `..`), `{nope,hidden}/.*` expands its braces, a dangling symlink exists (the last component is only
 * lstat()ed), and `file/` / `fil[e]/` hold for a regular file, since the unit parser's
 * path_simplify() drops the trailing slash before glob() sees it. The engine runs on a copy of the
 * units with the tree's path made this run's.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { globExists } from '../src/glob.js';
import { capture, expectStateAsShown, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/condition-glob/', import.meta.url));
const ROOT_257 = '/run/mptcpd-glob-257';
const rec = recording(FIXTURE);

const lines = (file: string): string[] =>
  readFileSync(join(FIXTURE, file), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'));

const CASES = lines('cases.txt').map((l) => {
  const [name = '', condition = ''] = l.split(' ');
  return { unit: `${name}.service`, value: condition.slice(condition.indexOf('=') + 1) };
});

let root = '';

beforeAll(() => {
  root = join(tmp('condition-glob-'), 'tree');
  mkdirSync(root);
  const made: string[] = [];
  for (const l of lines('tree.txt')) {
    const [name = '', arrow, target = ''] = l.split(' ');
    const path = join(root, name);
    if (arrow === '->') symlinkSync(target, path);
    else if (name.endsWith('/')) mkdirSync(path);
    else writeFileSync(path, '');
    made.push(`${name.replace(/\/$/, '')}:${arrow === '->' ? 'l' : name.endsWith('/') ? 'd' : 'f'}`);
  }
  // The tree 257 saw (driver.sh's find) is the one made here.
  expect(made.sort().join(' ')).toBe(rec.lines.find((l) => l.startsWith('[tree] '))?.slice(7));
});

afterEach(stopEngines);
afterAll(() => rmSync(dirname(root), { recursive: true, force: true }));

const shown = (unit: string): string | undefined => rec.tagged('show', unit)[0];
const here = (text: string): string => text.replaceAll(ROOT_257, root);

describe('ConditionPathExistsGlob= as 257 (fixtures/v257/condition-glob)', () => {
  it.each(CASES.map((c) => [c.unit, c.value] as const))(
    '%s: ConditionPathExistsGlob=%s through the engine (same result, skip line)',
    async (unit, value) => {
      const log = capture();
      const { e } = await startEngine(FIXTURE, { files: [unit], logger: log, prefix: 'condition-glob-', edit: here });
      expect(rec.tagged('rc', unit)).toEqual(['0']);
      await e.startUnit(unit);
      const info = e.unitInfo(unit);
      const show = expectStateAsShown(info, shown(unit));
      expect(info?.conditionResult ? 'yes' : 'no').toBe(show.ConditionResult);
      const about = (l: string): boolean => l.startsWith(`${unit} skipped`) || l.startsWith(`${unit}: Couldn't`);
      expect(log.lines.filter((l) => about(l.text)).map((l) => `${l.level}: ${l.text}`)).toEqual(
        rec.lines.flatMap((l) => {
          const m = /^\[log\] (\w+): (.*)$/.exec(l);
          return m && about(m[2] as string) ? [`${m[1] === 'info' ? 'info' : 'warn'}: ${here(m[2] as string)}`] : [];
        }),
      );
      // glob() itself on the pattern as written: the same, except where the trailing slash counts.
      const direct = globExists(here(value));
      if (!value.endsWith('/')) expect(direct ? 'yes' : 'no').toBe(show.ConditionResult);
    },
  );

  it('without path_simplify() glob() wants a directory after a wildcard: fil[e]/ finds nothing, file/ does', () => {
    expect(globExists(`${root}/fil[e]/`)).toBe(false);
    expect(globExists(`${root}/file/`)).toBe(true);
  });
});
