/** The shape of one benchmark scenario and the context the runner gives it. */
import type { Capability } from './caps.js';
import type { ScenarioResult } from './result.js';

export interface Context {
  /** BENCH_QUICK=1: fewer repetitions, shorter transfers (figures for development only). */
  quick: boolean;
  /** Repetitions per measured point (3 in a full run; medians are reported). */
  reps: number;
  /** Scratch directory for this scenario (removed afterwards). */
  tmp: string;
  log(line: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  needs: Capability[];
  run(ctx: Context): Promise<ScenarioResult>;
}
