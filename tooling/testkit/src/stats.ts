/** Small statistics over repeated measurements. Benchmarks report medians, never single runs. */

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Value at quantile q (0..1), nearest-rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1));
  return s[i]!;
}

/** Spread as (max - min) / median, to show how stable the repetitions were. */
export function spread(values: readonly number[]): number {
  const m = median(values);
  return m === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / m;
}

/** A repeated measurement: every sample plus its median. */
export type Sampled = {
  samples: number[];
  median: number;
  spread: number;
};

export function sampled(values: readonly number[]): Sampled {
  return {
    samples: values.map((v) => round(v, 6)),
    median: round(median(values), 6),
    spread: round(spread(values), 4),
  };
}

/** Round to `digits` decimal places (for readable JSON). */
export function round(v: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** Geometric mean, for combining ratios. */
export function geomean(values: readonly number[]): number {
  if (values.length === 0) throw new Error('geomean of an empty list');
  return Math.exp(values.reduce((a, v) => a + Math.log(v), 0) / values.length);
}
