/**
 * Condition*=, Assert*= and ExecCondition= as systemd 257 (fixtures/v257/conditions, recorded with
 * the oracle by record.sh: `systemctl start` of each unit, then show/status and the manager's lines):
 * - unmet conditions: nothing runs, the start succeeds (rc 0), inactive (dead), ConditionResult=no,
 *   `UNIT skipped, unmet condition check KEY=[!]PARAM` (the last one written is tested first) or
 *   `UNIT skipped, no trigger condition checks were met.`; an undeterminable check warns and fails;
 * - a failed assert: `Assertion failed on job for UNIT.` (rc 1), `Starting requested but asserts
 *   failed.` and `Assertion failed for UNIT.`;
 * - ExecCondition=: exit 1–254 (203 included) skips (Result=exec-condition, ExecStopPost= runs, no
 *   restart), 255 or a signal fails the start, `-` ignores a failure;
 * - a socket with an unmet condition stays dead (nothing listens), with a failed assert its start fails.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine, Logger } from '../src/index.js';
import { loadEngineUnits } from '../src/load-units.js';
import { capture, expectStateAsShown, keyValues, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/conditions/', import.meta.url));
const rec = recording(FIXTURE);

afterEach(stopEngines);

/** The lines this test compares: the conditions' own, and how a failed start ends. */
const RELEVANT =
  /skipped|Skipped due|Condition check|Assert|asserts failed|Couldn't determine|Failed with result|Failed to start/;

const about = (unit: string, text: string): boolean =>
  text.startsWith(`${unit}: `) ||
  text.startsWith(`${unit} `) ||
  text.startsWith(`Failed to start ${unit}`) ||
  text.startsWith(`Assertion failed for ${unit}`) ||
  text.startsWith(`Condition check resulted in ${unit}`);

function recordedLines(unit: string): string[] {
  const out: string[] = [];
  for (const l of rec.lines) {
    const m = /^\[log\] (\w+): (.*)$/.exec(l);
    if (!m || !about(unit, m[2] as string) || !RELEVANT.test(m[2] as string)) continue;
    const level = m[1] === 'err' ? 'error' : m[1] === 'info' ? 'info' : 'warn';
    out.push(`${level}: ${m[2]}`);
  }
  return out;
}

function ourLines(log: ReturnType<typeof capture>, unit: string): string[] {
  return log.lines.filter((l) => about(unit, l.text) && RELEVANT.test(l.text)).map((l) => `${l.level}: ${l.text}`);
}

/** The first recorded answer of `systemctl start UNIT`: first line, rc. */
function answer(unit: string): { first: string | undefined; rc: number } {
  const first = rec.lines.find((l) => l.startsWith(`[start] ${unit}: `))?.slice(`[start] ${unit}: `.length);
  const rc = Number(rec.lines.find((l) => l.startsWith(`[rc] ${unit}: `))?.slice(`[rc] ${unit}: `.length));
  return { first, rc };
}

/** The fixture's units (not the driver), /run/cond-* files moved to the run's `out`. */
const start = (logger: Logger) =>
  startEngine(FIXTURE, {
    logger,
    prefix: 'conditions-',
    files: (f) => /\.(service|socket)$/.test(f) && !f.startsWith('driver'),
    edit: (text, _file, { out }) => text.replaceAll('/run/cond-', `${out}/cond-`),
  });

async function started(e: ActivationEngine, unit: string): Promise<{ first: string | undefined; rc: number }> {
  return e.startUnit(unit).then(
    () => ({ first: undefined, rc: 0 }),
    (err: Error) => ({ first: err.message, rc: 1 }),
  );
}

const SERVICES = [
  'skip',
  'nodesc',
  'neg',
  'negfail',
  'order',
  'trig',
  'trignone',
  'trigplain',
  'reset',
  'spec',
  'user',
  'kver',
  'cpus',
  'envc',
  'capbad',
  'acbad',
  'assert',
  'assertneg',
  'asserttrig',
  'both',
  'ec0',
  'ec1',
  'ec254',
  'ec255',
  'ecsig',
  'ecdash',
  'ectwo',
  'ecmissing',
  'ecrestart',
].map((u) => `${u}.service`);

