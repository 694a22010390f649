/**
 * The committed prebuilds of @mptcp/native: each one is exactly what its sources build to with the pinned
 * toolchain (scripts/prebuild.mjs --check, a reproducible build), and the arm64 one loads and carries an
 * MPTCP echo under qemu-aarch64 with an arm64 Node (scripts/smoke-arm64.sh).
 * Needs g++ 12.2 (Debian 12), g++-aarch64-linux-gnu, qemu-user-static: on CI their absence fails the test.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/packages.js';

const native = path.join(repoRoot, 'packages', 'native');
const onCI = process.env['CI'] === 'true';

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function need(...cmds: string[]): string | undefined {
  const missing = cmds.filter((c) => !have(c));
  if (missing.length === 0) return undefined;
  const why = `missing ${missing.join(', ')} (apt-get install g++ g++-aarch64-linux-gnu qemu-user-static)`;
  if (onCI) throw new Error(`required capability missing on CI: ${why}`);
  console.warn(`skipping: ${why}`);
  return why;
}

function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: native, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('@mptcp/native prebuilds', () => {
  it.each([
    ['x64', 'g++'],
    ['arm64', 'aarch64-linux-gnu-g++'],
  ])('linux-%s is reproducible: the sources build to the committed bytes', (arch, cxx) => {
    if (need(cxx, 'make', 'python3')) return;
    const r = run(process.execPath, ['scripts/prebuild.mjs', '--arch', arch, '--check']);
    const verdict = r.out.split('\n').find((l) => /^(same|DIFFERENT):/.test(l));
    console.log(verdict ?? r.out);
    expect(verdict, `${r.out}\nrebuild with: cd packages/native && node scripts/prebuild.mjs --arch ${arch}`).toMatch(
      /^same:/,
    );
  });

  it('linux-arm64 loads under qemu-aarch64 with an arm64 Node and carries an MPTCP echo', () => {
    if (need('qemu-aarch64-static', 'apt-get', 'dpkg-deb')) return;
    const r = run('bash', ['scripts/smoke-arm64.sh']);
    console.log(r.out);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('linux-arm64 (aarch64)');
    expect(r.out).toContain('addon loaded: true (prebuilds/linux-arm64)');
    expect(r.out).toMatch(/client isMptcp=true/);
  });
});
