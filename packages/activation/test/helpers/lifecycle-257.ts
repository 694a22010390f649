/**
 * Running units of a driver-style fixture (fixtures/v257/<topic>/ with driver.sh writing `[tag] UNIT …`
 * lines to /oracle/out/show.txt, and the manager's lines as `[log] LEVEL: text`) in our engine, and
 * reading both sides in the same terms: the lines our engine logs as 257 would print them, what the
 * units' own commands wrote, and `systemctl show`'s keys.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ActivationEngine, type UnitInfo } from '../../src/index.js';
import type { LogFields, Logger } from '../../src/logger.js';
import { loadUnits } from './load.js';
import { keyValues, type Recording } from './recorded-257.js';
import { tmp } from './run.js';

/** 257's text of each line we log (`UNIT: message`, or the message alone for a `bare` one). */
export interface TextLogger extends Logger {
  lines: string[];
}

export function textLogger(): TextLogger {
  const lines: string[] = [];
  const push = (m: string, f?: LogFields): void => {
    if (f?.unit) lines.push(f.bare ? m : `${f.unit}: ${m}`);
  };
  return { lines, debug: () => undefined, info: push, warn: push, error: push };
}

export interface FixtureEngine {
  e: ActivationEngine;
  log: TextLogger;
  /** The lines the units' commands wrote to /oracle/out/show.txt (here a file of the test's own). */
  out(): string[];
}

/**
 * An engine on a copy of `files` from `fixtureDir`, with /oracle/out/show.txt and any `replace`
 * key turned into a path of the test's own. The caller stops it.
 */
export async function fixtureEngine(
  fixtureDir: string,
  files: readonly string[],
  replace: Record<string, string> = {},
): Promise<FixtureEngine> {
  const base = tmp('lifecycle-257-');
  const dir = join(base, 'units');
  mkdirSync(dir);
  const outFile = join(base, 'show.txt');
  for (const f of files) {
    let text = readFileSync(join(fixtureDir, f), 'utf8').replaceAll('/oracle/out/show.txt', outFile);
    for (const [from, to] of Object.entries(replace)) text = text.replaceAll(from, to);
    writeFileSync(join(dir, f), text);
  }
  const log = textLogger();
  const e = new ActivationEngine({ logger: log });
  await e.start(await loadUnits(dir));
  const out = (): string[] => (existsSync(outFile) ? readFileSync(outFile, 'utf8').split('\n').filter(Boolean) : []);
  return { e, log, out };
}

/** The manager's recorded lines (levels left out) that name `unit` and match `kept`. */
export function recordedLog(rec: Recording, unit: string, kept: RegExp): string[] {
  return rec.lines
    .filter((l) => l.startsWith('[log] '))
    .map((l) => l.replace(/^\[log\] [a-z]+: /, ''))
    .filter(
      (l) =>
        (l.startsWith(`${unit}: `) || l.startsWith(`${unit} `) || l.includes(` ${unit} `) || l.endsWith(` ${unit}.`)) &&
        kept.test(l),
    );
}

/** The keys of the `[show] UNIT …` line number `nth` (default: the last) of `unit`, limited to `keys`. */
export function shownKeys(rec: Recording, unit: string, keys: readonly string[], nth = -1): Record<string, string> {
  const line = rec.tagged('show', unit).at(nth);
  if (line === undefined) throw new Error(`no [show] line for ${unit}`);
  const kv = keyValues(line);
  return Object.fromEntries(keys.map((k) => [k, kv[k] ?? '']));
}

/** Our unit in `systemctl show`'s keys (a unit without a result yet reads as 257's `Result=success`). */
export function oursShown(u: UnitInfo | undefined, keys: readonly string[]): Record<string, string> {
  const all: Record<string, string> = {
    ActiveState: u?.activeState ?? '',
    SubState: u?.subState ?? '',
    Result: u?.result ?? 'success',
    NRestarts: String(u?.service?.restarts ?? 0),
    ConditionResult: u?.conditionResult === undefined ? '' : u.conditionResult ? 'yes' : 'no',
  };
  return Object.fromEntries(keys.map((k) => [k, all[k] ?? '']));
}
