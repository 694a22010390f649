/**
 * CPUAffinity= with specifiers, as systemd 257 (config_parse_exec_cpu_affinity(): unit_full_printf()
 * first, then the CPU set; recorded in fixtures/v257/failed-start by record.sh): `CPUAffinity=%i`
 * of aff@1.service runs the process on CPU 1; `CPUAffinity=%Z` (no such specifier) is ignored with
 * `Failed to resolve unit specifiers in '%Z', ignoring: Invalid slot` and the next assignment
 * (`1%i`, %i empty outside an instance) still applies. Before, any `%` made the value unparsable.
 */
import { availableParallelism } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, loadEngineUnits } from '../src/index.js';
import { testLogger } from './helpers/log.js';
import { recording } from './helpers/recorded-257.js';
import { loopback, tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/failed-start/', import.meta.url));
const rec = recording(FIXTURE);

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('CPUAffinity= with specifiers (systemd 257, fixtures/v257/failed-start)', () => {
  it('expanded at load and at start: the process runs on the recorded CPUs, a bad specifier is a warning', async (ctx) => {
    // CPU 1 must exist (the oracle's machine and this one have 2).
    if (availableParallelism() < 2) ctx.skip();
    const work = tmp('affinity-');
    const dir = join(work, 'units');
    const out = join(work, 'out');
    mkdirSync(dir);
    mkdirSync(out);
    for (const f of ['aff@.service', 'affbad.service'])
      writeFileSync(join(dir, f), readFileSync(join(FIXTURE, f), 'utf8').replaceAll('/oracle/out', out));
    // aff@1.service is loaded as systemd loads it on demand: for the socket that needs it.
    writeFileSync(join(dir, 'aff@1.socket'), `[Socket]\nListenStream=${await loopback()}\n`);
    const loaded = await loadEngineUnits([dir]);
    // systemd-analyze verify's line (FILE:LINE: …), the file being ours.
    const verify = rec.lines.filter((l) => l.startsWith('[verify] affbad.service:')).map((l) => l.slice(9));
    expect(verify).toEqual(["affbad.service:5: Failed to resolve unit specifiers in '%Z', ignoring: Invalid slot"]);
    expect(loaded.warnings.map((w) => w.replace(`${dir}/`, ''))).toEqual(verify);
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(loaded.units);
    for (const [unit, file] of [
      ['aff@1.service', 'aff-1.txt'],
      ['affbad.service', 'affbad.txt'],
    ] as const) {
      await engine.startUnit(unit);
      const cpus = readFileSync(join(out, file), 'utf8').trim();
      expect(`cpus=${cpus}`).toBe(rec.tagged('ran', unit)[0]);
      // systemctl show -p CPUAffinity: the set 257 kept.
      expect(rec.tagged('show', unit)).toContain(`CPUAffinity=${cpus}`);
    }
  });

  it('an instance whose %i is no CPU set: 257 s load-time line with the template s FILE:LINE (aff@abc.service)', async () => {
    // systemd-analyze verify of aff@abc.service (a link to aff@.service), recorded: `[verify-aff]`.
    const verify = rec.lines
      .filter((l) => l.startsWith('[verify-aff] ') && l.includes("'abc'"))
      .map((l) => l.slice(13));
    expect(verify).toEqual(["aff@.service:5: Failed to parse CPU affinity 'abc'"]);
    const work = tmp('affinity-');
    const dir = join(work, 'units');
    mkdirSync(dir);
    writeFileSync(join(dir, 'aff@.service'), readFileSync(join(FIXTURE, 'aff@.service'), 'utf8'));
    // aff@abc.service is loaded as systemd loads it on demand: for the socket that needs it.
    writeFileSync(join(dir, 'aff@abc.socket'), `[Socket]\nListenStream=${await loopback()}\n`);
    const log = testLogger();
    engine = new ActivationEngine({ logger: log });
    await engine.start((await loadEngineUnits([dir])).units);
    // testLogger puts the unit before each line (ours is logged bare, as 257's FILE:LINE lines).
    const ours = log.warnings.filter((w) => w.includes('CPU affinity'));
    expect(ours.map((w) => w.replace(`aff@abc.service: ${dir}/`, ''))).toEqual(verify);
  });
});
