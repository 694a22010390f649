/**
 * A start that fails, as systemd 257 reports it (fixtures/v257/failed-start, recorded with the oracle
 * by record.sh: `systemctl start` of each unit, then systemctl show/status and the manager's lines):
 * - the start job waits for the unit to leave activating: a oneshot's exit, a notify service's
 *   READY=1 (or its failure), the fork of a simple one (whose later failure is not the job's);
 * - the lines, in order: the failed command's exit (`Main process exited, …` / `Control process
 *   exited, …`, or the executor's `Unable to locate executable …` and `Failed at step EXEC …`), the
 *   timeout's `start operation timed out. Terminating.`, `Failed with result '…'.`, then the job's
 *   own `Failed to start UNIT - DESCRIPTION.` (no `UNIT: ` prefix; a socket: `Failed to listen on …`);
 * - the start's answer: systemctl's `Job for UNIT failed because <why>.`, the why chosen by Result=.
 * 257's notice and warning lines are our warnings, its err lines our errors.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { capture, expectStateAsShown, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { loopback, waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/failed-start/', import.meta.url));
const rec = recording(FIXTURE);

/** The units whose start fails (or whose main process fails once started), in the driver's order. */
const SERVICES = [
  'exit',
  'nodesc',
  'oneshot',
  'missing',
  'missingexec',
  'notifyexit',
  'notifyquiet',
  'notifytimeout',
  'killed',
  'prefail',
  'nouser',
  'nsfail',
  // an ignored (`-`) ExecStartPre= whose binary is missing: the notice alone, the start goes on
  'ignmissing',
].map((u) => `${u}.service`);

afterEach(stopEngines);

/** Whether a line is about `unit` (`UNIT: …`, `Failed to start UNIT…`, `Failed to listen on UNIT…`). */
const about = (unit: string, text: string): boolean =>
  text.startsWith(`${unit}: `) ||
  text.startsWith(`Failed to start ${unit}.`) ||
  text.startsWith(`Failed to start ${unit} - `) ||
  text.startsWith(`Failed to listen on ${unit}`) ||
  text.startsWith(`Reload failed for ${unit}`);

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

/** What `systemctl start` answered for each start of `unit`: the message's lines, and rc. */
function answers(unit: string): Array<{ message: string[]; rc: number }> {
  const out: Array<{ message: string[]; rc: number }> = [];
  let message: string[] = [];
  for (const l of rec.lines) {
    if (l.startsWith(`[start] ${unit}: `)) message.push(l.slice(`[start] ${unit}: `.length));
    else if (l.startsWith(`[rc] ${unit}: `)) {
      out.push({ message, rc: Number(l.slice(`[rc] ${unit}: `.length)) });
      message = [];
    }
  }
  return out;
}

/** Our start's answer in the recording's form: systemctl's first line and its exit status. */
async function started(e: ActivationEngine, unit: string): Promise<{ first: string | undefined; rc: number }> {
  return e.startUnit(unit).then(
    () => ({ first: undefined, rc: 0 }),
    (err: Error & { code?: string }) => {
      // A failed job is the only failure here (not a refused request).
      expect(err.code).toBe('JOB_FAILED');
      return { first: err.message, rc: 1 };
    },
  );
}

const settled = (e: ActivationEngine, unit: string) => () =>
  !['activating', 'active', 'deactivating', 'reloading'].includes(e.unitInfo(unit)?.activeState ?? '');

