/**
 * @mptcp/unit reports problems as diagnostics; what it throws (a unit file that cannot be read as one)
 * is a UnitError: `code` the errno name, `errno` its positive number (as Node's SystemError).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnitError, type UnitErrorCode, loadUnitFile } from '../src/index.js';

describe('UnitError', () => {
  it.each([
    ['EISDIR', 21],
    ['EBADFD', 77],
    ['EFBIG', 27],
  ] as Array<[UnitErrorCode, number]>)('%s is errno %d', (code, errno) => {
    const err = new UnitError(code, '/x.service', '/x.service: not a regular file');
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'UnitError', code, errno, path: '/x.service' });
  });

  it('the loader turns it into a "Failed to load configuration: CODE" diagnostic', () => {
    const d = mkdtempSync(join(tmpdir(), 'unit-errors-'));
    try {
      mkdirSync(join(d, 'dir.service'));
      expect(loadUnitFile(join(d, 'dir.service')).diagnostics.map((x) => x.message)).toEqual([
        'Failed to load configuration: EISDIR',
      ]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
