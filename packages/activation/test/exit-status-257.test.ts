/**
 * The exit-status lists and the runtime limit of a service, as systemd 257 applies them:
 * SuccessExitStatus= (exit statuses, names and signals that count as a clean exit, for the main and
 * the control processes), RestartPreventExitStatus= / RestartForceExitStatus= (they overrule
 * Restart=), RuntimeMaxSec= / RuntimeRandomizedExtraSec= (counted from when the service became
 * active; no effect on Type=oneshot). Compared with fixtures/v257/exit-status (record.sh: systemctl
 * show afterwards, what ExecStopPost= saw, the manager's lines about the unit, recorded with the oracle).
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine, Logger, UnitInfo } from '../src/index.js';
import { type CapturingLogger, capture, recording, startEngine, stopEngines } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/exit-status/', import.meta.url));
const rec = recording(FIXTURE);

/** The recorded `[show] UNIT K=V …` line of `unit` as keys (ExecMain* left out: 257 forgets them of a unit it unloads). */
function shown(unit: string): Record<string, string> {
  const line = rec.tagged('show', unit).at(-1);
  if (!line) throw new Error(`no [show] line for ${unit}`);
  const kv = Object.fromEntries(line.split(' ').map((x) => x.split('=') as [string, string]));
  return { ActiveState: kv.ActiveState!, SubState: kv.SubState!, Result: kv.Result!, NRestarts: kv.NRestarts! };
}

function ours(info: UnitInfo | undefined): Record<string, string> {
  return {
    ActiveState: info?.activeState ?? '',
    SubState: info?.subState ?? '',
    Result: info?.result ?? 'success',
    NRestarts: String(info?.service?.restarts ?? 0),
  };
}

/** 257's lines about the unit that we log too: its failures, restarts, deactivation, runtime limit. */
const KEPT =
  /(Main process exited|Control process exited|Failed with result|Scheduled restart job|Deactivated successfully|runtime time limit|Start request repeated)/;

function recordedLog(unit: string): string[] {
  return rec.lines
    .filter((l) => l.startsWith('[log] '))
    .map((l) => l.replace(/^\[log\] [a-z]+: /, ''))
    .filter((l) => l.startsWith(`${unit}: `) && KEPT.test(l));
}

/** The lines logged for a unit, each as `UNIT: message`. */
const unitLines = (log: CapturingLogger): string[] =>
  log.lines.flatMap((l) => (l.unit ? [`${l.unit}: ${l.message}`] : []));

afterEach(stopEngines);

/** The fixture's unit `name`, its ExecStopPost= writing to `post.txt` of the run (the oracle's show.txt). */
const start = (name: string, logger: Logger) =>
  startEngine(FIXTURE, {
    files: [name],
    logger,
    prefix: 'exit-status-',
    edit: (text, _file, { base }) => text.replaceAll('/oracle/out/show.txt', join(base, 'post.txt')),
  });

async function run(name: string): Promise<{ log: string[]; post: string[]; e: ActivationEngine }> {
  const log = capture();
  const { e, base } = await start(name, log);
  const postFile = join(base, 'post.txt');
  await e.startUnit(name).catch(() => undefined);
  // driver.sh stops it (systemctl stop) once started.
  if (name === 'ctlstop.service') await e.stopUnit(name);
  const want = shown(name);
  await waitFor(
    () => JSON.stringify(ours(e.unitInfo(name))) === JSON.stringify(want),
    30_000,
    `${name} as 257 shows it`,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ours ${JSON.stringify(ours(e.unitInfo(name)))}`);
  });
  const post = () => (existsSync(postFile) ? readFileSync(postFile, 'utf8').split('\n').filter(Boolean) : []);
  // ExecStopPost= ran before the state settled; its file is complete.
  await waitFor(() => post().length >= rec.tagged('post', name).length, 10_000, `${name} ExecStopPost=`);
  return {
    log: unitLines(log).filter((l) => KEPT.test(l)),
    post: post().map((l) => l.replace(/^\[post\] [^ ]+ /, '')),
    e,
  };
}

const CASES: Array<[string, string]> = [
  ['succ7', 'SuccessExitStatus=7: exit 7 is a success, no restart'],
  ['succsig', 'SuccessExitStatus=SIGUSR1: a death by SIGUSR1 is a success (SERVICE_RESULT=success)'],
  ['succname', 'SuccessExitStatus=TEMPFAIL (a name: 75)'],
  ['reset', 'an empty SuccessExitStatus= empties the list'],
  ['ctl', 'SuccessExitStatus= applies to ExecStartPre=/ExecStartPost=/ExecStopPost= of a oneshot'],
  ['ctlstop', 'SuccessExitStatus= applies to ExecStop='],
  ['prevent', 'RestartPreventExitStatus=NOTIMPLEMENTED: exit 3 not restarted (Restart=on-failure)'],
  ['preventsig', 'RestartPreventExitStatus=SIGUSR1 with Restart=always'],
  ['preventforce', 'a status in both lists: prevented'],
  ['force', 'RestartForceExitStatus=5 with Restart=on-abnormal: restarted until the start limit'],
  ['force0', 'RestartForceExitStatus=0 with Restart=no: a clean exit restarts (then start-limit-hit)'],
  ['forceone', 'RestartForceExitStatus=0 of a oneshot that succeeded: no restart'],
  ['forcesig', 'RestartForceExitStatus=SIGUSR2 with Restart=no'],
  ['rtm', "RuntimeMaxSec=1: stopped, result 'timeout'"],
  ['rtmrand', 'RuntimeMaxSec= with RuntimeRandomizedExtraSec='],
  ['rtmone', 'RuntimeMaxSec= of a oneshot: a warning, no effect'],
  ['rtmrestart', "RuntimeMaxSec= with Restart=on-failure: restarted after the 'timeout'"],
];

describe('exit-status lists and RuntimeMaxSec= (systemd 257)', () => {
  it.each(CASES)(
    '%s: %s',
    async (u) => {
      const name = `${u}.service`;
      const { log, post } = await run(name);
      expect(post).toEqual(rec.tagged('post', name));
      expect(log).toEqual(recordedLog(name));
    },
    60_000,
  );

  it('RuntimeMaxSec= counts from READY=1 (active), not from the start (Type=notify, ready after 1.5 s)', async () => {
    const name = 'rtmnotify.service';
    const log = capture();
    const { e } = await start(name, log);
    await e.startUnit(name);
    // Active now (after READY=1): the limit has not passed, though more than RuntimeMaxSec= since the start.
    expect(e.unitInfo(name)?.activeState).toBe('active');
    await waitFor(
      () => JSON.stringify(ours(e.unitInfo(name))) === JSON.stringify(shown(name)),
      30_000,
      'rtmnotify failed',
    );
    expect(unitLines(log).filter((l) => KEPT.test(l))).toEqual(recordedLog(name));
    expect(rec.lines).toContain(
      '[time] rtmnotify.service active after 1.5 s: yes, then stopped 1 s later (not at once): yes',
    );
  }, 60_000);
});
