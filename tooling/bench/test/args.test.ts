/** Argument parsing of the runner and the workers, and `bench --help` (which must never start a run). */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

// `turbo run test` builds first; without dist/ the CLI tests skip with the reason (fail under CI).
const noCli = existsSync(cli) ? undefined : `${cli} is not built (npx tsc -p tsconfig.json)`;
if (noCli && process.env.CI === 'true') throw new Error(noCli);

describe.skipIf(noCli !== undefined)('bench CLI', () => {
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

  it('--list names every scenario, the Accept=no one included, and runs nothing', () => {
    const out = execFileSync(process.execPath, [cli, '--list'], { encoding: 'utf8', timeout: 20_000 });
    const names = out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual(expect.arrayContaining(['failover', 'aggregation', 'activation', 'acceptno']));
    expect(out).not.toMatch(/^== /m);
  });

  it('an unknown scenario is an error (exit 2), nothing is written', () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    try {
      const r = spawnSync(process.execPath, [cli, '--only', 'failovr', '--out', out], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/unknown scenario\(s\): failovr/);
      expect(existsSync(join(out, 'latest.json'))).toBe(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('a subset run replaces only its own scenario and keeps the records it did not run', () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-cli-'));
    try {
      const kept = {
        ranAt: '2026-01-01T00:00:00.000Z',
        quick: false,
        seconds: 1,
        metrics: [],
        summary: {},
        data: {},
        charts: [],
        notes: ['kept'],
      };
      writeFileSync(
        join(out, 'latest.json'),
        JSON.stringify({ generatedAt: kept.ranAt, host: {}, scenarios: { failover: kept } }),
      );
      // `unit` runs in process in about a second and needs no capability
      const r = spawnSync(process.execPath, [cli, '--only', 'unit', '--quick', '--out', out], {
        encoding: 'utf8',
        timeout: 120_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const written = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
        scenarios: Record<string, { notes: string[]; metrics: unknown[] }>;
      };
      expect(written.scenarios.failover?.notes).toEqual(['kept']);
      expect(written.scenarios.unit?.metrics.length).toBeGreaterThan(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
