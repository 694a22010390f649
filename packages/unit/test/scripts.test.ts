/** The plain-JS entry points that run against dist/: the vector runner and the benchmark. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const pkg = new URL('..', import.meta.url).pathname;
const built = existsSync(join(pkg, 'dist/vectors.js'));
const run = (args: string[]) => spawnSync(process.execPath, args, { cwd: pkg, encoding: 'utf8' });

describe.skipIf(!built)('scripts (against dist/)', () => {
  it.each(['conf-syntax.json', 'socket-addresses.json', 'values.json'])('run-vectors.mjs %s passes everything', (f) => {
    const r = run(['scripts/run-vectors.mjs', `test/fixtures/${f}`]);
    const count = (JSON.parse(readFileSync(join(pkg, 'test/fixtures', f), 'utf8')) as { vectors: unknown[] }).vectors
      .length;
    expect(r.stdout.trim().split('\n').at(-1)).toBe(`${count} passed, 0 failed`);
    expect(r.status).toBe(0);
  });

  it('run-vectors.mjs prints failing cases and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vectors-'));
    try {
      const file = join(dir, 'v.json');
      writeFileSync(
        file,
        JSON.stringify({
          description: 'x',
          count: 2,
          vectors: [
            { kind: 'unsigned', input: '010', expected: { ok: true, value: 8 } },
            { kind: 'unsigned', input: '010', expected: { ok: true, value: 10 } },
          ],
        }),
      );
      const r = run(['scripts/run-vectors.mjs', file]);
      expect(r.stdout).toContain('FAIL [values] #1 unsigned "010"');
      expect(r.stdout.trim().split('\n').at(-1)).toBe('1 passed, 1 failed');
      expect(r.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parse.bench.mjs prints units/s as JSON', () => {
    const r = run(['bench/parse.bench.mjs', '--units', '1000', '--rounds', '1']);
    const out = JSON.parse(r.stdout) as { units: number; unitsPerSecond: number };
    expect(out.units).toBe(1000);
    expect(out.unitsPerSecond).toBeGreaterThan(0);
  });
});
