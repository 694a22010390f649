/**
 * Several ExecStart= lines of a Type=oneshot service, as systemd 257 runs them (fixtures/v257/
 * oneshot-multi, recorded with the oracle by record.sh; service.c service_run_next_main()):
 * - one after the other, each the main process in turn (MainPID=, no $MAINPID), the next once the
 *   one before exited successfully or failed with the `-` prefix; a failure ends the run there
 *   (exit-code, signal; 203/EXEC for a missing executable), ExecStopPost= gets the last exit;
 * - ExecStartPost= after the last one; RemainAfterExit=yes keeps the unit active (exited) and a stop
 *   runs ExecStop= then ExecStopPost=;
 * - TimeoutStartSec= counts for each command afresh (three of 1.3 s under a 2 s limit succeed);
 * - a stop while the second runs signals that one: killed by it, the third does not run (result
 *   signal); exiting 0 on it, the third runs. Either way the start is answered canceled.
 * A Type=simple service with two ExecStart= is refused at load, in 257's words.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine, Logger } from '../src/index.js';
import { loadEngineUnits } from '../src/load-units.js';
import { capture, expectStateAsShown, keyValues, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { tmp, waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/oneshot-multi/', import.meta.url));
const rec = recording(FIXTURE);

/** The units started (and left to end) by driver.sh, in its order. */
const STARTED = [
  'three',
  'fail2',
  'ign2',
  'ignlast',
  'killed2',
  'post',
  'timeout',
  'timeout2',
  'missing2',
  'ignmissing2',
  // the first command `-` and missing; a single command `-` that fails
  'ignfirst',
  'ignone',
];

afterEach(stopEngines);

const about = (unit: string, text: string): boolean =>
  text.startsWith(`${unit}: `) || text.startsWith(`Failed to start ${unit} - `);

/** 257's lines about `unit` above info, as our levels: notice and warning are warn, err is error. */
function recordedLines(unit: string): string[] {
  const out: string[] = [];
  for (const l of rec.lines) {
    const m = /^\[(?:log|exec)\] (\w+): (.*)$/.exec(l);
    if (!m || !about(unit, m[2] as string)) continue;
    const level = m[1] as string;
    if (level === 'info' || level === 'debug') continue;
    out.push(`${level === 'err' ? 'error' : 'warn'}: ${m[2]}`);
  }
  return out;
}

function ourLines(log: ReturnType<typeof capture>, unit: string): string[] {
  return log.lines.filter((l) => l.level !== 'info' && about(unit, l.text)).map((l) => `${l.level}: ${l.text}`);
}

/** Pids as q1, q2… by first appearance (the recording's p1, p2… are numbered across all units). */
function relabel(lines: string[]): string[] {
  const ids = new Map<string, string>();
  return lines.map((l) =>
    l.replace(/\b(pid|mainpid)=(p?\d+)/g, (_all, k: string, n: string) => {
      if (n === '0') return `${k}=0`;
      if (!ids.has(n)) ids.set(n, `q${ids.size + 1}`);
      return `${k}=${ids.get(n)}`;
    }),
  );
}

/** The `[step]` lines of `name` (step.sh's, in the order the commands ran). */
const recordedSteps = (name: string): string[] =>
  relabel(rec.lines.filter((l) => l.startsWith(`[step] ${name} `)).map((l) => l.slice('[step] '.length)));

/** A unit of the fixture with step.sh writing into `out` instead of the oracle's /oracle/out. */
const startOne = (name: string, logger: Logger) =>
  startEngine(FIXTURE, {
    files: [`${name}.service`],
    logger,
    prefix: 'oneshot-multi-',
    edit: (text, _file, { base }) => text.replaceAll('/oracle/units/step.sh', join(base, 'step.sh')),
    setup: ({ base, out }) =>
      writeFileSync(
        join(base, 'step.sh'),
        readFileSync(join(FIXTURE, 'step.sh'), 'utf8').replace('out=/oracle/out', `out=${out}`),
      ),
  });

const ourSteps = (out: string): string[] =>
  existsSync(join(out, 'steps.txt'))
    ? relabel(readFileSync(join(out, 'steps.txt'), 'utf8').split('\n').filter(Boolean))
    : [];

/** What systemctl start answered: its first line, and rc. */
function answer(unit: string): { first: string | undefined; rc: number } {
  return { first: rec.tagged('start', unit)[0], rc: Number(rec.tagged('rc', unit)[0]) };
}

async function started(e: ActivationEngine, unit: string): Promise<{ first: string | undefined; rc: number }> {
  return e.startUnit(unit).then(
    () => ({ first: undefined, rc: 0 }),
    (err: Error) => ({ first: err.message, rc: 1 }),
  );
}

const settled = (e: ActivationEngine, unit: string) => () =>
  !['activating', 'deactivating', 'reloading'].includes(e.unitInfo(unit)?.activeState ?? '');

/** ExecMainCode=/ExecMainStatus= of the recording against our last main exit (when 257 kept one). */
function expectMainExit(e: ActivationEngine, unit: string, shown: Record<string, string>): void {
  const last = e.unitInfo(unit)?.service?.lastExit;
  if (shown.ExecMainCode === '1') expect(last).toEqual({ code: Number(shown.ExecMainStatus), signal: null });
  if (shown.ExecMainCode === '2')
    expect(last?.signal && constants.signals[last.signal as NodeJS.Signals]).toBe(Number(shown.ExecMainStatus));
}

