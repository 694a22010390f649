/**
 * glob() / globExists() as systemd 257's glob_exists() (ConditionPathExistsGlob=): glibc glob(3) with
 * GLOB_NOSORT|GLOB_BRACE and readdir_no_dot(). fixtures/glibc-glob/glob.json is recorded from
 * Debian trixie's glibc (257's) by record.py over the tree it lists (built again here): `.*` never
 * finds `.` or `..` (an empty directory has no match) while `dir/.` exists, hidden names only for a
 * leading literal `.`, a trailing `/` after a wildcard only directories (a symlink to one too) but `file/` exists, a dangling
 * symlink exists, escapes, brace expansion (nested, escaped, unterminated), `//` and `\/`.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expandBraces, glob, globExists } from '../src/glob.js';

type Row = [pattern: string, ret: 0 | 3, paths: string[]];

const recorded = JSON.parse(readFileSync(new URL('./fixtures/glibc-glob/glob.json', import.meta.url), 'utf8')) as {
  glibc: string;
  flags: string;
  tree: string[];
  cases: Row[];
};

let root = '';

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'glibc-glob-'));
  for (const entry of recorded.tree) {
    const [name = '', target] = entry.split(' -> ');
    const path = join(root, name.replace(/[/|]$/, ''));
    if (target !== undefined) symlinkSync(target, path);
    else if (name.endsWith('/')) mkdirSync(path);
    else if (name.endsWith('|')) execFileSync('mkfifo', [path]);
    else closeSync(openSync(path, 'w'));
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pattern on this machine (`@` is the tree's root). */
const here = (pattern: string): string => pattern.replace('@', root);

/** glob()'s paths as recorded: sorted bytewise, the root written `@`. */
function found(pattern: string): string[] {
  return glob(here(pattern))
    .sort(Buffer.compare)
    .map((p) => p.toString('utf8'))
    .map((p) => (p.startsWith(root) ? `@${p.slice(root.length)}` : p));
}

describe(`glob() as glibc ${recorded.glibc} ${recorded.flags} (fixtures/glibc-glob)`, () => {
  it('finds the recorded paths for every pattern', () => {
    const wrong = recorded.cases
      .filter((r) => JSON.stringify(found(r[0])) !== JSON.stringify(r[2]))
      .map((r) => `${r[0]}: glibc ${JSON.stringify(r[2])}, ours ${JSON.stringify(found(r[0]))}`);
    expect(wrong).toEqual([]);
  });

  it('globExists() is glob() returning 0 (not GLOB_NOMATCH)', () => {
    const wrong = recorded.cases.filter((r) => globExists(here(r[0])) !== (r[1] === 0)).map((r) => r[0]);
    expect(wrong).toEqual([]);
  });

  it('covers what 257 does differently from a plain glob(3) and from a component walk', () => {
    const ret = (p: string): number | undefined => recorded.cases.find((r) => r[0] === p)?.[1];
    expect(ret('@/empty/.*')).toBe(3); // readdir_no_dot(): no `.`/`..`
    expect(ret('@/empty/.')).toBe(0);
    expect(ret('@/hidden/*')).toBe(3);
    expect(ret('@/file/')).toBe(0);
    expect(ret('@/fil[e]/')).toBe(3);
    expect(ret('@/dangling')).toBe(0);
    expect(ret('@/{nope,hidden}/.*')).toBe(0);
    expect(recorded.cases.length).toBeGreaterThan(700);
  });

  it('matches a name that is not UTF-8 as its bytes', () => {
    writeFileSync(Buffer.concat([Buffer.from(`${root}/latin1-`), Buffer.of(0xe9)]), '');
    expect(glob(`${root}/latin1-?`).map((p) => p.subarray(root.length).toString('latin1'))).toEqual(['/latin1-é']);
    rmSync(Buffer.concat([Buffer.from(`${root}/latin1-`), Buffer.of(0xe9)]));
  });
});

describe('expandBraces() (GLOB_BRACE before matching)', () => {
  it.each([
    ['{a,b}/x', ['a/x', 'b/x']],
    ['{a,{b,c}}d', ['ad', 'bd', 'cd']],
    ['*.{js,mjs}', ['*.js', '*.mjs']],
    ['{,x}', ['', 'x']],
    ['{a}', ['a']],
    ['\\{a,b}', ['\\{a,b}']],
    ['{a,b\\,c}', ['a', 'b\\,c']],
    ['{a', ['{a']],
    ['{a/{b,c}', ['{a/{b,c}']],
    ['a}', ['a}']],
    ['{é,ü}', ['é', 'ü']],
  ])('%s', (pattern, alternatives) => {
    expect(expandBraces(pattern)).toEqual(alternatives);
  });
});
