/**
 * `mptcpd-lite start UNIT` when the start fails, against what systemd 257's systemctl printed for
 * the same units (packages/activation/test/fixtures/v257/failed-start, recorded with the oracle):
 * the same sentence (`Job for UNIT failed because <why>.`, the why chosen by the service's Result=;
 * `Job failed. …` for a socket), the same exit status, and the hints with our commands in place of
 * systemctl's and journalctl's. The daemon's log carries 257's job line `Failed to start UNIT -
 * DESCRIPTION.` without a `UNIT: ` prefix.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { unitFailureText } from '../src/commands/units.js';
import { runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { freePort, tempDir, writeUnits } from './helpers/units.js';

const FIXTURE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../packages/activation/test/fixtures/v257/failed-start',
);
const recorded = readFileSync(path.join(FIXTURE, 'expected.txt'), 'utf8').split('\n').filter(Boolean);

/** What systemctl answered the first start of `unit`: its stderr lines and exit status. */
function answer(unit: string): { lines: string[]; rc: number } {
  const lines = recorded
    .filter((l) => l.startsWith(`[start] ${unit}: `))
    .map((l) => l.slice(`[start] ${unit}: `.length));
  const rc = recorded.find((l) => l.startsWith(`[rc] ${unit}: `));
  return { lines: lines.slice(0, 2), rc: Number(rc?.slice(`[rc] ${unit}: `.length)) };
}

/** 257's hints with our commands: `systemctl status X` → `mptcpd-lite status X`, `journalctl -xeu X` → its log lines. */
function ours(line: string): string {
  return line
    .replace(/"systemctl status ([^"]+)"/, '"mptcpd-lite status $1"')
    .replace(/"journalctl -xeu ([^"]+)"/, '"mptcpd-lite status --lines=100 $1"')
    .replace(
      /^Job failed\. See "journalctl -xe" for details\.$/,
      'Job failed. See "mptcpd-lite status UNIT" for details.',
    );
}

const CASES = [
  'oneshot.service',
  'nodesc.service',
  'missingexec.service',
  'notifyexit.service',
  'notifyquiet.service',
  'notifytimeout.service',
  'killed.service',
  'prefail.service',
  'exit.service',
  'missing.service',
  'sockfail.socket',
];

let daemon: Running | undefined;
afterEach(async () => {
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  daemon = undefined;
});

describe('start of a unit that fails: systemctl 257 words (fixtures/v257/failed-start)', () => {
  it('the sentences, by result, and the other answers', () => {
    expect(
      unitFailureText('start', 'a.service', { code: 'JOB_CANCELED', message: 'Job for a.service canceled.' }),
    ).toBe('Job for a.service canceled.');
    // systemctl: `A dependency job for fa.service failed. See 'journalctl -xe' for details.`
    // (packages/activation/test/fixtures/v257/dependencies)
    expect(
      unitFailureText('start', 'fa.service', {
        code: 'JOB_DEPENDENCY',
        message: 'A dependency job for fa.service failed.',
      }),
    ).toBe('A dependency job for fa.service failed. See "mptcpd-lite status fa.service" for details.');
    expect(unitFailureText('stop', 'x.service', { code: 'UNIT_NOT_FOUND', message: 'Unit x.service not found.' })).toBe(
      'Failed to stop x.service: Unit x.service not found.',
    );
    expect(
      unitFailureText('reload', 'e.socket', {
        code: 'NOT_RELOADABLE',
        message: 'Job type reload is not applicable for unit e.socket.',
      }),
    ).toBe('Failed to reload e.socket: Job type reload is not applicable for unit e.socket.');
    // shell_maybe_quote() of the name in the hints.
    expect(
      unitFailureText('start', 'a b.service', { code: 'JOB_FAILED', message: 'Job for a b.service failed.' }),
    ).toBe(
      'Job for a b.service failed.\nSee "mptcpd-lite status "a b.service"" and "mptcpd-lite status --lines=100 "a b.service"" for details.',
    );
  });

  it('each start: stderr and exit status as systemctl, our commands in the hints', async () => {
    const port = await freePort();
    const dir = tempDir('mdl-jobfail-');
    const files: Record<string, string> = {};
    for (const u of [...CASES, 'sockfail.service', 'reloadfail.service'])
      files[u] = readFileSync(path.join(FIXTURE, u), 'utf8').replace('127.0.0.1:18931', `127.0.0.1:${port}`);
    const units = writeUnits(path.join(dir, 'units'), files);
    const control = path.join(dir, 'control.sock');
    daemon = startCli(['run', '--units', units, '--control', control]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);
    for (const unit of CASES) {
      const want = answer(unit);
      const r = await runCli(['start', unit, '--control', control], { timeoutMs: 60_000 });
      expect({ unit, code: r.code, stderr: r.stderr.split('\n').filter(Boolean) }).toEqual({
        unit,
        code: want.rc,
        stderr: want.lines.map((l) => ours(l).replace('"mptcpd-lite status UNIT"', `"mptcpd-lite status ${unit}"`)),
      });
    }
    // A failing ExecReload=: systemctl's `Job for UNIT failed.` (Result= stays success), exit 1.
    expect((await runCli(['start', 'reloadfail.service', '--control', control])).code).toBe(0);
    const reload = await runCli(['reload', 'reloadfail.service', '--control', control]);
    const wantReload = recorded
      .filter((l) => l.startsWith('[reload] reloadfail.service: '))
      .map((l) => ours(l.slice('[reload] reloadfail.service: '.length)));
    expect(wantReload).toHaveLength(2);
    expect({ code: reload.code, stderr: reload.stderr.split('\n').filter(Boolean) }).toEqual({
      code: 1,
      stderr: wantReload,
    });
    // The daemon's log: 257's job line, as 257 logs it (no `UNIT: ` prefix).
    await daemon.waitFor(/^.*Failed to start oneshot\.service - Oneshot exit three\.$/m, 5000);
    expect(daemon.stderr()).not.toMatch(/oneshot\.service: Failed to start/);
    await daemon.waitFor(/Failed to listen on sockfail\.socket - Socket start pre fails\./, 5000);
  }, 120_000);
});
