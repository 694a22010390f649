/**
 * isHiddenOrBackupFile() is 257's hidden_or_backup_file() (src/basic/path-util.c; 257.13's
 * libsystemd-shared-257.so holds its strings in this order, lost+found to swp): the one list both
 * drop-in listing and ConditionDirectoryNotEmpty= use.
 */
import { describe, expect, it } from 'vitest';
import { isHiddenOrBackupFile } from '../src/index.js';

// 257's list, written here on its own (not read from the loader's): the test's record of 257.
const SUFFIXES = [
  'rpmnew rpmsave rpmorig',
  'dpkg-old dpkg-new dpkg-tmp dpkg-dist dpkg-bak dpkg-backup dpkg-remove',
  'ucf-new ucf-old ucf-dist swp bak old new',
].flatMap((words) => words.split(' '));

describe('isHiddenOrBackupFile (257 hidden_or_backup_file)', () => {
  it.each(['.hidden', '.90-x.conf', '.', '..'])('a hidden name: %s', (n) => {
    expect(isHiddenOrBackupFile(n)).toBe(true);
  });

  it.each(['lost+found', 'aquota.user', 'aquota.group'])('the file system entries: %s', (n) => {
    expect(isHiddenOrBackupFile(n)).toBe(true);
  });

  it.each(['x.conf~', 'notes~'])('a ~ backup: %s', (n) => {
    expect(isHiddenOrBackupFile(n)).toBe(true);
  });

  it.each(SUFFIXES)('the suffix .%s after the last dot', (s) => {
    expect(isHiddenOrBackupFile(`10-x.conf.${s}`)).toBe(true);
    expect(isHiddenOrBackupFile(`file.${s}`)).toBe(true);
  });

  it.each([
    'a.conf',
    'demo.service',
    'data',
    // a suffix counts only after the last dot, and only as a whole
    'x.rpmnew.conf',
    'x.bak.d',
    'x.newer',
    'x-bak',
    'rpmnew',
    // the quota names only whole; lost+found only exact
    'aquota.users',
    'lost+found2',
    // the generic ".ignore" came after 257 (systemd PR #39554, 2025)
    'x.ignore',
  ])('a normal name: %s', (n) => {
    expect(isHiddenOrBackupFile(n)).toBe(false);
  });
});
