/** Argument parsing of the runner and the workers, and `bench --help` (which must never start a run). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { num, parseArgs } from '../src/lib/args.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('parseArgs', () => {
  it('workers: --key value, --key=value and bare flags, positionals kept', () => {
    const { positional, opts } = parseArgs(['serve', '--transport', 'mptcp', '--port=5', '--hash', '--role', 'sink']);
    expect(positional).toEqual(['serve']);
    expect(Object.fromEntries(opts)).toEqual({ transport: 'mptcp', port: '5', hash: 'true', role: 'sink' });
    expect(num(opts, 'port', 0)).toBe(5);
    expect(() => num(new Map([['port', 'x']]), 'port', 0)).toThrow(/--port: not a number/);
  });

  it('with a spec: strict, an unknown option throws', () => {
    const spec = { quick: { type: 'boolean' as const }, only: { type: 'string' as const } };
    expect(Object.fromEntries(parseArgs(['--quick', '--only', 'veth'], spec).opts)).toEqual({
      quick: 'true',
      only: 'veth',
    });
    expect(() => parseArgs(['--qiuck'], spec)).toThrow(/Unknown option/);
  });
});

describe.skipIf(!existsSync(cli))('bench CLI', () => {
  it('--help and -h print the usage and exit 0 without running anything', () => {
    for (const flag of ['--help', '-h']) {
      const out = execFileSync(process.execPath, [cli, flag], { encoding: 'utf8', timeout: 20_000 });
      expect(out).toMatch(/^usage: bench/);
      expect(out).not.toMatch(/^== /m); // no scenario started
    }
  });

  it('an unknown option is an error (exit 2) with the usage, not a full run', () => {
    const r = spawnSync(process.execPath, [cli, '--hlep'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--hlep'/);
    expect(r.stdout).not.toMatch(/^== /m);
  });
});
