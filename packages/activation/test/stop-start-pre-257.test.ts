/**
 * A stop that arrives while ExecStartPre= runs, as systemd 257 handles it (service.c service_stop()
 * in SERVICE_START_PRE: straight to stop-sigterm): the start is answered "Job for UNIT canceled.",
 * the stop completes, ExecStop= does not run, the ExecStartPre= process gets SIGTERM; killed by it,
 * the result is `signal` and the unit failed (one that exits 0 on SIGTERM leaves success, inactive);
 * ExecStopPost= runs without EXIT_CODE/EXIT_STATUS (no main process ran). Compared with
 * fixtures/v257/stop-start-pre (record.sh, the oracle).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, type UnitInfo } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { tmp, waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/stop-start-pre/', import.meta.url));
const recorded = readFileSync(join(FIXTURE, 'expected.txt'), 'utf8').split('\n').filter(Boolean);

function tagged(tag: string, unit: string): string[] {
  const head = `[${tag}] ${unit}`;
  return recorded
    .filter((l) => l.startsWith(`${head} `) || l.startsWith(`${head}: `))
    .map((l) => l.slice(head.length).replace(/^:? /, ''));
}
function fields(line: string | undefined): Record<string, string> {
  return Object.fromEntries((line ?? '').split(' ').map((kv) => kv.split('=') as [string, string]));
}
const activeLine = (u: UnitInfo | undefined): string =>
  !u
    ? ''
    : u.activeState === 'failed'
      ? `Active: failed (Result: ${u.result})`
      : `Active: ${u.activeState} (${u.subState})`;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('stop while ExecStartPre= runs (systemd 257)', () => {
  it.each(['sp', 'spok'])(
    '%s.service: the start is canceled, the stop answered, as recorded',
    async (name) => {
      const unit = `${name}.service`;
      const work = tmp('stop-start-pre-');
      const dir = join(work, 'units');
      mkdirSync(dir);
      const out = join(work, `${name}.txt`);
      const marker = join(work, `${name}-pre`);
      writeFileSync(out, '');
      writeFileSync(
        join(dir, unit),
        readFileSync(join(FIXTURE, unit), 'utf8')
          .replaceAll(`/oracle/out/${name}.txt`, out)
          .replaceAll(`/run/${name}-pre`, marker),
      );
      const log = testLogger();
      engine = new ActivationEngine({ logger: log });
      const e = engine;
      await e.start(await loadUnits(dir));
      const start = e.startUnit(unit).then(
        () => 'done',
        (err: Error & { code?: string }) => `${err.code}: ${err.message}`,
      );
      await waitFor(() => existsSync(marker), 10_000, 'ExecStartPre= to run');
      const during = e.unitInfo(unit);
      expect({ ActiveState: during?.activeState, SubState: during?.subState }).toEqual(
        fields(tagged('during', unit)[0]),
      );
      await e.stopUnit(unit);
      // 257: "Job for sp.service canceled." (rc 1) for the start, nothing (rc 0) for the stop.
      expect(tagged('start', unit)[0]).toBe(`Job for ${unit} canceled. rc=1`);
      expect(await start).toBe(`JOB_CANCELED: Job for ${unit} canceled.`);
      const shown = fields(tagged('show', unit)[0]);
      const info = e.unitInfo(unit);
      expect({ ActiveState: info?.activeState, SubState: info?.subState, Result: info?.result }).toEqual({
        ActiveState: shown.ActiveState,
        SubState: shown.SubState,
        Result: shown.Result,
      });
      expect(activeLine(info)).toBe(tagged('status', unit)[0]);
      // What ran: ExecStartPre=, no ExecStop=, ExecStopPost= with the result (no main process: no EXIT_*).
      expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toEqual(tagged('ran', unit));
      const logged = recorded.filter((l) => l.startsWith(`[log] ${unit}: `)).map((l) => l.slice('[log] '.length));
      expect(log.warnings.filter((w) => w.startsWith(`${unit}: `))).toEqual(
        logged.filter((l) => !l.endsWith('Deactivated successfully.')),
      );
    },
    60_000,
  );
});
