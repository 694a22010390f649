/**
 * TimeoutStopSec= applies to each ExecStopPost= command as in systemd 257 (service_enter_stop_post()
 * arms the timer; service_dispatch_timer() SERVICE_STOP_POST): `State 'stop-post' timed out.
 * Terminating.`, KillSignal= to the command, no further ExecStopPost=, result timeout; one that
 * outlives another TimeoutStopSec= is killed (`State 'final-sigterm' timed out. Killing.`). Also
 * after a oneshot's clean exit (its start fails with timeout). Compared with
 * fixtures/v257/stop-post-timeout (record.sh, recorded with the oracle).
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { fixtureEngine, oursShown, recordedLog, shownKeys } from './helpers/lifecycle-257.js';
import { recording } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/stop-post-timeout/', import.meta.url));
const KEYS = ['ActiveState', 'SubState', 'Result', 'NRestarts'] as const;
/**
 * 257's lines about the unit that we log too (the `Killing process` lines name the cgroup's
 * processes, which depend on cgroup tracking here: left out).
 */
const KEPT = /(Main process exited|Control process exited|Failed with result|timed out|Deactivated successfully)/;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function run(name: string, stop: boolean) {
  const rec = recording(FIXTURE);
  const f = await fixtureEngine(FIXTURE, [name]);
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
  expect(f.log.lines.filter((l) => KEPT.test(l))).toEqual(recordedLog(rec, name, KEPT));
  const own = (l: string): boolean => l.startsWith(`[ran] ${name} `);
  expect(f.out().filter(own)).toEqual(rec.lines.filter(own));
}

describe('TimeoutStopSec= for ExecStopPost= (systemd 257)', () => {
  it('posthang: the first ExecStopPost= outlives it: terminated, the second does not run, timeout', async () => {
    await run('posthang.service', true);
  }, 60_000);

  it('posthangterm: one that ignores SIGTERM: final-sigterm times out, SIGKILL, timeout', async () => {
    await run('posthangterm.service', true);
  }, 60_000);

  it('postexit: after a oneshot exited cleanly: the start fails with timeout', async () => {
    await run('postexit.service', false);
  }, 60_000);
});
