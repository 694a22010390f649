/** What a scenario hands back to the runner, and what the report is built from. */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** A goal for a metric: `>= 0.95`, `<= 60`. */
export interface Goal {
  op: '>=' | '<=';
  value: number;
}

export interface Metric {
  /** Stable dotted name, e.g. `loopbackRatio` or `daemon.rssMB`. */
  key: string;
  label: string;
  value: number;
  unit: string;
  goal?: Goal;
  /** How it was measured, one line. */
  how?: string;
}

export interface Chart {
  /** File name under results/, e.g. `aggregation.svg`. */
  file: string;
  title: string;
  svg: string;
}

export interface ScenarioResult {
  metrics: Metric[];
  /** Named figures merged into the top level of latest.json (e.g. `{ loopbackRatio: 0.97 }`). */
  summary: JsonObject;
  /** Everything measured (samples, parameters), kept under `scenarios.NAME.data`. */
  data: JsonObject;
  charts: Chart[];
  notes: string[];
}

/** A stored scenario record in latest.json. */
export interface ScenarioRecord {
  ranAt: string;
  quick: boolean;
  seconds: number;
  skipped?: string;
  failed?: string;
  metrics: Metric[];
  summary: JsonObject;
  data: JsonObject;
  charts: Array<{ file: string; title: string }>;
  notes: string[];
}

export function met(m: Metric): boolean | null {
  if (!m.goal) return null;
  return m.goal.op === '>=' ? m.value >= m.goal.value : m.value <= m.goal.value;
}

/** A scenario could not run here (missing capability or package); the reason is printed and recorded. */
export class Skip extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Skip';
  }
}
