import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadUnitDirectories, loadUnitFile } from '../src/loader.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'unit-read-'));
  roots.push(d);
  return d;
}

// The main unit file is opened once: its fstat() tells a mask (empty, /dev/null) from a unit and
// from what is not a regular file, which must neither block nor be read.
describe('loadUnitFile: masks and files that are not regular', () => {
  it('an empty file and a link to /dev/null are masked', () => {
    const d = dir();
    writeFileSync(join(d, 'empty.service'), '');
    symlinkSync('/dev/null', join(d, 'null.service'));
    for (const f of ['empty.service', 'null.service']) {
      const r = loadUnitFile(join(d, f));
      expect(r.masked).toBe(true);
      expect(r.code).toBe('ERFKILL');
      expect(r.diagnostics.map((x) => x.message)).toEqual([`Unit ${f} is masked.`]);
    }
  });

  it('a link to another character device, a FIFO and a directory fail to load, unread', () => {
    const d = dir();
    symlinkSync('/dev/zero', join(d, 'zero.service'));
    execFileSync('mkfifo', [join(d, 'fifo.service')]);
    mkdirSync(join(d, 'dir.service'));
    const code = (f: string): string[] => loadUnitFile(join(d, f)).diagnostics.map((x) => x.message);
    expect(code('zero.service')).toEqual(['Failed to load configuration: EBADFD']);
    expect(code('fifo.service')).toEqual(['Failed to load configuration: EBADFD']);
    expect(code('dir.service')).toEqual(['Failed to load configuration: EISDIR']);
    expect(loadUnitFile(join(d, 'missing.service')).diagnostics.map((x) => x.message)).toEqual([
      'Failed to load configuration: ENOENT',
    ]);
  });

  it('an invalid unit name is reported before a read error', () => {
    const d = dir();
    const r = loadUnitFile(join(d, 'nope.txt'));
    expect(r.fatal).toBe(true);
    expect(r.diagnostics.map((x) => x.message)).toEqual([
      'Unit name is not a valid .socket or .service unit name: nope.txt',
    ]);
  });

  it('reads the whole file, drop-ins applied after it', () => {
    const d = dir();
    const long = `[Service]\nExecStart=/bin/true${' x'.repeat(40_000)}\n`;
    writeFileSync(join(d, 'big.service'), long);
    mkdirSync(join(d, 'big.service.d'));
    writeFileSync(join(d, 'big.service.d', 'a.conf'), '[Service]\nRestart=always\n');
    const r = loadUnitDirectories([d]);
    expect(r.failed).toEqual([]);
    const svc = r.services[0]!;
    expect(svc.execStart[0]?.argv).toHaveLength(40_001);
    expect(svc.restart).toBe('always');
    expect(svc.dropIns).toEqual([join(d, 'big.service.d', 'a.conf')]);
  });
});
