/**
 * Restart= by the run's result, as systemd 257's service_shall_restart(): the table from its source
 * (every result: success, protocol, resources, timeout, exit-code, signal, core-dump, watchdog,
 * oom-kill, exec-condition; start-limit-hit never restarts: service_enter_dead(…, allow_restart=false)),
 * and what can be provoked compared with fixtures/v257/restart-results (record.sh: systemctl show after
 * the restarts, what ExecStopPost= saw, the manager's lines, recorded with the oracle): protocol
 * (Type=notify exiting 0 before READY=1), resources (EnvironmentFile= missing) and timeout restart with
 * on-abnormal, exit-code does not; protocol restarts with neither on-abort nor on-watchdog; a start
 * that fails (ExecStartPre=, or before the spawn) is restarted too.
 */
import { fileURLToPath } from 'node:url';
import type { RestartPolicy } from '@mptcp/unit';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { type ServiceResult, shallRestart } from '../src/restart-policy.js';
import { fixtureEngine, oursShown, recordedLog, shownKeys } from './helpers/lifecycle-257.js';
import { recording } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/restart-results/', import.meta.url));
const rec = recording(FIXTURE);
const KEYS = ['ActiveState', 'SubState', 'Result', 'NRestarts'] as const;
const KEPT =
  /(Failed with result|Scheduled restart job|Start request repeated|Main process exited|Control process exited)/;

const RESULTS: ServiceResult[] = [
  'success',
  'protocol',
  'resources',
  'timeout',
  'exit-code',
  'signal',
  'core-dump',
  'watchdog',
  'oom-kill',
  'exec-condition',
  'start-limit-hit',
];

/** service_shall_restart()'s switch (src/core/service.c, v257.13), with start-limit-hit never restarting. */
function restarts257(policy: RestartPolicy, r: ServiceResult): boolean {
  if (r === 'start-limit-hit') return false;
  switch (policy) {
    case 'no':
      return false;
    case 'always':
      return r !== 'exec-condition';
    case 'on-success':
      return r === 'success';
    case 'on-failure':
      return r !== 'success' && r !== 'exec-condition';
    case 'on-abnormal':
      return r !== 'success' && r !== 'exit-code' && r !== 'exec-condition';
    case 'on-watchdog':
      return r === 'watchdog';
    case 'on-abort':
      return r === 'signal' || r === 'core-dump';
  }
}

const POLICIES: RestartPolicy[] = [
  'no',
  'always',
  'on-success',
  'on-failure',
  'on-abnormal',
  'on-watchdog',
  'on-abort',
];

describe('Restart= by result (systemd 257 service_shall_restart())', () => {
  it.each(POLICIES.flatMap((p) => RESULTS.map((r) => [p, r, restarts257(p, r)] as const)))(
    'Restart=%s, result %s: restart %s',
    (policy, result, want) => {
      expect(shallRestart(policy, result)).toBe(want);
    },
  );
});

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('Restart= by result, recorded (systemd 257)', () => {
  it.each([
    ['proto', 'Type=notify exits 0 before READY=1: protocol, restarted by on-abnormal until the start limit'],
    ['res', 'EnvironmentFile= missing: resources, restarted by on-abnormal until the start limit'],
    ['exitcode', 'exit-code: not restarted by on-abnormal'],
    ['timeout', 'TimeoutStartSec= passes: timeout, restarted by on-abnormal until the start limit'],
    ['protoabort', 'protocol: not restarted by on-abort'],
    ['protowatchdog', 'protocol: not restarted by on-watchdog'],
    ['prefail', 'a failing ExecStartPre=: exit-code, restarted by on-failure until the start limit'],
    ['execmissing', 'Type=exec, program missing (203/EXEC): exit-code, restarted by on-failure until the start limit'],
  ])(
    '%s: %s',
    async (u) => {
      const name = `${u}.service`;
      const f = await fixtureEngine(FIXTURE, [name]);
      engine = f.e;
      await f.e.startUnit(name).catch(() => undefined);
      const want = shownKeys(rec, name, KEYS);
      await waitFor(
        () => JSON.stringify(oursShown(f.e.unitInfo(name), KEYS)) === JSON.stringify(want),
        30_000,
        `${name} as 257 shows it`,
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ours ${JSON.stringify(oursShown(f.e.unitInfo(name), KEYS))}`);
      });
      const post = (l: string): boolean => l.startsWith(`[post] ${name} `);
      expect(f.out().filter(post)).toEqual(rec.lines.filter(post));
      expect(f.log.lines.filter((l) => KEPT.test(l))).toEqual(recordedLog(rec, name, KEPT));
    },
    60_000,
  );
});
