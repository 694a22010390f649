/** @mptcp/unit: units parsed per second over a generated corpus (≥ 1,000 units). */
import { corpus, resolveParser } from '../lib/unit-api.js';
import { round, sampled } from '../lib/stats.js';
import type { Scenario } from '../lib/scenario.js';

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
