/**
 * Reading a record.sh's expected.txt (fixtures/v257/<topic>/): lines `[tag] UNIT: text` or
 * `[tag] UNIT text`, `KEY=VALUE …` lists from `systemctl show`, and the `Active:` line of
 * `systemctl status` built from ours. And the other side: an engine on a copy of the fixture's
 * units (startEngine()), and what it logged, as the daemon prints it (capture()).
 */
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { ActivationEngine, type LogFields, type Logger, type StartReport, type UnitInfo } from '../../src/index.js';
import { loadUnits } from './load.js';
import { tmp } from './run.js';

export interface Recording {
  /** Every non-empty line of expected.txt. */
  readonly lines: string[];
  /** The text of the lines tagged `[tag] unit`, in order. */
  tagged(tag: string, unit: string): string[];
}

export function recording(fixtureDir: string): Recording {
  const lines = readFileSync(join(fixtureDir, 'expected.txt'), 'utf8').split('\n').filter(Boolean);
  return {
    lines,
    tagged(tag, unit) {
      const head = `[${tag}] ${unit}`;
      return lines
        .filter((l) => l.startsWith(`${head} `) || l.startsWith(`${head}: `))
        .map((l) => l.slice(head.length).replace(/^:? /, ''));
    },
  };
}

/** `A=x B=y` (a `systemctl show -p …` line as record.sh joined it) → { A: 'x', B: 'y' }. */
export function keyValues(line: string | undefined): Record<string, string> {
  return Object.fromEntries((line ?? '').split(' ').map((kv) => kv.split('=') as [string, string]));
}

/** `systemctl status`'s `Active:` line for our unit, as record.sh cut 257's. */
export function activeLine(u: UnitInfo | undefined): string {
  if (!u) return '';
  return u.activeState === 'failed'
    ? `Active: failed (Result: ${u.result})`
    : `Active: ${u.activeState} (${u.subState})`;
}

/**
 * Expects our unit's ActiveState/SubState/Result to be those of the recorded `systemctl show` line
 * (a unit without a result yet reads as 257's `Result=success`); returns that line's keys.
 */
export function expectStateAsShown(u: UnitInfo | undefined, showLine: string | undefined): Record<string, string> {
  const shown = keyValues(showLine);
  expect({ ActiveState: u?.activeState, SubState: u?.subState, Result: u?.result ?? 'success' }).toEqual({
    ActiveState: shown.ActiveState,
    SubState: shown.SubState,
    Result: shown.Result,
  });
  return shown;
}

/** One line the engine logged above debug. */
export interface LoggedLine {
  level: 'info' | 'warn' | 'error';
  /** As the daemon prints it: `UNIT: message`, or the message alone (a `bare` line, or one without a unit). */
  text: string;
  unit?: string;
  message: string;
}

export interface CapturingLogger extends Logger {
  /** Every info, warn and error line, in order (clear it with `lines.length = 0`). */
  lines: LoggedLine[];
}

/** A logger that keeps the lines the engine logs (debug left out), to compare with 257's. */
export function capture(): CapturingLogger {
  const lines: LoggedLine[] = [];
  const put =
    (level: LoggedLine['level']) =>
    (message: string, f?: LogFields): void => {
      const text = f?.unit && !f.bare ? `${f.unit}: ${message}` : message;
      lines.push({ level, text, message, ...(f?.unit ? { unit: f.unit } : {}) });
    };
  return { lines, debug: () => undefined, info: put('info'), warn: put('warn'), error: put('error') };
}

/** The warn and error lines as `level: text` (257's notice and warning are our warn, err our error). */
export function leveled(log: CapturingLogger): string[] {
  return log.lines.filter((l) => l.level !== 'info').map((l) => `${l.level}: ${l.text}`);
}

export interface FixtureEngineOptions {
  /**
   * The fixture's files to copy (paths relative to it, also inside drop-in directories): a list, or
   * a test. Default: every `*.service` but driver.service.
   */
  files?: readonly string[] | ((file: string) => boolean);
  /** A file's text for this run. Default: the oracle's `/oracle/out` made `out`. */
  edit?: (text: string, file: string, run: FixtureRun) => string;
  /** Runs after the copy, before the engine loads the units (e.g. to write a script the units call). */
  setup?: (run: FixtureRun) => void;
  logger?: Logger;
  /** Of the run's temporary directory. */
  prefix?: string;
}

/** Where a run's files are: `base` (a new temporary directory), `base/units`, `base/out` (empty). */
export interface FixtureRun {
  base: string;
  dir: string;
  out: string;
}

export interface FixtureEngine extends FixtureRun {
  e: ActivationEngine;
  report: StartReport;
}

const started = new Set<ActivationEngine>();

/**
 * An engine started on a copy of `fixtureDir`'s units (see FixtureEngineOptions), with the paths 257
 * wrote to made this run's. stopEngines() (in afterEach) stops it.
 */
export async function startEngine(fixtureDir: string, options: FixtureEngineOptions = {}): Promise<FixtureEngine> {
  const base = tmp(options.prefix ?? 'recorded-257-');
  const run: FixtureRun = { base, dir: join(base, 'units'), out: join(base, 'out') };
  mkdirSync(run.dir);
  mkdirSync(run.out);
  const { files = (f: string) => f.endsWith('.service') && f !== 'driver.service' } = options;
  const edit = options.edit ?? ((text: string) => text.replaceAll('/oracle/out', run.out));
  const wanted =
    typeof files === 'function'
      ? (readdirSync(fixtureDir, { recursive: true }) as string[]).filter(
          (f) => !lstatSync(join(fixtureDir, f)).isDirectory() && files(f),
        )
      : files;
  for (const f of wanted) {
    const from = join(fixtureDir, f);
    const to = join(run.dir, f);
    mkdirSync(dirname(to), { recursive: true });
    if (lstatSync(from).isSymbolicLink()) symlinkSync(readlinkSync(from), to);
    else writeFileSync(to, edit(readFileSync(from, 'utf8'), f, run));
  }
  options.setup?.(run);
  const { e, report } = await startEngineIn(run.dir, options.logger);
  return { ...run, e, report };
}

/** An engine started on the units of `dir` (which must load without errors). stopEngines() stops it. */
export async function startEngineIn(
  dir: string,
  logger?: Logger,
): Promise<{ e: ActivationEngine; report: StartReport }> {
  const e = new ActivationEngine(logger ? { logger } : {});
  started.add(e);
  const report = await e.start(await loadUnits(dir));
  return { e, report };
}

/** Stops every engine startEngine()/startEngineIn() started (use as `afterEach(stopEngines)`). */
export async function stopEngines(): Promise<void> {
  const all = [...started];
  started.clear();
  for (const e of all) await e.stop();
}
