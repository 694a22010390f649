/**
 * @mptcp/unit: units parsed per second over a generated corpus (≥ 1,000 units, warm, in process),
 * and the loader alone reading the daemon benchmark's units from disk in a cold process.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { corpus, resolveParser } from '../lib/unit-api.js';
import { round, sampled } from '../lib/stats.js';
import type { Scenario } from '../lib/scenario.js';
import { writeManyAcceptUnits } from './daemon.js';

export const unitParse: Scenario = {
  name: 'unit',
  title: '@mptcp/unit: units parsed per second',
  needs: [],
  async run(ctx) {
    const parse = resolveParser();
    const count = 2000;
    const { units, source } = corpus(count);
    const bytes = units.reduce((a, u) => a + u.text.length, 0);
    // warm-up: five untimed passes, so the JIT has settled before timing
    for (let w = 0; w < 5; w++) for (const u of units) parse(u.name, u.text);
    const rates: number[] = [];
    let diagnostics = 0;
    for (let rep = 0; rep < Math.max(ctx.reps, 9); rep++) {
      const t0 = performance.now();
      let d = 0;
      for (const u of units) d += parse(u.name, u.text).diagnostics.length;
      const s = (performance.now() - t0) / 1000;
      diagnostics = d;
      rates.push(units.length / s);
      ctx.log(`pass ${rep + 1}: ${round(units.length / s, 0)} units/s`);
    }
    const r = sampled(rates);
    return {
      summary: { unit: { unitsPerSecond: round(r.median, 0), corpusUnits: units.length } },
      metrics: [
        {
          key: 'unit.unitsPerSecond',
          label: 'Units parsed per second',
          value: round(r.median, 0),
          unit: 'units/s',
          goal: { op: '>=', value: 10_000 },
          how: `parseUnitText over ${units.length} generated .socket/.service texts (${round(bytes / 1024, 0)} KiB, from ${source}), in process after a warm-up, median of ${rates.length} passes.`,
        },
      ],
      data: {
        corpusUnits: units.length,
        corpusBytes: bytes,
        corpusSource: source,
        diagnosticsPerPass: diagnostics,
        unitsPerSecond: r,
      },
      charts: [],
      notes: [],
    };
  },
};

/**
 * The child that loads a unit directory once, in a fresh process (the daemon loads its units once,
 * cold: the interpreter and the JIT's background compiles are what a start pays, not a warmed-up
 * loop). It prints the CPU (all threads: user + system) and wall time of loadUnitDirectories() alone,
 * after Node's boot and the module import.
 */
const LOAD_CHILD = `
const [url, dir] = process.argv.slice(1);
const { loadUnitDirectories } = await import(url);
const c0 = process.cpuUsage();
const t0 = performance.now();
const r = loadUnitDirectories([dir]);
const wall = performance.now() - t0;
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ cpuMs: (c.user + c.system) / 1000, wallMs: wall, sockets: r.sockets.length, templates: r.templates.size, failed: r.failed.length }));
`;

interface LoadSample {
  cpuMs: number;
  wallMs: number;
  sockets: number;
  templates: number;
  failed: number;
}

function loadOnce(unitUrl: string, dir: string): LoadSample {
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', LOAD_CHILD, unitUrl, dir], {
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadSample;
}

/** @mptcp/unit's loader alone: the units of the daemon benchmark (socket + template per unit) from disk. */
export const unitLoad: Scenario = {
  name: 'unit-parse',
  title: '@mptcp/unit: loading 1,000 and 5,000 units from disk (cold process)',
  needs: [],
  async run(ctx) {
    const unitUrl = import.meta.resolve('@mptcp/unit');
    const sizes = [1000, 5000] as const;
    const dirs = new Map<number, string>();
    for (const n of sizes) {
      const dir = join(ctx.tmp, `units-${n}`);
      writeManyAcceptUnits(dir, n, { mptcp: true });
      dirs.set(n, dir);
    }
    const cpu = new Map<number, number[]>(sizes.map((n) => [n, []]));
    const wall = new Map<number, number[]>(sizes.map((n) => [n, []]));
    for (let rep = 0; rep < ctx.reps; rep++) {
      // interleaved, so that a change of machine load hits both sizes alike
      for (const n of sizes) {
        const s = loadOnce(unitUrl, dirs.get(n) as string);
        if (s.sockets !== n || s.templates !== n || s.failed !== 0)
          throw new Error(`loaded ${s.sockets} sockets, ${s.templates} templates, ${s.failed} failed of ${n}`);
        cpu.get(n)?.push(s.cpuMs);
        wall.get(n)?.push(s.wallMs);
        ctx.log(`${n} units, rep ${rep + 1}: ${round(s.cpuMs, 1)} ms CPU, ${round(s.wallMs, 1)} ms wall`);
      }
    }
    const c1 = sampled(cpu.get(1000) ?? []);
    const c5 = sampled(cpu.get(5000) ?? []);
    const w1 = sampled(wall.get(1000) ?? []);
    const w5 = sampled(wall.get(5000) ?? []);
    const load = loadavg()[0] ?? Number.NaN;
    const how = (n: number): string =>
      `loadUnitDirectories() of ${n} Accept=yes MPTCP .socket units and ${n} @.service templates (the daemon benchmark's units) in a fresh node process per repetition, after its boot and the module import; user + system CPU of the process (JIT and GC threads included); sizes interleaved, median of ${ctx.reps} (load average ${round(load, 2)} at the start).`;
    return {
      summary: {
        unitLoad: {
          cpuMsPer1000: round(c1.median, 1),
          cpuMsPer1000At5000: round(c5.median / 5, 1),
          wallMs1000: round(w1.median, 1),
          wallMs5000: round(w5.median, 1),
        },
      },
      metrics: [
        {
          key: 'unitLoad.cpuMsPer1000',
          label: '@mptcp/unit loader: CPU per 1,000 units, loading 1,000 from disk',
          value: round(c1.median, 1),
          unit: 'ms',
          how: how(1000),
        },
        {
          key: 'unitLoad.cpuMsPer1000At5000',
          label: '@mptcp/unit loader: CPU per 1,000 units, loading 5,000 from disk',
          value: round(c5.median / 5, 1),
          unit: 'ms',
          how: `${how(5000)} Total ${round(c5.median, 1)} ms, divided by 5.`,
        },
        {
          key: 'unitLoad.wallMs1000',
          label: '@mptcp/unit loader: wall time, 1,000 units from disk',
          value: round(w1.median, 1),
          unit: 'ms',
          how: 'as above, wall clock of the call (the machine is shared: CPU is the steadier figure).',
        },
        {
          key: 'unitLoad.wallMs5000',
          label: '@mptcp/unit loader: wall time, 5,000 units from disk',
          value: round(w5.median, 1),
          unit: 'ms',
          how: 'as above with 5,000 units.',
        },
      ],
      data: { cpuMs1000: c1, cpuMs5000: c5, wallMs1000: w1, wallMs5000: w5, loadAverage: round(load, 2) },
      charts: [],
      notes: [],
    };
  },
};
