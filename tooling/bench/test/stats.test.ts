import { describe, expect, it } from 'vitest';
import { geomean, median, quantile, spread } from '../src/lib/stats.js';
import { longestStall } from '../src/lib/stall.js';
import { rates, steadyRate } from '../src/lib/timeline.js';

describe('statistics', () => {
  it.each([
    [[3], 3],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
  ])('median(%j) = %d', (xs, m) => expect(median(xs)).toBe(m));

  it('rejects an empty list', () => expect(() => median([])).toThrow(/empty/));

  it('quantile is nearest-rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(xs, 0.99)).toBe(99);
    expect(quantile(xs, 0.5)).toBe(50);
  });

  it('spread and geometric mean', () => {
    expect(spread([9, 10, 11])).toBeCloseTo(0.2);
    expect(geomean([0.5, 2])).toBeCloseTo(1);
  });
});

describe('timelines', () => {
  // 10 Mbit/s = 125,000 bytes per 100 ms
  const steady = Array.from({ length: 31 }, (_, i) => [i / 10, i * 125_000] as [number, number]);

  it('steady rate after a warm-up', () => expect(steadyRate(steady, 1)).toBeCloseTo(10e6));

  it('bucketed rates', () => {
    const r = rates(steady, 0.5);
    expect(r).toHaveLength(6);
    for (const [, bps] of r) expect(bps).toBeCloseTo(10e6);
  });

  it('longest stall: a 700 ms gap of ~0 goodput between two running phases', () => {
    const ms: Array<[number, number]> = [];
    let bytes = 0;
    for (let t = 0; t <= 3000; t += 100) {
      const stalled = t > 1000 && t <= 1700;
      bytes += stalled ? (t === 1300 ? 1000 : 0) : 125_000; // a trickle still counts as stalled
      ms.push([t, bytes]);
    }
    const s = longestStall(ms);
    expect(s.seconds).toBeCloseTo(0.7);
    expect(s.from).toBe(1000);
    expect(s.to).toBe(1700);
  });

  it('no stall in a steady transfer, and nothing before the first byte counts', () => {
    const late: Array<[number, number]> = [
      [0, 0],
      [100, 0],
      [200, 0],
      ...steady.map(([t, b]) => [t * 1000 + 300, b + 1] as [number, number]),
    ];
    expect(longestStall(late).seconds).toBe(0);
  });
});
