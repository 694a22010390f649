/**
 * A main process that is not our child, watched through its pidfd (no /proc polling), compared with
 * fixtures/v257/foreign-main (record.sh, the oracle): a Type=forking daemon that exits 3, 0 or is
 * killed reports that status as 257 (its reaper) does; a MAINPID= process reaped by the service's
 * own shell is not noticed (257: "We'll most likely not notice when it exits."), the service stays
 * active until stopped. The daemons wait for a file the test creates instead of sleeping.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type ForeignExit, watchForeignMain } from '../src/foreign-exit.js';
import { ActivationEngine, type UnitInfo } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { type RecordingLogger, testLogger } from './helpers/log.js';
import { activeLine, keyValues, recording } from './helpers/recorded-257.js';
import { HELPERS, tmp, waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/foreign-main/', import.meta.url));
const rec = recording(FIXTURE);
const tagged = (tag: string, unit: string): string[] => rec.tagged(tag, unit);
function shown(line: string | undefined): Record<string, string> {
  const f = keyValues(line);
  return { ActiveState: f.ActiveState as string, SubState: f.SubState as string, Result: f.Result as string };
}
const ours = (u: UnitInfo | undefined): Record<string, string | undefined> => ({
  ActiveState: u?.activeState,
  SubState: u?.subState,
  Result: u?.result,
});
const logLines = (unit: string): string[] => tagged('log', unit);
const ourLines = (log: RecordingLogger, unit: string): string[] =>
  log.warnings
    .filter((w) => w.startsWith(`${unit}: `))
    .map((w) => w.slice(unit.length + 2).replace(/process \d+ /, 'process N '));

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** The fixture's unit with its paths in `work`, its daemon waiting for `work/go` instead of sleeping. */
function adapt(unit: string, work: string): string {
  const daemon = join(work, 'daemon.py');
  writeFileSync(
    daemon,
    [
      'import os, sys, time',
      `while not os.path.exists(${JSON.stringify(join(work, 'go'))}): time.sleep(0.01)`,
      'if sys.argv[1] == "kill": os.kill(os.getpid(), 9)',
      'sys.exit(int(sys.argv[1]))',
      '',
    ].join('\n'),
  );
  return readFileSync(join(FIXTURE, unit), 'utf8')
    .replaceAll('/run/', `${work}/`)
    .replaceAll('/oracle/out/', `${work}/`)
    .replace(
      /python3 -c "[^"]*"/,
      () => `python3 ${daemon} ${unit === 'forkkill.service' ? 'kill' : /0/.test(unit) ? 0 : 3}`,
    )
    .replace('systemd-notify --pid=$! --ready', `python3 ${join(HELPERS, 'notify-barrier.py')} "MAINPID=$!\\nREADY=1"`);
}

async function run(unit: string): Promise<{ e: ActivationEngine; log: RecordingLogger; work: string }> {
  const work = tmp('foreign-main-');
  const dir = join(work, 'units');
  mkdirSync(dir);
  writeFileSync(join(dir, unit), adapt(unit, work));
  const log = testLogger();
  engine = new ActivationEngine({ logger: log });
  await engine.start(await loadUnits(dir));
  const e = engine;
  await e.startUnit(unit);
  await waitFor(() => e.unitInfo(unit)?.activeState === 'active', 30_000, `${unit} to start`);
  return { e, log, work };
}

describe('a main process that is not our child (systemd 257)', () => {
  it.each(['fork3.service', 'fork0.service', 'forkkill.service'])(
    'Type=forking %s: its exit status as 257 reports it',
    async (unit) => {
      const { e, log, work } = await run(unit);
      expect(e.unitInfo(unit)?.activeState).toBe('active');
      writeFileSync(join(work, 'go'), '');
      await waitFor(() => e.unitInfo(unit)?.activeState !== 'active', 30_000, `${unit} to end`);
      await waitFor(() => e.unitInfo(unit)?.subState !== 'stop-post', 30_000, `${unit} to settle`);
      expect(ours(e.unitInfo(unit))).toEqual(shown(tagged('show', unit)[0]));
      expect(activeLine(e.unitInfo(unit))).toBe(tagged('status', unit)[0]);
      expect(ourLines(log, unit)).toEqual(logLines(unit).filter((l) => !l.startsWith('Deactivated')));
    },
    60_000,
  );

  it('MAINPID= reaped by the service shell: not noticed, active until stopped, then inactive', async () => {
    const unit = 'alien.service';
    const { e, log, work } = await run(unit);
    expect(e.unitInfo(unit)?.activeState).toBe('active');
    const mainPid = e.unitInfo(unit)?.service?.pid;
    writeFileSync(join(work, 'go'), '');
    // The shell reaped it (it wrote the status it collected): the process is gone.
    await waitFor(() => existsSync(join(work, 'alien.txt')) && readFileSync(join(work, 'alien.txt'), 'utf8'), 30_000);
    expect(readFileSync(join(work, 'alien.txt'), 'utf8').trim()).toBe(tagged('ran', unit)[0]);
    expect(existsSync(`/proc/${mainPid}`)).toBe(false);
    // Unnoticed, as in 257: still active, the gone process still the main PID. (A settled engine
    // event: the pidfd's exit event has been handled once the shell's own file is there.)
    await new Promise((r) => setImmediate(r));
    const [during, stopped] = tagged('show', unit);
    expect(ours(e.unitInfo(unit))).toEqual(shown(during));
    expect(tagged('mainpid', unit)[0]).toBe('the exited MAINPID= process');
    expect(e.unitInfo(unit)?.service?.pid).toBe(mainPid);
    await e.stopUnit(unit);
    expect(ours(e.unitInfo(unit))).toEqual(shown(stopped));
    expect(activeLine(e.unitInfo(unit))).toBe(tagged('status', unit)[1]);
    expect(ourLines(log, unit)[0]).toBe(logLines(unit)[0]);
  }, 60_000);
});

describe('without pidfds (an older addon or kernel)', () => {
  it('the /proc fallback still ends the watch when the process is gone, status unknown', async () => {
    const child = spawn('sleep', ['100'], { stdio: 'ignore' });
    const pid = child.pid as number;
    const ended = new Promise<ForeignExit>((resolve) =>
      watchForeignMain(pid, { pidfd: undefined, session: undefined, stillMain: () => true, onExit: resolve }),
    );
    child.kill('SIGKILL');
    expect(await ended).toEqual({ kind: 'unknown' });
  });
});
