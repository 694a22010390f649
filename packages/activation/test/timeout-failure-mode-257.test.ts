/**
 * TimeoutStopFailureMode= and TimeoutStartFailureMode= as systemd 257 (service.c
 * service_dispatch_timer()): when ExecStop=, ExecStopPost= or a start outlives its timeout, terminate
 * (the default) sends KillSignal=, abort WatchdogSignal= (SIGABRT) and kill SIGKILL — the last two
 * naming each process they signal (`Killing process N (comm) with signal …`); the result is timeout.
 * A value 257 refuses is a load warning with file:line. Compared with fixtures/v257/timeout-failure-mode
 * (record.sh: systemctl show afterwards, which commands ran, the manager's lines, recorded with the oracle).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadUnitFile } from '@mptcp/unit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { fixtureEngine, oursShown, recordedLog, shownKeys } from './helpers/lifecycle-257.js';
import { recording } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/timeout-failure-mode/', import.meta.url));
const KEYS = ['ActiveState', 'SubState', 'Result', 'NRestarts'] as const;
/** 257's lines about the unit that we log too. */
const KEPT = /(Main process exited|Control process exited|Failed with result|timed out|Killing process)/;
/** Which of them come in a fixed order (the exits of main and control process race each other in 257 too). */
const ORDERED = /(timed out|Failed with result)/;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

const pidless = (l: string): string => l.replace(/process \d+/, 'process N');

async function run(name: string, stop: boolean) {
  const rec = recording(FIXTURE);
  const f = await fixtureEngine(FIXTURE, [name]);
  engine = f.e;
  await f.e.startUnit(name).catch(() => undefined);
  if (stop) await f.e.stopUnit(name);
  const want = shownKeys(rec, name, KEYS);
  await waitFor(
    () => JSON.stringify(oursShown(f.e.unitInfo(name), KEYS)) === JSON.stringify(want),
    30_000,
    `${name} as 257 shows it`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ours ${JSON.stringify(oursShown(f.e.unitInfo(name), KEYS))}`);
  });
  const ours = f.log.lines.filter((l) => KEPT.test(l)).map(pidless);
  const theirs = recordedLog(rec, name, KEPT);
  expect(ours.filter((l) => ORDERED.test(l))).toEqual(theirs.filter((l) => ORDERED.test(l)));
  expect([...ours].sort()).toEqual([...theirs].sort());
  const own = (l: string): boolean => l.startsWith(`[ran] ${name} `);
  expect(f.out().filter(own)).toEqual(rec.lines.filter(own));
}

describe('TimeoutStopFailureMode=/TimeoutStartFailureMode= (systemd 257)', () => {
  it.each([
    ['stopabort', 'ExecStop= times out, abort: SIGABRT to the main and the control process, each named'],
    ['stopkill', 'ExecStop= times out, kill: SIGKILL to both, each named'],
    ['stopterminate', 'ExecStop= times out, terminate: KillSignal= to the command, nothing named'],
    ['postabort', 'ExecStopPost= times out, abort: SIGABRT'],
    ['postkill', 'ExecStopPost= times out, kill: SIGKILL'],
    ['badmode', 'refused values: terminate'],
  ])('%s: %s', async (u) => run(`${u}.service`, true), 60_000);

  it.each([
    ['startabort', 'a start that times out, abort: SIGABRT to the main process'],
    ['startkill', 'ExecStartPre= times out, kill: SIGKILL to it'],
    ['startterminate', 'terminate: KillSignal=, a clean SIGTERM exit is not logged'],
  ])('%s: %s', async (u) => run(`${u}.service`, false), 60_000);

  it('values 257 refuses: `Failed to parse KEY=VALUE, ignoring: Invalid argument` with file:line, unset stays terminate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'timeout-failure-mode-'));
    const file = join(dir, 'badmode.service');
    writeFileSync(file, readFileSync(join(FIXTURE, 'badmode.service'), 'utf8'));
    const loaded = loadUnitFile(file);
    const warned = loaded.diagnostics.map((w) => `${w.file.replace(dir, '/oracle/units')}:${w.line}: ${w.message}`);
    const rec = recording(FIXTURE);
    expect(warned).toEqual(
      rec.lines.filter((l) => l.includes('/badmode.service:')).map((l) => l.replace(/^\[log\] [a-z]+: /, '')),
    );
    const unit = loaded.unit as { timeoutStopFailureMode?: string; timeoutStartFailureMode?: string } | undefined;
    expect([unit?.timeoutStopFailureMode, unit?.timeoutStartFailureMode]).toEqual([undefined, undefined]);
  });
});
