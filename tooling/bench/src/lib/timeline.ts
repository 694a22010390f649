/** Turning cumulative byte samples into rates. */

/** Average bit rate between `fromS` and the end of a cumulative [seconds, bytes] timeline. */
export function steadyRate(timeline: ReadonlyArray<readonly [number, number]>, fromS: number): number {
  if (timeline.length < 2) return Number.NaN;
  const last = timeline[timeline.length - 1]!;
  const first = timeline.find((p) => p[0] >= fromS) ?? timeline[0]!;
  if (last[0] <= first[0]) return Number.NaN;
  return ((last[1] - first[1]) * 8) / (last[0] - first[0]);
}

/** Per-interval bit rates [seconds, bit/s] from a cumulative timeline, bucketed by `stepS`. */
export function rates(timeline: ReadonlyArray<readonly [number, number]>, stepS: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let prev = timeline[0];
  if (!prev) return out;
  for (const p of timeline) {
    if (p[0] - prev[0] >= stepS - 1e-6) {
      out.push([p[0], ((p[1] - prev[1]) * 8) / (p[0] - prev[0])]);
      prev = p;
    }
  }
  return out;
}