describe('a start that fails (systemd 257, fixtures/v257/failed-start)', () => {
  it('the recording has every case, with 257 words', () => {
    const files = readdirSync(FIXTURE);
    for (const u of SERVICES) expect(files).toContain(u);
    expect(answers('oneshot.service')[0]?.message).toEqual([
      'Job for oneshot.service failed because the control process exited with error code.',
      'See "systemctl status oneshot.service" and "journalctl -xeu oneshot.service" for details.',
    ]);
    expect(recordedLines('oneshot.service').at(-1)).toBe(
      'error: Failed to start oneshot.service - Oneshot exit three.',
    );
    expect(recordedLines('nodesc.service').at(-1)).toBe('error: Failed to start nodesc.service.');
  });

  it.for(SERVICES)('%s: the start answers, ends and logs as 257', { timeout: 30_000 }, async (unit, ctx) => {
    // A mount namespace (ReadOnlyPaths=) needs root.
    if (unit === 'nsfail.service') need(ctx, root);
    const log = capture();
    const { e } = await startEngine(FIXTURE, { files: [unit], logger: log });
    const [want] = answers(unit);
    const got = await started(e, unit);
    expect(got.rc).toBe(want?.rc);
    expect(got.first).toBe(want?.message[0]);
    // Type=simple: the job was done at the fork; the unit fails after.
    await waitFor(settled(e, unit), 20_000, `${unit} to settle`);
    const info = e.unitInfo(unit);
    const shown = expectStateAsShown(info, rec.tagged('show', unit)[0]);
    // ExecMainStatus= (code=exited: the status; killed: the signal number) when a main process ran.
    if (shown.ExecMainCode === '1') expect(info?.service?.lastExit?.code).toBe(Number(shown.ExecMainStatus));
    expect(ourLines(log, unit)).toEqual(recordedLines(unit));
  });

  it('limit.service: a start refused by StartLimitBurst= fails its job; Result= stays exit-code, and so does the answer', async () => {
    const unit = 'limit.service';
    const log = capture();
    const { e } = await startEngine(FIXTURE, { files: [unit], logger: log });
    const want = answers(unit);
    expect(want).toHaveLength(2);
    for (const w of want) {
      const got = await started(e, unit);
      expect(got).toEqual({ first: w.message[0], rc: w.rc });
    }
    expect(e.unitInfo(unit)).toMatchObject({ activeState: 'failed', result: 'exit-code' });
    expect(ourLines(log, unit)).toEqual(recordedLines(unit));
  });

  it('reloadfail.service: a failing ExecReload= fails the reload job (`Job for UNIT failed.`: Result= stays success), the unit stays active', async () => {
    const unit = 'reloadfail.service';
    const log = capture();
    const { e } = await startEngine(FIXTURE, { files: [unit], logger: log });
    await e.startUnit(unit);
    const [first] = rec.tagged('reload', unit);
    expect(first).toBe('Job for reloadfail.service failed.');
    expect(rec.tagged('rc-reload', unit)).toEqual(['1']);
    await expect(e.reloadUnit(unit)).rejects.toMatchObject({ code: 'JOB_FAILED', message: first });
    expectStateAsShown(e.unitInfo(unit), rec.tagged('show', unit)[0]);
    expect(ourLines(log, unit)).toEqual(recordedLines(unit));
  });

  it('sockfail.socket: a socket whose ExecStartPre= fails logs `Failed to listen on …` last', async () => {
    const unit = 'sockfail.socket';
    const log = capture();
    const addr = await loopback();
    const { e, report } = await startEngine(FIXTURE, {
      files: [unit, 'sockfail.service'],
      logger: log,
      edit: (t) => t.replace('127.0.0.1:18931', addr),
    });
    // The engine's own start of it failed the same way.
    expect(report.failed.map((f) => f.unit)).toEqual([unit]);
    const first = ourLines(log, unit);
    expect(first).toEqual(recordedLines(unit));
    // An explicit start again: the same lines (systemctl: `Job failed. See "journalctl -xe" …`, the CLI's part).
    expect(answers(unit)[0]).toEqual({ message: ['Job failed. See "journalctl -xe" for details.'], rc: 1 });
    await expect(e.startUnit(unit)).rejects.toThrow();
    expect(ourLines(log, unit)).toEqual([...first, ...recordedLines(unit)]);
    expect(e.unitInfo(unit)).toMatchObject({ activeState: 'failed', result: 'exit-code' });
  });
});
