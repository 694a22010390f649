/**
 * OnFailure=/OnSuccess= as systemd 257 (fixtures/v257/on-failure, recorded with the oracle by
 * record.sh): `UNIT: Triggering OnFailure= dependencies.` when the unit fails (OnSuccess=: when it
 * ends well), then a start of each handler (a template's instance too, `handler@%n.service`), whose
 * ExecStart= gets MONITOR_SERVICE_RESULT, MONITOR_EXIT_CODE, MONITOR_EXIT_STATUS,
 * MONITOR_INVOCATION_ID and MONITOR_UNIT of the unit.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../src/index.js';
import { capture, expectStateAsShown, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/on-failure/', import.meta.url));
const rec = recording(FIXTURE);

afterEach(stopEngines);

/** Every fixture unit (not the driver), /oracle/out made a directory of this test. */
const start = (logger: Logger) => startEngine(FIXTURE, { logger, prefix: 'onfail-257-' });

/** The handlers' [env] lines (`UNIT:MONITOR_…=…`) of one handler, the invocation id (`id`, else any) made ID. */
const envOf = (lines: string[], handler: string, id?: string): string[] =>
  lines
    .filter((l) => l.startsWith(`${handler}:`))
    .map((l) => l.replace(id ?? /(?<=MONITOR_INVOCATION_ID=)[0-9a-f]{32}$/, 'ID'));

const recordedEnv = rec.lines.filter((l) => l.startsWith('[env] ')).map((l) => l.slice('[env] '.length));

const ourEnv = (out: string): string[] =>
  existsSync(join(out, 'env.txt')) ? readFileSync(join(out, 'env.txt'), 'utf8').trim().split('\n') : [];

/** 257's info lines about UNIT's handlers (`Triggering …`). */
const triggering = (unit: string): string[] =>
  rec.lines
    .filter((l) => l.startsWith(`[log] info: ${unit}: Triggering `))
    .map((l) => l.replace(/^\[log\] info: /, ''));

describe('OnFailure=/OnSuccess= (systemd 257, fixtures/v257/on-failure)', () => {
  it.for([
    ['of.service', 'ofh.service'],
    ['os.service', 'osh.service'],
    ['ot.service', 'handler@ot.service.service'],
  ] as const)('%s starts %s with the MONITOR_* variables', async ([unit, handler]) => {
    const log = capture();
    const { e, out } = await start(log);
    await e.startUnit(unit).catch(() => undefined);
    await waitFor(() => e.unitInfo(handler)?.activeState === 'inactive' && ourEnv(out).length > 0, 10_000, handler);
    const show = rec.tagged('show', unit)[0];
    const info = e.unitInfo(unit);
    expect(info?.activeState).toBe(/ActiveState=(\w+)/.exec(show ?? '')?.[1]);
    expect(info?.result ?? 'success').toBe(/Result=([\w-]+)/.exec(show ?? '')?.[1]);
    const ourId = info?.service?.invocationId;
    expect(ourId).toMatch(/^[0-9a-f]{32}$/);
    expect(envOf(ourEnv(out), handler, ourId)).toEqual(envOf(recordedEnv, handler));
    expect(log.lines.filter((l) => l.text.startsWith(`${unit}: Triggering `)).map((l) => l.text)).toEqual(
      triggering(unit),
    );
    expectStateAsShown(e.unitInfo(handler), rec.tagged('show', handler)[0]);
    // The unit's own lines come first (ot: `Failed to start ot.service.`), then `Triggering …`.
    const about = (t: string): boolean => t.includes(unit) && !t.includes(handler);
    const ours = log.lines.filter((l) => l.level !== 'info' || l.text.includes(': Triggering ')).map((l) => l.text);
    const recorded = rec.lines
      .filter((l) => /^\[log\] (warning|notice|err): /.test(l) || l.includes(': Triggering '))
      .map((l) => l.replace(/^\[log\] \w+: /, ''));
    expect(ours.filter(about)).toEqual(recorded.filter(about));
  });

  it('OnSuccess= of a failing unit, OnFailure= of one that succeeds: not started', async () => {
    const { e, out } = await start(capture());
    await e.startUnit('osf.service').catch(() => undefined);
    await e.startUnit('os.service');
    await waitFor(() => e.unitInfo('osh.service')?.activeState === 'inactive' && ourEnv(out).length > 0, 10_000, 'osh');
    expect(triggering('osf.service')).toEqual([]);
    expect(ourEnv(out).some((l) => l.startsWith('osh2.service:') || l.startsWith('ofh2.service:'))).toBe(false);
    for (const u of ['osh2.service', 'ofh2.service']) expect(e.unitInfo(u)?.service?.invocationId).toBeUndefined();
  });
});
