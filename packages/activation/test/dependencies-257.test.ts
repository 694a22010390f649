/**
 * Requires=/Wants=/After=/Before=/Requisite=/BindsTo=/Conflicts= as systemd 257 acts on them
 * (fixtures/v257/dependencies, recorded with the oracle by record.sh: `systemctl start` of each unit,
 * then systemctl show, what ran in which order, and the manager's lines).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine, Logger } from '../src/index.js';
import { capture, expectStateAsShown, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/dependencies/', import.meta.url));
const rec = recording(FIXTURE);

afterEach(stopEngines);

/** Every fixture unit (not the driver), /oracle/out made a directory of this test. */
const start = (logger: Logger) => startEngine(FIXTURE, { logger, prefix: 'deps-257-' });

/** What the recording's `[ran] FILE:` line says ran (the file's lines, space separated). */
const ran = (out: string, file: string): string => {
  const p = join(out, `${file}.txt`);
  return existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').join(' ') : '';
};

/** systemctl start's answer for our start: the first line (without 257's journalctl hint) and the rc. */
async function started(e: ActivationEngine, unit: string): Promise<{ message?: string; rc: number; code?: string }> {
  return e.startUnit(unit).then(
    () => ({ rc: 0 }),
    (err: Error & { code?: string }) => {
      const rc = err.code === 'UNIT_NOT_FOUND' ? 5 : 1;
      const message = err.code === 'UNIT_NOT_FOUND' ? `Failed to start ${unit}: ${err.message}` : err.message;
      return { message, rc, code: err.code };
    },
  );
}

/** The recorded answers of `systemctl start UNIT`, in order. */
function answers(unit: string): Array<{ message?: string; rc: number }> {
  const out: Array<{ message?: string; rc: number }> = [];
  let message: string | undefined;
  for (const l of rec.lines) {
    if (l.startsWith(`[start] ${unit}: `)) message = l.slice(`[start] ${unit}: `.length);
    else if (l.startsWith(`[rc] ${unit}: `)) {
      out.push({ ...(message !== undefined ? { message } : {}), rc: Number(l.slice(`[rc] ${unit}: `.length)) });
      message = undefined;
    }
  }
  return out;
}

/** 257's `systemctl show` lines of UNIT, in order. */
const shows = (unit: string): string[] => rec.tagged('show', unit);

const expectAnswer = (got: { message?: string; rc: number }, want: { message?: string; rc: number } | undefined) => {
  expect(got.rc).toBe(want?.rc);
  // 257's hint (`See 'journalctl -xe' for details.`) is the CLI's part here.
  expect(got.message).toBe(want?.message?.replace(/ See 'journalctl -xe' for details\.$/, ''));
};

