/** Stall detection on a cumulative byte timeline. */

export interface Stall {
  seconds: number;
  /** Timestamps (same unit as the samples' first column) of the stall's start and end. */
  from: number;
  to: number;
}

/**
 * Longest run of ~zero goodput on [timestamp ms, cumulative bytes] samples: consecutive steps that
 * moved at most `minFraction` of the median non-zero step (a trickle of retransmissions is still a
 * stall). Only the span from the first byte to the last one counts.
 */
export function longestStall(samples: ReadonlyArray<readonly [number, number]>, minFraction = 0.05): Stall {
  const steps: number[] = [];
  for (let i = 1; i < samples.length; i++) steps.push(samples[i]![1] - samples[i - 1]![1]);
  const positive = steps.filter((s) => s > 0).sort((a, b) => a - b);
  const threshold = (positive.length ? positive[positive.length >> 1]! : 0) * minFraction;
  const total = samples.length ? samples[samples.length - 1]![1] : 0;
  let best: Stall = { seconds: 0, from: 0, to: 0 };
  let run = 0;
  let runFrom = 0;
  for (let i = 1; i < samples.length; i++) {
    const [t0, b0] = samples[i - 1]!;
    const [t1, b1] = samples[i]!;
    if (b0 === 0) continue; // not started yet
    if (b0 >= total) break; // finished
    if (b1 - b0 <= threshold) {
      if (run === 0) runFrom = t0;
      run += t1 - t0;
      if (run / 1000 > best.seconds) best = { seconds: run / 1000, from: runFrom, to: t1 };
    } else run = 0;
  }
  return best;
}
