/**
 * Reading a record.sh's expected.txt (fixtures/v257/<topic>/): lines `[tag] UNIT: text` or
 * `[tag] UNIT text`, `KEY=VALUE …` lists from `systemctl show`, and the `Active:` line of
 * `systemctl status` built from ours.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { UnitInfo } from '../../src/index.js';

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
