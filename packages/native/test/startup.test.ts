/**
 * reserveFds() grows the fd table once, on a side thread (addon_startup.cc): the table is seen to
 * grow (FDSize in /proc/self/status), no fd is left behind, and the fds opened meanwhile work.
 * trimMallocHeap() runs malloc_trim(0).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSmallFiles, reserveFds, setV8Flags, trimMallocHeap } from '../src/index.js';

function fdTableSize(): number {
  const m = /^FDSize:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no FDSize in /proc/self/status');
  return Number(m[1]);
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('reserveFds', () => {
  it('grows the fd table to the requested size without leaving an fd open', async () => {
    const want = Math.max(fdTableSize() * 4, 4096);
    const before = openFds();
    expect(reserveFds(want)).toBe(true);
    // The resize runs on its own thread: wait for it (each check is one read of /proc).
    const deadline = Date.now() + 30_000;
    while (fdTableSize() < want) {
      if (Date.now() > deadline) throw new Error(`FDSize stayed ${fdTableSize()} (wanted >= ${want})`);
      await new Promise((r) => setImmediate(r));
    }
    // The thread's two fds are closed once it is done: wait for the count to come back.
    while (openFds() > before) {
      if (Date.now() > deadline) throw new Error(`${openFds() - before} fd(s) left open`);
      await new Promise((r) => setImmediate(r));
    }
    // fds opened after it land in the grown table as usual.
    const fd = openSync('/dev/null', 'r');
    expect(fd).toBeLessThan(want);
    closeSync(fd);
  });

  it('does nothing for a count the first 64 slots hold, or a nonsensical one', () => {
    expect(reserveFds(10)).toBe(false);
    expect(reserveFds(-5)).toBe(false);
    expect(reserveFds(Number.NaN)).toBe(false);
  });
});

describe('trimMallocHeap', () => {
  it('returns a boolean (whether glibc released memory)', () => {
    expect(typeof trimMallocHeap()).toBe('boolean');
  });
});

describe('setV8Flags', () => {
  it('sets a V8 flag as node:v8 would, without loading node:v8', () => {
    // A fresh process: the test runner itself has node:v8 loaded.
    const script = `
      const { setV8Flags } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const { runInNewContext } = await import('node:vm');
      const before = runInNewContext('typeof gc');
      const ok = setV8Flags('--expose-gc');
      const after = runInNewContext('typeof gc');
      console.log(JSON.stringify({ before, ok, after, v8: process.moduleLoadList.includes('NativeModule v8') }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ before: 'undefined', ok: true, after: 'function', v8: false });
  });

  it('rejects a non-string', () => {
    expect(setV8Flags(42 as unknown as string)).toBe(false);
  });
});

describe('readSmallFiles', () => {
  it('the bytes of each file; undefined for empty, too big, missing, a directory and a FIFO (never blocks); no fd left open', () => {
    const d = mkdtempSync(join(tmpdir(), 'read-small-'));
    try {
      const files: Record<string, string | Buffer> = {
        'a.socket': '[Socket]\nListenStream=80\n',
        'b.service': Buffer.from([0x5b, 0xff, 0x00, 0x0a]),
        'empty.service': '',
        'max.service': 'x'.repeat(100),
        'over.service': 'x'.repeat(101),
        'big.service': 'y'.repeat(200_000),
      };
      for (const [n, c] of Object.entries(files)) writeFileSync(join(d, n), c);
      mkdirSync(join(d, 'dir.service'));
      execFileSync('mkfifo', [join(d, 'fifo.service')]);
      const names = [...Object.keys(files), 'dir.service', 'fifo.service', 'missing.service'];
      const before = openFds();
      const got = readSmallFiles(
        names.map((n) => join(d, n)),
        100,
      );
      expect(openFds()).toBe(before);
      expect(got).toBeDefined();
      const byName = Object.fromEntries(names.map((n, i) => [n, got?.[i]]));
      expect(byName['a.socket']?.toString()).toBe(files['a.socket']);
      expect(byName['b.service']).toEqual(files['b.service']);
      expect(byName['max.service']?.toString()).toBe(files['max.service']);
      for (const n of [
        'empty.service',
        'over.service',
        'big.service',
        'dir.service',
        'fifo.service',
        'missing.service',
      ])
        expect(byName[n]).toBeUndefined();
      // Files over the 64 KiB read size come whole when allowed.
      const [big] = readSmallFiles([join(d, 'big.service')], 1_000_000) ?? [];
      expect(big?.toString()).toBe(files['big.service']);
      expect(readSmallFiles([], 10)).toEqual([]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('a non-string path is a TypeError (a programming error), reported as undefined', () => {
    expect(readSmallFiles([42 as unknown as string], 10)).toBeUndefined();
  });
});