describe('Condition*=, Assert*= and ExecCondition= as systemd 257', () => {
  it.each(SERVICES)('%s: the start answer, lines, state and results as recorded', async (unit) => {
    const log = capture();
    const { e, out } = await start(log);
    const want = answer(unit);
    const got = await started(e, unit);
    expect(got).toEqual(want);
    // A Type=simple one skipped must not restart (ecrestart: Restart=always).
    const info = e.unitInfo(unit);
    const shown = expectStateAsShown(
      info,
      rec.lines.find((l) => l.startsWith(`[show] ${unit} `))?.slice(`[show] ${unit} `.length),
    );
    expect({
      ConditionResult: info?.conditionResult ? 'yes' : 'no',
      AssertResult: info?.assertResult ? 'yes' : 'no',
    }).toEqual({
      ConditionResult: shown.ConditionResult,
      AssertResult: shown.AssertResult,
    });
    expect(ourLines(log, unit)).toEqual(recordedLines(unit));
    // status: the Condition:/Assert: block, times cut.
    // The first report's (ecrestart is reported twice).
    const tagged = rec.tagged('status', unit);
    const second = tagged.findIndex((l, i) => i > 0 && l.startsWith('Active:'));
    const wantStatus = (second > 0 ? tagged.slice(0, second) : tagged).filter((l) => !l.startsWith('Active:'));
    const gotStatus = (info?.conditionLines ?? []).map((l) =>
      l
        .trim()
        .replace(/^((?:Condition|Assert): start .*) at .*/, '$1 at TIME')
        .replace(/^(?=[├└])/, '  ')
        .replace(/^(?=\w+=|none of)/, '  '),
    );
    expect(gotStatus).toEqual(wantStatus);
    const file = rec.lines.find((l) => l.startsWith(`[file] ${unit.replace('.service', '')}: `));
    if (file) {
      const want = file.slice(file.indexOf(': ') + 2);
      let text = '';
      try {
        text = readFileSync(join(out, `cond-${unit.replace('.service', '')}.txt`), 'utf8');
      } catch {
        /* not written */
      }
      // stop-post's line carries $SERVICE_RESULT (EXIT_CODE/EXIT_STATUS are empty here, as in 257).
      expect(
        text
          .trim()
          .split('\n')
          .map((l) => l.trim())
          .join(' '),
      ).toBe(want);
    }
  });

  it('evaluates the conditions at each start (again.service: unmet, then met once the path exists)', async () => {
    const log = capture();
    const { e, out } = await start(log);
    const shows = rec.lines.filter((l) => l.startsWith('[show] again.service ')).map((l) => keyValues(l.slice(21)));
    expect(await started(e, 'again.service')).toEqual({ first: undefined, rc: 0 });
    expect(e.unitInfo('again.service')?.activeState).toBe(shows[0]?.ActiveState);
    writeFileSync(join(out, 'cond-again'), '');
    expect(await started(e, 'again.service')).toEqual({ first: undefined, rc: 0 });
    expect(e.unitInfo('again.service')?.activeState).toBe(shows[1]?.ActiveState);
    expect(e.unitInfo('again.service')?.conditionResult).toBe(true);
  });

  it('a socket with an unmet condition stays dead; with a failed assert its start fails', async () => {
    const log = capture();
    const { e } = await start(log);
    // The daemon's start evaluated them once already (257's boot did not start them): the start's lines only.
    log.lines.length = 0;
    for (const unit of ['condsock.socket', 'assertsock.socket']) {
      expect(await started(e, unit)).toEqual(answer(unit));
      const info = e.unitInfo(unit);
      expectStateAsShown(info, rec.lines.find((l) => l.startsWith(`[show] ${unit} `))?.slice(`[show] ${unit} `.length));
      expect(ourLines(log, unit)).toEqual(recordedLines(unit));
    }
    // Nothing listens on condsock's port.
    const refused = await new Promise<boolean>((resolve) => {
      const c = connect({ host: '127.0.0.1', port: 18951 });
      c.on('connect', () => {
        c.destroy();
        resolve(false);
      });
      c.on('error', () => resolve(true));
    });
    expect(refused).toBe(rec.lines.includes('[connect] condsock.socket: refused'));
  });

  it('refuses at load, with FILE:LINE, the types it cannot evaluate (the unit does not load: fail closed)', async () => {
    const dir = join(tmp('conditions-'), 'units');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'fw.service'),
      '[Unit]\nConditionFirmware=uefi\n[Service]\nType=oneshot\nExecStart=/bin/true\n',
    );
    writeFileSync(join(dir, 'sec.service'), '[Unit]\nAssertSecurity=tpm2\n[Service]\nExecStart=/bin/true\n');
    writeFileSync(join(dir, 'ok.service'), '[Unit]\nConditionSecurity=|selinux\n[Service]\nExecStart=/bin/true\n');
    const r = await loadEngineUnits([dir]);
    expect(r.failed.map((f) => f.unit).sort()).toEqual(['fw.service', 'sec.service']);
    expect(r.errors.some((l) => l.startsWith(`${join(dir, 'fw.service')}:2: ConditionFirmware=`))).toBe(true);
    expect(r.errors.some((l) => l.startsWith(`${join(dir, 'sec.service')}:2: AssertSecurity=tpm2`))).toBe(true);
    expect(r.units.services?.map((u) => u.name)).toEqual(['ok.service']);
  });
});