describe('Type=oneshot with several ExecStart= (systemd 257, fixtures/v257/oneshot-multi)', () => {
  it('the recording has every case, with 257 words', () => {
    expect(recordedSteps('three')).toEqual([
      'three 1 pid=q1 mainpid=unset result=unset exit=unset/unset',
      'three 2 pid=q2 mainpid=unset result=unset exit=unset/unset',
      'three 3 pid=q3 mainpid=unset result=unset exit=unset/unset',
    ]);
    // the third command of fail2 never ran
    expect(rec.lines.filter((l) => l.startsWith('[step] fail2 3'))).toEqual([]);
    expect(recordedSteps('stoptrap').map((l) => l.split(' pid=')[0])).toEqual([
      'stoptrap 1',
      'stoptrap 2',
      'stoptrap 2 got SIGTERM',
      'stoptrap 3',
      'stoptrap stoppost',
    ]);
  });

  it.for(STARTED)('%s.service: the commands run, end and log as 257', { timeout: 30_000 }, async (name) => {
    const unit = `${name}.service`;
    const log = capture();
    const { e, out } = await startOne(name, log);
    expect(await started(e, unit)).toEqual(answer(unit));
    await waitFor(settled(e, unit), 20_000, `${unit} to settle`);
    const shown = expectStateAsShown(e.unitInfo(unit), rec.tagged('show', unit)[0]);
    expectMainExit(e, unit, shown);
    expect(ourSteps(out)).toEqual(recordedSteps(name));
    expect(ourLines(log, unit)).toEqual(recordedLines(unit));
  });

  it('remain.service: RemainAfterExit=yes stays active (exited) after the last; a stop runs ExecStop=, ExecStopPost=', async () => {
    const unit = 'remain.service';
    const log = capture();
    const { e, out } = await startOne('remain', log);
    expect(await started(e, unit)).toEqual(answer(unit));
    const shown = expectStateAsShown(e.unitInfo(unit), rec.tagged('show', unit)[0]);
    expect(shown.MainPID).toBe('0');
    expect(e.unitInfo(unit)?.service?.pid).toBeUndefined();
    expectMainExit(e, unit, shown);
    // ExecMainPID= is the last command's pid
    const steps = recordedSteps('remain');
    const third = /pid=(q\d+)/.exec(steps.find((l) => l.startsWith('remain 3 ')) ?? '')?.[1];
    expect(
      relabel([...rec.lines.filter((l) => l.startsWith('[step] remain ')), `pid=${shown.ExecMainPID}`]).at(-1),
    ).toBe(`pid=${third}`);
    await e.stopUnit(unit);
    expect(rec.tagged('rc-stop', unit)).toEqual(['0']);
    expectStateAsShown(e.unitInfo(unit), rec.tagged('show-stopped', unit)[0]);
    expect(ourSteps(out)).toEqual(steps);
    expect(ourLines(log, unit)).toEqual(recordedLines(unit));
  });

  it.for(['stopmid', 'stoptrap'])(
    '%s.service: a stop while the second command runs signals it; the start is answered canceled',
    { timeout: 30_000 },
    async (name) => {
      const unit = `${name}.service`;
      const log = capture();
      const { e, out } = await startOne(name, log);
      const start = started(e, unit);
      await waitFor(() => existsSync(join(out, `${name}.held`)), 20_000, `${name}'s second command`);
      // MainPID= is the second command's, the unit still starting
      const held = keyValues(rec.tagged('show-held', unit)[0]);
      const info = e.unitInfo(unit);
      expect({ ActiveState: info?.activeState, SubState: info?.subState }).toEqual({
        ActiveState: held.ActiveState,
        SubState: held.SubState,
      });
      const second = readFileSync(join(out, 'steps.txt'), 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${name} 2 `));
      expect(info?.service?.pid).toBe(Number(/pid=(\d+)/.exec(second ?? '')?.[1]));
      await e.stopUnit(unit);
      expect(rec.tagged('rc-stop', unit)).toEqual(['0']);
      expect(await start).toEqual(answer(unit));
      await waitFor(settled(e, unit), 20_000, `${unit} to settle`);
      const shown = expectStateAsShown(e.unitInfo(unit), rec.tagged('show', unit)[0]);
      expectMainExit(e, unit, shown);
      expect(ourSteps(out)).toEqual(recordedSteps(name));
      expect(ourLines(log, unit)).toEqual(recordedLines(unit));
    },
  );

  it('simple2: a Type=simple service with two ExecStart= is refused as 257 refuses it', async () => {
    const dir = join(tmp('oneshot-multi-'), 'units');
    mkdirSync(dir);
    copyFileSync(join(FIXTURE, 'simple2.verify'), join(dir, 'simple2.service'));
    const { errors } = await loadEngineUnits([dir]);
    const [refusal] = rec.tagged('verify', 'simple2.service');
    expect(refusal).toBe(
      'Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services. Refusing.',
    );
    expect(errors.join('\n')).toContain(refusal);
  });
});
