/**
 * A failing ExecStop= or ExecStopPost=, as systemd 257 (service.c service_sigchld_event(): a control
 * command that fails ends its step — the next command of the step runs only after a success or with
 * `-` — and sets the result when it was success): ExecStop= failing while the main process runs: the
 * main process still gets SIGTERM (service_enter_signal()), result exit-code; ExecStopPost= failing:
 * result exit-code, and Restart= is decided after it (service_enter_dead()). Compared with
 * fixtures/v257/stop-failures and exit-status ctlstop0 (record.sh: systemctl show afterwards, which
 * commands ran, what ExecStopPost= saw, the manager's lines, recorded with the oracle).
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { fixtureEngine, oursShown, recordedLog, shownKeys } from './helpers/lifecycle-257.js';
import { recording } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/stop-failures/', import.meta.url));
const EXIT_STATUS = fileURLToPath(new URL('./fixtures/v257/exit-status/', import.meta.url));
const KEYS = ['ActiveState', 'SubState', 'Result', 'NRestarts'] as const;
/** 257's lines about the unit that we log too. */
const KEPT =
  /(Main process exited|Control process exited|Failed with result|Scheduled restart job|Deactivated successfully|Start request repeated|timed out)/;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** A PID differs from run to run. */
const pidless = (l: string): string => l.replace(/MAINPID=\d+/, 'MAINPID=N');

const settled = (e: ActivationEngine, name: string) => (): boolean => {
  const s = e.unitInfo(name)?.activeState;
  return s === 'inactive' || s === 'failed';
};

/** Starts and stops `name` as driver.sh does, or only starts it (`stop: false`), and waits for it to settle. */
async function run(fixture: string, name: string, stop: boolean) {
  const rec = recording(fixture);
  const f = await fixtureEngine(fixture, [name]);
  engine = f.e;
  await f.e.startUnit(name).catch(() => undefined);
  if (stop) await f.e.stopUnit(name);
  const want = shownKeys(rec, name, KEYS);
  await waitFor(
    () => JSON.stringify(oursShown(f.e.unitInfo(name), KEYS)) === JSON.stringify(want),
    30_000,
    `${name} as 257 shows it`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ours ${JSON.stringify(oursShown(f.e.unitInfo(name), KEYS))}`);
  });
  await waitFor(settled(f.e, name), 10_000, `${name} settled`);
  const own = (l: string): boolean => l.startsWith(`[ran] ${name} `) || l.startsWith(`[post] ${name} `);
  return { f, rec, own };
}

describe('a failing ExecStop= or ExecStopPost= (systemd 257)', () => {
  it.each([
    ['stopfail', 'ExecStop= fails while the main process runs: the next ExecStop= is skipped, SIGTERM, exit-code'],
    ['stopfaildash', 'a `-` ExecStop= that fails: the next one runs, success'],
    ['postfail', 'ExecStopPost= fails: the next one is skipped, exit-code'],
    ['postfaildash', 'a `-` ExecStopPost= that fails: the next one runs, success'],
    ['stophang', 'ExecStop= outlives TimeoutStopSec=: terminated, the next ExecStop= is skipped, timeout'],
    ['stopenv', 'ExecStop= of a running service gets SERVICE_RESULT= (no EXIT_CODE=) and $MAINPID'],
  ])(
    '%s: %s',
    async (u) => {
      const name = `${u}.service`;
      const { f, rec, own } = await run(FIXTURE, name, true);
      expect(f.out().filter(own).map(pidless)).toEqual(rec.lines.filter(own).map(pidless));
      expect(f.log.lines.filter((l) => KEPT.test(l))).toEqual(recordedLog(rec, name, KEPT));
    },
    60_000,
  );

  it('stopenvexit: ExecStop= after a clean exit gets SERVICE_RESULT=, EXIT_CODE=, EXIT_STATUS=, no $MAINPID', async () => {
    const name = 'stopenvexit.service';
    const { f, rec, own } = await run(FIXTURE, name, false);
    expect(f.out().filter(own)).toEqual(rec.lines.filter(own));
    expect(f.log.lines.filter((l) => KEPT.test(l))).toEqual(recordedLog(rec, name, KEPT));
  }, 60_000);

  it('postrestart: a clean exit whose ExecStopPost= fails is exit-code, and Restart=on-failure restarts it', async () => {
    const name = 'postrestart.service';
    const { f, rec, own } = await run(FIXTURE, name, false);
    expect(f.out().filter(own)).toEqual(rec.lines.filter(own));
    expect(f.log.lines.filter((l) => KEPT.test(l))).toEqual(recordedLog(rec, name, KEPT));
  }, 60_000);

  it('exit-status ctlstop0: ExecStop= kills the main process and exits 3: exit-code (ExecStop= waited for)', async () => {
    const name = 'ctlstop0.service';
    const { f, rec, own } = await run(EXIT_STATUS, name, true);
    expect(f.out().filter(own)).toEqual(rec.lines.filter(own));
    expect(f.log.lines.filter((l) => KEPT.test(l))).toEqual(recordedLog(rec, name, KEPT));
  }, 60_000);
});
