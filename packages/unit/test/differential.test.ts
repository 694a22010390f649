/**
 * Differential test: random unit files (randomUnits257(), mostly wrong on purpose) through verify()
 * and through systemd 257's `systemd-analyze verify`; the lines, the verdict with
 * --recursive-errors=no and the verdict without it must be the same (deliberate differences aside).
 *
 * Two sources for 257's side:
 * - the recording (test/fixtures/v257/random/, scripts/record-257.mjs): always.
 * - live, when ORACLE_BASE is set (and ORACLE_SH, default ../../../shared/oracle/oracle.sh from this
 *   package): UNIT_DIFF_COUNT (default 60) new units from UNIT_DIFF_SEED (default: the date), each
 *   through `oracle.sh verify`. Setting ORACLE_BASE makes a missing/failing oracle a failure.
 *   .ci/run sets ORACLE_BASE (and a fixed seed), so CI compares new units with the real 257 too.
 * Both print the match rate (exact lines, verdict).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { randomUnits257 } from '../src/testing.js';
import { expected } from './helpers/deliberate-257.js';
import { randomLineMixes } from './helpers/random-units.js';
import { loadRecording, ours, V257_DIR } from './helpers/v257.js';

interface Tally {
  n: number;
  lines: number;
  verdict: number;
}
const report = (what: string, t: Tally): void => {
  const pct = (x: number): string => `${((100 * x) / Math.max(t.n, 1)).toFixed(1)} %`;
  console.log(
    `${what}: ${t.n} random units, exact lines ${t.lines} (${pct(t.lines)}), verdict ${t.verdict} (${pct(t.verdict)})`,
  );
};

function tally(t: Tally, lines: boolean, verdict: boolean): void {
  t.n++;
  if (lines) t.lines++;
  if (verdict) t.verdict++;
}

describe('verify() vs systemd 257 on the recorded random units', () => {
  const recording = loadRecording();
  const units = recording.cases['random'] ?? {};
  const t: Tally = { n: 0, lines: 0, verdict: 0 };
  afterAll(() => report(`recorded (${recording.recordedWith})`, t));
  it('has a recording', () => expect(Object.keys(units).length).toBeGreaterThan(100));
  it.each(Object.keys(units))('%s', (file) => {
    const { want, got } = expected('random', file, units[file]!, ours(join(V257_DIR, 'random'), file));
    tally(
      t,
      JSON.stringify(got.lines) === JSON.stringify(want.lines),
      got.strict === want.strict && got.default === want.default,
    );
    expect(got.lines).toEqual(want.lines);
    expect(got.strict, 'rc with --recursive-errors=no').toBe(want.strict);
    expect(got.default, 'rc without --recursive-errors').toBe(want.default);
  });
});

const oracleBase = process.env['ORACLE_BASE'];
const oracle =
  process.env['ORACLE_SH'] ?? resolve(new URL('.', import.meta.url).pathname, '../../../../shared/oracle/oracle.sh');

describe.skipIf(!oracleBase)('verify() vs systemd 257 live (oracle.sh verify)', () => {
  const seed = Number(process.env['UNIT_DIFF_SEED'] ?? Math.floor(Date.now() / 86_400_000));
  const count = Number(process.env['UNIT_DIFF_COUNT'] ?? 60);
  const dir = mkdtempSync(join(tmpdir(), 'unit-diff-257-'));
  const t: Tally = { n: 0, lines: 0, verdict: 0 };
  afterAll(() => {
    report(`live seed ${seed}`, t);
    rmSync(dir, { recursive: true, force: true });
  });
  // Values (randomUnits257) and the line layer: section headers, continuations, CRLF, BOM (randomLineMixes).
  const files = [...randomUnits257(seed, count), ...randomLineMixes(seed, Math.ceil(count / 2))];
  for (const f of files) {
    mkdirSync(dirname(join(dir, f.name)), { recursive: true });
    writeFileSync(join(dir, f.name), f.text);
  }
  // Only verify's tree is needed (about 10 s on first use); `setup` would also build activate's chroot.
  // Run through bash: CI's copy of ../shared has no write bits, and may lose the exec bit too.
  it('the oracle verifies a clean unit', { timeout: 300_000 }, () => {
    expect(existsSync(oracle), `${oracle} (set ORACLE_SH)`).toBe(true);
    writeFileSync(join(dir, 'warm-up.service'), '[Service]\nExecStart=/bin/true\n');
    const r = spawnSync('bash', [oracle, 'verify', dir, 'warm-up.service'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });
  const names = files.filter((f) => /^[rg]\d+\.(socket|service)$/.test(f.name)).map((f) => f.name);
  it.each(names)(`seed ${seed}: %s`, (file) => {
    const r = spawnSync('bash', [oracle, 'verify', dir, file], { encoding: 'utf8' });
    const lines = `${r.stdout}${r.stderr}`
      .split('\n')
      .filter((l) => l !== '' && !/^verify rc=\d+$/.test(l))
      .map((l) => l.split(`${dir}/`).join('{DIR}/'));
    // The default-mode rc needs trixie's units (see scripts/record-257.mjs); live, only strict is compared.
    const mine = ours(dir, file, true);
    const { want, got } = expected(
      'random',
      file,
      { strict: { rc: r.status ?? 1, lines }, default: { rc: mine.default } },
      mine,
    );
    tally(t, JSON.stringify(got.lines) === JSON.stringify(want.lines), got.strict === want.strict);
    expect(got.lines, files.find((f) => f.name === file)?.text).toEqual(want.lines);
    expect(got.strict).toBe(want.strict);
  });
});

// Time spans: the installed systemd-analyze (252 here; parse_sec() did not change up to 257).
const available = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
describe.skipIf(!available)('parseSec() vs systemd-analyze timespan on random time spans', async () => {
  const { parseSec } = await import('../src/values/timespan.js');
  const { prng } = await import('../src/testing.js');
  const r = prng(Number(process.env['UNIT_DIFF_SEED'] ?? 20261125));
  const TOK = [
    '1',
    '0',
    '12',
    '3.5',
    '.5',
    '5.',
    '-',
    '+',
    ' ',
    's',
    'sec',
    'min',
    'm',
    'M',
    'ms',
    'us',
    'µs',
    'h',
    'hr',
    'd',
    'w',
    'y',
    'month',
    'infinity',
    'x',
    '.',
    '0x1',
    '007',
    '1e3',
    'usec',
    'seconds',
  ];
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
