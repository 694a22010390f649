import { describe, expect, it } from 'vitest';
import { medianInterval, pooledRatio, roundsPerPair, segmentOrder } from '../src/scenarios/accept-no.js';

describe('Accept=no segment order', () => {
  const order = segmentOrder(3);

  it('gives each of the three sides the same number of segments', () => {
    expect(order).toHaveLength(36);
    for (const k of [0, 1, 2]) expect(order.filter((x) => x === k)).toHaveLength(12);
  });

  it('gives each side the same mean position (a linear drift cancels)', () => {
    const mean = (k: number): number => {
      const at = order.flatMap((x, i) => (x === k ? [i] : []));
      return at.reduce((a, b) => a + b, 0) / at.length;
    };
    expect(mean(0)).toBeCloseTo(mean(1), 10);
    expect(mean(1)).toBeCloseTo(mean(2), 10);
  });

  it('gives each side the same predecessors, each round a palindrome', () => {
    const follows = new Map<string, number>();
    for (let i = 1; i < order.length; i++) {
      const key = `${order[i - 1]}>${order[i]}`;
      follows.set(key, (follows.get(key) ?? 0) + 1);
    }
    // the same side twice in a row: once per side (the middle of one round each)
    for (const k of [0, 1, 2]) expect(follows.get(`${k}>${k}`)).toBe(1);
    // every side follows every other side equally often, within one of the round boundaries
    const cross = [...follows].filter(([k]) => k[0] !== k[2]).map(([, n]) => n);
    expect(Math.max(...cross) - Math.min(...cross)).toBeLessThanOrEqual(1);
    for (let r = 0; r < 3; r++) {
      const round = order.slice(12 * r, 12 * r + 12);
      expect(round).toEqual([...round].reverse());
    }
  });

  it('rotates the roles with the offset', () => {
    expect(segmentOrder(1, 1)).toEqual(segmentOrder(1, 0).map((k) => (k + 1) % 3));
  });
});

describe('pooledRatio', () => {
  it('is the geometric mean with an interval that holds it', () => {
    const r = pooledRatio([0.98, 1.0, 1.02, 0.99, 1.01, 1.0, 1.0]);
    expect(r.ratio).toBeCloseTo(
      Math.exp([0.98, 1.0, 1.02, 0.99, 1.01, 1.0, 1.0].map(Math.log).reduce((a, b) => a + b) / 7),
      12,
    );
    expect(r.low).toBeLessThan(r.ratio);
    expect(r.high).toBeGreaterThan(r.ratio);
    // t(6) = 2.447, sd of the logs ≈ 0.0129 → half-width ≈ 0.0119
    expect(r.high / r.ratio).toBeCloseTo(Math.exp(0.0119), 3);
  });

  it('has no interval from one ratio', () => {
    expect(Number.isNaN(pooledRatio([1.01]).low)).toBe(true);
  });
});

describe('medianInterval', () => {
  it('brackets the median of paired differences by order statistics', () => {
    const d = Array.from({ length: 50 }, (_, i) => i - 25);
    const ci = medianInterval(d);
    // n = 50: k = floor(25 - 0.98·√50) = 18 → d[18] = -7, d[31] = 6
    expect(ci).toEqual({ low: -7, high: 6 });
  });

  it('gives no interval below 10 pairs', () => {
    expect(Number.isNaN(medianInterval([1, 2, 3]).low)).toBe(true);
  });
});

describe('roundsPerPair', () => {
  it('is 3 rounds per 3 reps, a multiple of 3, at least 3', () => {
    expect([1, 2, 3, 4, 5, 6, 9, 12].map(roundsPerPair)).toEqual([3, 3, 3, 3, 6, 6, 9, 12]);
  });
});
