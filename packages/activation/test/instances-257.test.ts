/**
 * Instances of a template that no socket uses, loaded on demand as systemd 257 does
 * (fixtures/v257/instances, recorded with the oracle by record.sh): `start tp@x.service` runs the
 * template with %i and %n of the instance and its drop-ins (tp@.service.d, then tp@x.service.d),
 * an instance is pulled in by Requires=, and an instance of a missing template is not found.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { expectStateAsShown, recording, startEngine, stopEngines } from './helpers/recorded-257.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/instances/', import.meta.url));
const rec = recording(FIXTURE);

afterEach(stopEngines);

/** The fixture's units and drop-ins, /oracle/out made the run's `out`. */
const start = () =>
  startEngine(FIXTURE, { prefix: 'inst-257-', files: (f) => f.endsWith('.service') || f.endsWith('.conf') });

const ran = (out: string): string[] =>
  existsSync(join(out, 'tp.txt')) ? readFileSync(join(out, 'tp.txt'), 'utf8').trim().split('\n') : [];

describe('template instances on demand (systemd 257, fixtures/v257/instances)', () => {
  it('start tp@x, tp@y, needs (Requires=tp@dep): each runs with its drop-ins; nosuch@x is not found', async () => {
    const { e, out } = await start();
    expect(e.hasUnit('tp@x.service')).toBe(true);
    expect(e.hasUnit('nosuch@x.service')).toBe(false);
    for (const u of ['tp@x.service', 'tp@y.service', 'needs.service']) {
      expect(rec.tagged('rc', u)).toEqual(['0']);
      await e.startUnit(u);
      const show = rec.tagged('show', u)[0];
      expectStateAsShown(e.unitInfo(u), show);
      // Description=Template %i
      const desc = /Description=(.*?) ActiveState=/.exec(show ?? '')?.[1];
      if (u.startsWith('tp@')) expect(e.unitInfo(u)?.description).toBe(desc);
    }
    expectStateAsShown(e.unitInfo('tp@dep.service'), rec.tagged('show', 'tp@dep.service')[0]);
    // %n %i and the drop-ins' Environment= (tp-.service.d is for tp-*.service: not applied)
    expect(ran(out)).toEqual(rec.lines.filter((l) => l.startsWith('[ran] ')).map((l) => l.slice('[ran] '.length)));
    const [want] = rec.tagged('start', 'nosuch@x.service');
    await expect(e.startUnit('nosuch@x.service')).rejects.toMatchObject({
      code: 'UNIT_NOT_FOUND',
      message: want?.replace('Failed to start nosuch@x.service: ', ''),
    });
  });
});
