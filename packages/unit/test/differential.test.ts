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
