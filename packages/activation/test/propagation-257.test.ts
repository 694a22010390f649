/**
 * Restart and stop propagation, Upholds=, as systemd 257 (fixtures/v257/propagation, recorded with
 * the oracle by record.sh: `restart rb` with units depending on it, PropagatesStopTo=/
 * StopPropagatedFrom=, Upholds=; the states and which units started in which order).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { expectStateAsShown, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/propagation/', import.meta.url));
const rec = recording(FIXTURE);
afterEach(stopEngines);

const starts = (out: string): string[] => {
  const p = join(out, 'starts.txt');
  return existsSync(p) ? readFileSync(p, 'utf8').trim().split('\n').filter(Boolean) : [];
};
const recordedStarts = (): string[][] => rec.tagged('ran', 'starts').map((l) => l.split(' ').filter(Boolean));
const shows = (unit: string): string[] => rec.tagged('show', unit);

describe('propagation (systemd 257, fixtures/v257/propagation)', () => {
  it('restart: the active units that Requires=/PartOf=/BindsTo= it restart too, Wants= and inactive ones do not', async () => {
    const { e, out } = await startEngine(FIXTURE);
    for (const u of ['rr', 'rp', 'rt', 'rw']) await e.startUnit(`${u}.service`);
    const [before, after] = recordedStarts();
    await waitFor(() => starts(out).length === before?.length, 10_000, 'the first starts');
    expect(new Set(starts(out))).toEqual(new Set(before));
    await e.restartUnit('rb.service');
    await waitFor(() => starts(out).length === after?.length, 10_000, `the restarts (${starts(out).join(' ')})`);
    const again = starts(out).slice(before?.length);
    expect(new Set(again)).toEqual(new Set(after?.slice(before?.length)));
    // rr and rt are ordered After=rb: they start once rb has.
    expect(again.indexOf('rr')).toBeGreaterThan(again.indexOf('rb'));
    expect(again.indexOf('rt')).toBeGreaterThan(again.indexOf('rb'));
    for (const u of ['rb', 'rr', 'rp', 'rt', 'rw', 'ri'])
      expectStateAsShown(e.unitInfo(`${u}.service`), shows(`${u}.service`)[0]);
  });

  it('PropagatesStopTo=/StopPropagatedFrom=: stop, end and restart of ps stop pt and pu', async () => {
    const { e } = await startEngine(FIXTURE);
    const up = async () => {
      for (const u of ['ps', 'pt', 'pu']) await e.startUnit(`${u}.service`);
      for (const u of ['ps', 'pt', 'pu']) expect(e.unitInfo(`${u}.service`)?.activeState).toBe('active');
    };
    const expectShown = (n: number) => {
      for (const u of ['ps', 'pt', 'pu']) expectStateAsShown(e.unitInfo(`${u}.service`), shows(`${u}.service`)[n]);
    };
    await up();
    await e.stopUnit('ps.service');
    await waitFor(() => e.unitInfo('pu.service')?.activeState === 'inactive', 10_000, 'pu to stop');
    expectShown(0);
    await up();
    process.kill(e.unitInfo('ps.service')?.service?.pid as number, 'SIGTERM');
    await waitFor(
      () => ['pt', 'pu'].every((u) => e.unitInfo(`${u}.service`)?.activeState === 'inactive'),
      10_000,
      'pt and pu to stop',
    );
    expectShown(1);
    await up();
    await e.restartUnit('ps.service');
    await waitFor(() => e.unitInfo('pu.service')?.activeState === 'inactive', 10_000, 'pu to stop');
    expectShown(2);
  });

  it('Upholds=: the upheld unit is started again after a stop or its end while the upholding unit is active', async () => {
    const { e, out } = await startEngine(FIXTURE);
    await e.startUnit('uh.service');
    expectStateAsShown(e.unitInfo('uu.service'), shows('uu.service')[0]);
    // (Type=simple: started at the fork; its line is written a little later.)
    await waitFor(() => starts(out).includes('uu'), 10_000, 'uu to run');
    await e.stopUnit('uu.service');
    await waitFor(() => starts(out).filter((s) => s === 'uu').length === 2, 10_000, 'uu to start again');
    await waitFor(() => e.unitInfo('uu.service')?.activeState === 'active', 10_000, 'uu active');
    expectStateAsShown(e.unitInfo('uu.service'), shows('uu.service')[1]);
    process.kill(e.unitInfo('uu.service')?.service?.pid as number, 'SIGTERM');
    await waitFor(() => starts(out).filter((s) => s === 'uu').length === 3, 10_000, 'uu to start again');
    await waitFor(() => e.unitInfo('uu.service')?.activeState === 'active', 10_000, 'uu active');
    expectStateAsShown(e.unitInfo('uu.service'), shows('uu.service')[2]);
    await e.stopUnit('uh.service');
    await e.stopUnit('uu.service');
    expectStateAsShown(e.unitInfo('uu.service'), shows('uu.service')[3]);
    expect(starts(out)).toEqual(recordedStarts().at(-1));
  });
});
