/**
 * Differential test: random unit files through verify() and through the installed
 * `systemd-analyze verify` (systemd 252 here); every diagnostic line must be the same, in order.
 * Skipped where systemd-analyze is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDiagnostic, staticInterfaceResolver, verify } from '../src/index.js';
import { randomLineMixes, randomUnits } from './helpers/random-units.js';

const available = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'unit-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function theirs(name: string): string[] {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(dir, name)], { encoding: 'utf8' });
  return `${r.stderr}${r.stdout}`
    .split('\n')
    .filter((l) => l.startsWith(`${join(dir, name)}:`) || l.startsWith(`${name}:`) || l.startsWith(`Unit ${name} `) || l === 'Access denied')
    .map((l) => l.replace(`${dir}/`, ''));
}

describe.skipIf(!available)('verify() vs systemd-analyze verify on random units', () => {
  const SEED = Number(process.env['UNIT_DIFF_SEED'] ?? 20261125);
  const count = Number(process.env['UNIT_DIFF_COUNT'] ?? 80);
  const files = [...randomUnits(SEED, count), ...randomLineMixes(SEED, count)];
  for (const f of files) writeFileSync(join(dir, f.name), f.text);
  const units = files.filter((f) => /^[fg]\d+\.(socket|service)$/.test(f.name));
  it.each(units.map((u) => [u.name, u.text]))('%s', (name, text) => {
    // Executables: this machine's file system, as for systemd-analyze.
    const ours = verify([join(dir, name)], { searchPaths: [dir], liteWarnings: false, interfaces: staticInterfaceResolver({ lo: 1 }) }).diagnostics.map((d) =>
      formatDiagnostic(d).replace(`${dir}/`, ''),
    );
    expect(ours, text).toEqual(theirs(name));
  });
});

describe.skipIf(!available)('parseSec() vs systemd-analyze timespan on random time spans', async () => {
  const { parseSec } = await import('../src/values/timespan.js');
  const { prng } = await import('../src/testing.js');
  const r = prng(Number(process.env['UNIT_DIFF_SEED'] ?? 20261125));
  const TOK = ['1', '0', '12', '3.5', '.5', '5.', '-', '+', ' ', 's', 'sec', 'min', 'm', 'M', 'ms', 'us', 'µs', 'h', 'hr', 'd', 'w', 'y', 'month', 'infinity', 'x', '.', '0x1', '007', '1e3', 'usec', 'seconds'];
  const inputs = Array.from({ length: 120 }, () => {
    let s = '';
    for (let k = 0, n = 1 + Math.floor(r() * 5); k < n; k++) s += TOK[Math.floor(r() * TOK.length)];
    return s;
  });
  it.each(inputs)('%j', (s) => {
    const res = spawnSync('systemd-analyze', ['timespan', '--', s], { encoding: 'utf8' });
    const m = /μs: (\d+)/.exec(res.stdout);
    const ours = parseSec(s);
    expect(ours.ok ? ours.value.usec.toString() : 'EINVAL/ERANGE').toBe(res.status === 0 && m ? m[1] : 'EINVAL/ERANGE');
  });
});
