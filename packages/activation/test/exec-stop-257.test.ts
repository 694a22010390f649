/**
 * Which control commands run when a service's main process ends by itself, as systemd 257
 * (fixtures/v257/exec-stop, recorded with the oracle by record.sh): a oneshot's ExecStartPost= after
 * its main process, ExecStop= after a clean exit (without MAINPID), not after a failed one or a failed
 * ExecStartPost=, and ExecStopPost= with SERVICE_RESULT always.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { tmp, unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/exec-stop/', import.meta.url));
const expected = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8');
const units = readdirSync(FIXTURE)
  .filter((f) => f.endsWith('.service'))
  .map((f) => f.slice(0, -'.service'.length));

function linesOf(unit: string): string[] {
  const m = new RegExp(`^\\[${unit}\\]\\n([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, 'm').exec(expected);
  if (!m) throw new Error(`expected.txt has no [${unit}]`);
  return (m[1] as string).split('\n').filter(Boolean);
}

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('control commands after the main process ended by itself (systemd 257)', () => {
  it.for(units)('%s.service', async (unit) => {
    const out = join(tmp('exec-stop-'), `${unit}.txt`);
    const text = readFileSync(join(FIXTURE, `${unit}.service`), 'utf8').replaceAll(`/oracle/out/${unit}.txt`, out);
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(unitDir({ [`${unit}.service`]: text })));
    const exited = new Promise<void>((resolve) => engine?.on('service-exit', () => resolve()));
    // one-postfail's start fails (its ExecStartPost= exits 4): the run still ends with ExecStopPost=.
    await engine.startUnit(`${unit}.service`).catch(() => undefined);
    await exited;
    const got = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
    expect(got).toEqual(linesOf(unit));
  });
});
