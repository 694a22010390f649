/**
 * verify() against `systemd-analyze verify` (systemd 252 on the machine that recorded
 * fixtures/oracle/expected.json with scripts/record-oracle.mjs), kept only for the units where
 * systemd 257 prints the same (scripts/record-257.mjs prunes it; test/conformance-257.test.ts has 257). Executables are checked through a
 * fixed table so the result does not depend on this machine.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, staticInterfaceResolver, verify } from '../src/index.js';

const dir = new URL('./fixtures/oracle/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(`${dir}expected.json`, 'utf8')) as {
  units: Record<string, { status: number; lines: string[] }>;
};
const EXECUTABLES = new Set(['/bin/true', '/bin/false', '/bin/cat', '/bin/echo', '/bin/sh']);
const executables = (p: string): string | undefined =>
  EXECUTABLES.has(p) ? undefined : p === '/etc/passwd' ? 'EACCES' : 'ENOENT';

/** Where systemd 257 differs from the 252 recording. */
const V257_DIFFERENCES: Record<string, (lines: string[]) => string[]> = {};

function ours(name: string): { failed: boolean; lines: string[] } {
  const r = verify([`${dir}${name}`], {
    searchPaths: [dir],
    executables,
    liteWarnings: false,
    interfaces: staticInterfaceResolver({ lo: 1 }),
  });
  return { failed: r.failed, lines: r.diagnostics.map((d) => formatDiagnostic(d).replace(dir, '')) };
}

describe('verify() matches systemd-analyze verify', () => {
  it.each(Object.keys(expected.units))('%s', (name) => {
    const want = expected.units[name] as { status: number; lines: string[] };
    const fix = V257_DIFFERENCES[name];
    const got = ours(name);
    expect(got.lines).toEqual(fix ? fix(want.lines) : want.lines);
    expect(got.failed).toBe(want.status !== 0);
  });

  const live = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  it.skipIf(live.status !== 0)('the recording still matches the installed systemd-analyze', () => {
    for (const name of Object.keys(expected.units).slice(0, 3)) {
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', `${dir}${name}`], { encoding: 'utf8' });
      const lines = `${r.stderr}${r.stdout}`
        .split('\n')
        .filter((l) => l.startsWith(`${dir}${name}:`) || l.startsWith(`${name}:`) || l.startsWith(`Unit ${name} `))
        .map((l) => l.replace(dir, ''));
      expect(lines).toEqual(expected.units[name]?.lines);
    }
  });
});