describe('dependencies (systemd 257, fixtures/v257/dependencies)', () => {
  it('Requires=+After= and Wants=: db runs before da, dc runs too', async () => {
    const { e, out } = await start(capture());
    expectAnswer(await started(e, 'da.service'), answers('da.service')[0]);
    await waitFor(() => ran(out, 'dc') !== '', 10_000, 'dc to run');
    expect(ran(out, 'order')).toBe(rec.tagged('ran', 'order')[0]);
    expect(ran(out, 'dc')).toBe(rec.tagged('ran', 'dc')[0]);
    expectStateAsShown(e.unitInfo('da.service'), shows('da.service')[0]);
    expectStateAsShown(e.unitInfo('db.service'), shows('db.service')[0]);
    await waitFor(() => e.unitInfo('dc.service')?.activeState === 'inactive', 10_000, 'dc to finish');
    expectStateAsShown(e.unitInfo('dc.service'), shows('dc.service')[0]);
  });

  it('a failing Requires=+After= dependency: `Dependency failed for …`, job result dependency, nothing ran', async () => {
    const log = capture();
    const { e, out } = await start(log);
    const got = await started(e, 'fa.service');
    expect(got.code).toBe('JOB_DEPENDENCY');
    expectAnswer(got, answers('fa.service')[0]);
    expect(ran(out, 'fa')).toBe('');
    expectStateAsShown(e.unitInfo('fa.service'), shows('fa.service')[0]);
    expectStateAsShown(e.unitInfo('fb.service'), shows('fb.service')[0]);
    const warned = log.lines.filter((l) => l.level !== 'info' && /\bfa\.service\b/.test(l.text)).map((l) => l.text);
    const recorded = rec.lines
      .filter((l) => /^\[log\] (warning|notice|err): /.test(l) && /\bfa\.service\b/.test(l))
      .map((l) => l.replace(/^\[log\] \w+: /, ''));
    expect(warned).toEqual(recorded);
  });

  it('Wants= of a failing unit, Wants= of a missing unit, targets: the unit runs', async () => {
    const { e, out } = await start(capture());
    for (const u of ['wa', 'mw', 'ta']) {
      expectAnswer(await started(e, `${u}.service`), answers(`${u}.service`)[0]);
      expect(ran(out, u)).toBe(rec.tagged('ran', u)[0]);
      expectStateAsShown(e.unitInfo(`${u}.service`), shows(`${u}.service`)[0]);
    }
  });

  it('Requires= of a missing unit: the start is refused, `Unit X not found.`', async () => {
    const { e, out } = await start(capture());
    expectAnswer(await started(e, 'ma.service'), answers('ma.service')[0]);
    expect(ran(out, 'ma')).toBe('');
  });

  it('stopping a Requires= dependency stops the unit first', async () => {
    const { e } = await start(capture());
    expectAnswer(await started(e, 'sa.service'), answers('sa.service')[0]);
    expectStateAsShown(e.unitInfo('sa.service'), shows('sa.service')[0]);
    expectStateAsShown(e.unitInfo('sb.service'), shows('sb.service')[0]);
    const order: string[] = [];
    e.on('service-state', (s) => {
      if (s.state === 'inactive') order.push(s.service);
    });
    await e.stopUnit('sb.service');
    expectStateAsShown(e.unitInfo('sa.service'), shows('sa.service')[1]);
    expectStateAsShown(e.unitInfo('sb.service'), shows('sb.service')[1]);
    expect(order).toEqual(['sa.service', 'sb.service']);
  });

  it('Requisite=: fails (`qb.service is inactive.`) until the unit is active', async () => {
    const log = capture();
    const { e, out } = await start(log);
    const [first, second] = answers('qa.service');
    expectAnswer(await started(e, 'qa.service'), first);
    expect(ran(out, 'qa')).toBe('');
    expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.text)).toEqual(
      rec.lines
        .filter((l) => /^\[log\] (warning|notice): /.test(l) && /\bq[ab]\.service\b/.test(l))
        .map((l) => l.replace(/^\[log\] \w+: /, '')),
    );
    await e.startUnit('qb.service');
    expectAnswer(await started(e, 'qa.service'), second);
    expect(ran(out, 'qa')).toBe('qa');
  });

  it('BindsTo=: the bound unit ends, the unit stops', async () => {
    const { e } = await start(capture());
    expectAnswer(await started(e, 'ba.service'), answers('ba.service')[0]);
    expectStateAsShown(e.unitInfo('bb.service'), shows('bb.service')[0]);
    const pid = e.unitInfo('bb.service')?.service?.pid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid as number, 'SIGTERM');
    await waitFor(() => e.unitInfo('ba.service')?.activeState === 'inactive', 10_000, 'ba to stop');
    expectStateAsShown(e.unitInfo('ba.service'), shows('ba.service')[1]);
    expectStateAsShown(e.unitInfo('bb.service'), shows('bb.service')[1]);
  });

  it('Conflicts=: starting ca stops cb', async () => {
    const { e } = await start(capture());
    await e.startUnit('cb.service');
    expectAnswer(await started(e, 'ca.service'), answers('ca.service')[0]);
    expectStateAsShown(e.unitInfo('ca.service'), shows('ca.service')[0]);
    expectStateAsShown(e.unitInfo('cb.service'), shows('cb.service')[0]);
  });

  it('Before=: oa runs before the ob it wants', async () => {
    const { e, out } = await start(capture());
    expectAnswer(await started(e, 'oa.service'), answers('oa.service')[0]);
    await waitFor(() => e.unitInfo('ob.service')?.result !== undefined, 10_000, 'ob to run');
    expect(ran(out, 'o')).toBe(rec.tagged('ran', 'o')[0]);
  });
});
