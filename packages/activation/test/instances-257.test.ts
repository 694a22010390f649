/**
 * Instances of a template that no socket uses, loaded on demand as systemd 257 does
 * (fixtures/v257/instances, recorded with the oracle by record.sh): `start tp@x.service` runs the
 * template with %i and %n of the instance and its drop-ins (tp@.service.d, then tp@x.service.d),
 * an instance is pulled in by Requires=, and an instance of a missing template is not found.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { expectStateAsShown, recording } from './helpers/recorded-257.js';
import { tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/instances/', import.meta.url));
const rec = recording(FIXTURE);

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function startEngine(): Promise<{ e: ActivationEngine; out: string }> {
  const base = tmp('inst-257-');
  const dir = join(base, 'units');
  const out = join(base, 'out');
  mkdirSync(out);
  cpSync(FIXTURE, dir, { recursive: true });
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    if (!f.endsWith('.service') && !f.endsWith('.conf')) continue;
    const p = join(dir, f);
    writeFileSync(p, readFileSync(p, 'utf8').replaceAll('/oracle/out', out));
  }
  engine = new ActivationEngine();
  await engine.start(await loadUnits(dir));
  return { e: engine, out };
}

const ran = (out: string): string[] =>
  existsSync(join(out, 'tp.txt')) ? readFileSync(join(out, 'tp.txt'), 'utf8').trim().split('\n') : [];

describe('template instances on demand (systemd 257, fixtures/v257/instances)', () => {
  it('start tp@x, tp@y, needs (Requires=tp@dep): each runs with its drop-ins; nosuch@x is not found', async () => {
    const { e, out } = await startEngine();
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
