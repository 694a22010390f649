#!/usr/bin/env node
/**
 * The benchmark runner: `pnpm bench` (all scenarios), `pnpm bench -- --only failover,loopback`
 * (or BENCH_ONLY=…), BENCH_QUICK=1 / --quick for short development runs (written to results/quick/).
 * Writes results/latest.json, results/latest.md and one SVG per chart.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { IN_CI, missing } from './lib/caps.js';
import { BENCH_DIR } from './lib/paths.js';
import { Skip, type ScenarioRecord } from './lib/result.js';
import type { Scenario } from './lib/scenario.js';
import { parseArgs } from './lib/args.js';
import { loadPrevious, writeReport } from './report/write.js';
import { scenarios } from './scenarios/index.js';

const USAGE = `usage: bench [options]

Runs the benchmark scenarios and writes results/latest.json, latest.md and one SVG per chart
(a quick run writes to results/quick/ instead).

options:
  --only a,b      run only these scenarios (also BENCH_ONLY=a,b); see --list
  --quick         short development run (also BENCH_QUICK=1), written to results/quick/
  --reps N        repetitions per measured point (default 3, also BENCH_REPS)
  --out DIR       write the report to DIR
  --list          list the scenarios and exit
  --rewrite       re-render latest.md/latest.json from the stored records and exit
  -h, --help      print this help and exit (nothing is run, nothing is written)
`;

let opts: Map<string, string>;
try {
  ({ opts } = parseArgs(process.argv.slice(2), {
    only: { type: 'string' },
    quick: { type: 'boolean' },
    reps: { type: 'string' },
    out: { type: 'string' },
    list: { type: 'boolean' },
    rewrite: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  }));
} catch (e) {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
  process.exit(2);
}
if (opts.has('help')) {
  console.log(USAGE);
  process.exit(0);
}
const quick = opts.get('quick') === 'true' || process.env.BENCH_QUICK === '1';
const onlyRaw = opts.get('only') ?? process.env.BENCH_ONLY ?? '';
const only = onlyRaw
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const reps = Number(opts.get('reps') ?? process.env.BENCH_REPS ?? 3);
const outDir = opts.get('out') ?? join(BENCH_DIR, 'results', quick ? 'quick' : '');

if (opts.has('rewrite')) {
  // Re-render latest.md/latest.json from the stored records (after a change to the report format).
  const stored = loadPrevious(outDir);
  writeReport(
    outDir,
    { generatedAt: new Date().toISOString(), host: hostInfo(), scenarios: stored },
    scenarios.map((s) => s.name),
    Object.fromEntries(scenarios.map((s) => [s.name, s.title])),
  );
  console.log(`rewrote ${join(outDir, 'latest.md')} from ${Object.keys(stored).length} stored scenario records`);
  process.exit(0);
}
if (opts.has('list')) {
  for (const s of scenarios) console.log(`${s.name.padEnd(12)} ${s.title}`);
  process.exit(0);
}
const unknown = only.filter((n) => !scenarios.some((s) => s.name === n));
if (unknown.length) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${scenarios.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
if (!(reps >= 1)) {
  console.error('--reps must be >= 1');
  process.exit(2);
}
if (!quick && reps < 3)
  console.warn('note: fewer than 3 repetitions; medians of fewer than 3 runs are not reportable figures');

const selected: Scenario[] = only.length ? scenarios.filter((s) => only.includes(s.name)) : scenarios;
// Only the scenarios of this run are replaced; the others are re-read from disk at each write, so
// two subset runs at the same time (another engineer's `--only activation`) do not undo each other.
const records: Record<string, ScenarioRecord> = {};
const titles = Object.fromEntries(scenarios.map((s) => [s.name, s.title]));
const order = scenarios.map((s) => s.name);
let failures = 0;

mkdirSync(outDir, { recursive: true });
for (const s of selected) {
  const t0 = performance.now();
  const ranAt = new Date().toISOString();
  const base: ScenarioRecord = { ranAt, quick, seconds: 0, metrics: [], summary: {}, data: {}, charts: [], notes: [] };
  const log = (line: string): void => console.log(`  [${s.name}] ${line}`);
  console.log(`== ${s.name}: ${s.title}${quick ? ' (quick)' : ''}`);
  const lacking = missing(s.needs);
  if (lacking) {
    if (IN_CI) {
      failures++;
      records[s.name] = { ...base, failed: `missing capability in CI: ${lacking}` };
    } else records[s.name] = { ...base, skipped: lacking };
    console.log(`  ${IN_CI ? 'FAILED' : 'skipped'}: ${lacking}`);
    continue;
  }
  const tmp = mkdtempSync(join(tmpdir(), `bench-${s.name}-`));
  try {
    const r = await s.run({ quick, reps: quick ? Math.min(reps, 3) : reps, tmp, log });
    for (const c of r.charts) writeFileSync(join(outDir, c.file), c.svg);
    records[s.name] = {
      ...base,
      seconds: (performance.now() - t0) / 1000,
      metrics: r.metrics,
      summary: r.summary,
      data: r.data,
      charts: r.charts.map((c) => ({ file: c.file, title: c.title })),
      notes: r.notes,
    };
    for (const m of r.metrics)
      console.log(
        `  ${m.label}: ${m.value}${m.unit ? ` ${m.unit}` : ''}${m.goal ? ` (goal ${m.goal.op} ${m.goal.value})` : ''}`,
      );
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof Skip && !IN_CI) {
      records[s.name] = { ...base, seconds: (performance.now() - t0) / 1000, skipped: msg };
      console.log(`  skipped: ${msg}`);
    } else {
      failures++;
      records[s.name] = { ...base, seconds: (performance.now() - t0) / 1000, failed: msg };
      console.log(`  FAILED: ${msg}`);
      if (e instanceof Error && e.stack && process.env.BENCH_DEBUG) console.log(e.stack);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  // Write after every scenario, so an interrupted run still leaves what it measured.
  writeReport(
    outDir,
    { generatedAt: new Date().toISOString(), host: hostInfo(), scenarios: { ...loadPrevious(outDir), ...records } },
    order,
    titles,
  );
}

console.log(`report: ${join(outDir, 'latest.md')}`);
process.exitCode = failures ? 1 : 0;

function hostInfo(): Record<string, string | number> {
  const cpu = cpus();
  return {
    kernel: `Linux ${release()}`,
    node: process.version,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
  };
}
