/**
 * ConditionDirectoryNotEmpty= reads a directory only up to its first entry that counts (not hidden
 * or a backup), as 257's dir_is_empty() stops at the first getdents64() buffer that has one, and
 * closes it: a directory of thousands of entries costs one entry's read, not all of their names
 * on every start.
 */
import { type Dir, mkdirSync, opendirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasEntryThatCounts, testOne } from '../src/conditions.js';
import { fdCount, tmp } from './helpers/run.js';

const root = tmp('dir-not-empty-first-');
afterAll(() => rmSync(root, { recursive: true, force: true }));

function directory(name: string, entries: string[]): string {
  const d = join(root, name);
  mkdirSync(d);
  for (const e of entries) writeFileSync(join(d, e), '');
  return d;
}

/** A real Dir that tells how many entries were taken from it and whether it was closed. */
function counted(path: string): { dir: Dir; names: string[]; closed: () => number } {
  const real = opendirSync(path);
  const names: string[] = [];
  let closed = 0;
  const dir = {
    readSync: () => {
      const e = real.readSync();
      if (e) names.push(e.name);
      return e;
    },
    closeSync: () => {
      closed++;
      real.closeSync();
    },
  } as unknown as Dir;
  return { dir, names, closed: () => closed };
}

const many = Array.from({ length: 3000 }, (_, i) => `f${i}`);
const hidden = Array.from({ length: 50 }, (_, i) => `.h${i}`).concat(['x~', 'y.rpmnew', 'lost+found']);

describe('ConditionDirectoryNotEmpty= stops at the first entry that counts (257 dir_is_empty())', () => {
  it('3000 entries: one is read, then the directory is closed', () => {
    const c = counted(directory('many', many));
    expect(hasEntryThatCounts(c.dir)).toBe(true);
    expect(c.names).toHaveLength(1);
    expect(c.closed()).toBe(1);
  });

  it('hidden and backup entries are read past, and the one that counts ends the read', () => {
    const c = counted(directory('mixed', [...hidden, 'data']));
    expect(hasEntryThatCounts(c.dir)).toBe(true);
    expect(c.names.at(-1)).toBe('data');
    expect(c.names.slice(0, -1).every((n) => hidden.includes(n))).toBe(true);
    expect(c.closed()).toBe(1);
  });

  it('only hidden and backup entries: all read, empty, closed', () => {
    const c = counted(directory('hidden', hidden));
    expect(hasEntryThatCounts(c.dir)).toBe(false);
    expect(c.names.sort()).toEqual([...hidden].sort());
    expect(c.closed()).toBe(1);
  });

  it('the condition: met, unmet, missing, not a directory; no descriptor left open', () => {
    const before = fdCount();
    const check = (parameter: string): boolean =>
      testOne({
        type: 'DirectoryNotEmpty',
        key: 'ConditionDirectoryNotEmpty',
        parameter,
        trigger: false,
        negate: false,
        file: 'test',
        line: 1,
      });
    expect(check(join(root, 'many'))).toBe(true);
    expect(check(join(root, 'hidden'))).toBe(false);
    expect(check(join(root, 'nothing-here'))).toBe(false);
    writeFileSync(join(root, 'file'), 'x');
    expect(check(join(root, 'file'))).toBe(false);
    expect(fdCount()).toBe(before);
  });
});
