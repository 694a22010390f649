/**
 * WatchdogSec= as systemd 257 logs it, compared with fixtures/v257/watchdog (record.sh, recorded with
 * the oracle): a Type=notify service that stops pinging (`Watchdog timeout (limit 1s)!`, `Killing
 * process N (comm) with signal SIGABRT.`, `Main process exited, code=killed, status=6/ABRT`, result
 * `watchdog`), WatchdogSignal=SIGTERM (each process of the service killed, no exit line: SIGTERM is a
 * clean death), WATCHDOG=trigger (`Watchdog request (last status: <unset>)!`) and Restart=on-watchdog;
 * the levels of the lines (257's err, notice/warning) and what ExecStopPost= saw.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { capture, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/watchdog/', import.meta.url));
const rec = recording(FIXTURE);

/** 257's syslog levels as our logger's: err → error, warning and notice → warn, info → info. */
const LEVEL: Record<string, string> = { err: 'error', warning: 'warn', notice: 'warn', info: 'info' };

/** The recorded lines about `unit` as `level: UNIT: text` (pids as PID). */
function recordedLog(unit: string, keep: (text: string) => boolean): string[] {
  return rec.lines
    .filter((l) => l.startsWith('[log] '))
    .map((l) => /^\[log\] ([a-z]+): (.*)$/.exec(l) as RegExpExecArray)
    .filter((m) => m[2]!.startsWith(`${unit}: `) && keep(m[2]!))
    .map((m) => `${LEVEL[m[1]!]}: ${m[2]}`);
}

afterEach(stopEngines);

/** The lines of the watchdog's doing: the expiry, the kills, the exit, the result, the restart. */
const WATCHDOG =
  /: (Watchdog timeout|Watchdog request|Killing process|Main process exited|Failed with result|Scheduled restart job|Start request repeated)/;

async function check(name: string, keep: (text: string) => boolean = (t) => WATCHDOG.test(t)): Promise<void> {
  const log = capture();
  let post = '';
  const { e } = await startEngine(FIXTURE, {
    files: [name],
    logger: log,
    prefix: 'watchdog-',
    edit: (text, _f, r) => {
      post = join(r.base, 'post.txt');
      return text.replaceAll('/oracle/out/show.txt', post);
    },
  });
  await e.startUnit(name);
  await waitFor(() => e.unitInfo(name)?.activeState === 'failed', 30_000, `${name} failed`);
  const want = rec.tagged('post', name);
  if (want.length > 0) {
    await waitFor(() => existsSync(post) && readFileSync(post, 'utf8').includes(name), 10_000, `${name} ExecStopPost=`);
    expect(readFileSync(post, 'utf8').trim().replace(`[post] ${name} `, '')).toBe(want[0]);
  }
  expect(e.unitInfo(name)?.result).toBe('watchdog');
  const ours = log.lines
    .map((l) => `${l.level}: ${l.text}`.replace(/process \d+ /, 'process PID '))
    .filter((l) => l.includes(`${name}: `) && keep(l));
  expect(ours).toEqual(recordedLog(name, keep));
}

describe('WatchdogSec= (systemd 257)', () => {
  it(
    'a service that stops pinging: timeout, SIGABRT to its process, result watchdog',
    () => check('wd.service'),
    60_000,
  );
  it('WatchdogSignal=SIGTERM: each process killed with it, no exit line', () => check('wdterm.service'), 60_000);
  it(
    'WATCHDOG=trigger: the watchdog request line, result watchdog',
    // Which processes were still there when the request came is a race (257 saw systemd-notify too).
    () => check('wdtrigger.service', (t) => WATCHDOG.test(t) && !t.includes('Killing process')),
    60_000,
  );
  it('Restart=on-watchdog: restarted until the start limit', () => check('wdrestart.service'), 60_000);
});
