/**
 * A stop that arrives while a start's ExecStartPre= or a reload's ExecReload= runs, as systemd 257
 * handles it (service.c service_stop() in SERVICE_START_PRE/SERVICE_RELOAD: straight to
 * stop-sigterm): the start or reload is answered "Job for UNIT canceled.", the stop completes,
 * ExecStop= does not run, the running processes get KillSignal=; a control process killed by it
 * makes the result `signal` and the unit failed (one that exits 0 on SIGTERM leaves success);
 * ExecStopPost= runs (EXIT_CODE=/EXIT_STATUS= only when a main process ran). Compared with
 * fixtures/v257/stop-start-pre and stop-reload (record.sh, the oracle).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { activeLine, expectStateAsShown, keyValues, recording } from './helpers/recorded-257.js';
import { tmp, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

interface Case {
  /** What the stop interrupts. */
  job: 'start' | 'reload';
  fixture: string;
  units: string[];
  /** The file the unit's command touches once it runs: /run/<unit><suffix>. */
  markerSuffix: string;
}

const CASES: Case[] = [
  { job: 'start', fixture: 'stop-start-pre', units: ['sp', 'spok'], markerSuffix: '-pre' },
  { job: 'reload', fixture: 'stop-reload', units: ['rl', 'rlok'], markerSuffix: '-reloading' },
];

describe.each(CASES)('stop while the $job job runs (systemd 257, fixtures/v257/$fixture)', (c) => {
  const FIXTURE = fileURLToPath(new URL(`./fixtures/v257/${c.fixture}/`, import.meta.url));
  const rec = recording(FIXTURE);

  it.each(c.units)(
    `%s.service: the ${c.job} is canceled, the stop answered, as recorded`,
    async (name) => {
      const unit = `${name}.service`;
      const work = tmp(`${c.fixture}-`);
      const dir = join(work, 'units');
      mkdirSync(dir);
      const out = join(work, `${name}.txt`);
      const marker = join(work, `${name}${c.markerSuffix}`);
      writeFileSync(out, '');
      writeFileSync(
        join(dir, unit),
        readFileSync(join(FIXTURE, unit), 'utf8')
          .replaceAll(`/oracle/out/${name}.txt`, out)
          .replaceAll(`/run/${name}${c.markerSuffix}`, marker),
      );
      const log = testLogger();
      engine = new ActivationEngine({ logger: log });
      const e = engine;
      await e.start(await loadUnits(dir));
      if (c.job === 'reload') await e.startUnit(unit);
      const job = (c.job === 'start' ? e.startUnit(unit) : e.reloadUnit(unit)).then(
        () => 'done',
        (err: Error & { code?: string }) => `${err.code}: ${err.message}`,
      );
      await waitFor(() => existsSync(marker), 10_000, `the ${c.job}'s command to run`);
      const during = e.unitInfo(unit);
      expect({ ActiveState: during?.activeState, SubState: during?.subState }).toEqual(
        keyValues(rec.tagged('during', unit)[0]),
      );
      await e.stopUnit(unit);
      // 257: "Job for UNIT canceled." (rc 1) for the start or reload, nothing (rc 0) for the stop.
      expect(rec.tagged(c.job, unit)[0]).toBe(`Job for ${unit} canceled. rc=1`);
      expect(await job).toBe(`JOB_CANCELED: Job for ${unit} canceled.`);
      const info = e.unitInfo(unit);
      expectStateAsShown(info, rec.tagged('show', unit)[0]);
      expect(activeLine(info)).toBe(rec.tagged('status', unit)[0]);
      // What ran: the interrupted command, no ExecStop=, ExecStopPost= with the result.
      expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toEqual(rec.tagged('ran', unit));
      const logged = rec.lines.filter((l) => l.startsWith(`[log] ${unit}: `)).map((l) => l.slice('[log] '.length));
      expect(log.warnings.filter((w) => w.startsWith(`${unit}: `))).toEqual(
        logged.filter((l) => !l.endsWith('Deactivated successfully.')),
      );
    },
    60_000,
  );
});
