/**
 * A socket unit's ExecStartPre=/ExecStopPost= through the daemon, as an operator sees them: a failing
 * ExecStartPre= leaves the socket failed (Result: exit-code) with systemd's lines in `status UNIT`;
 * `stop` runs ExecStopPost= after the socket is closed; `start` runs ExecStartPre= again; while a
 * command runs, `status UNIT` shows the state and its `Cntrl PID:`. (What the
 * commands see, and when, is compared with systemd 257 in packages/activation/test/socket-exec-257.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { tempDir, writeUnits } from './helpers/units.js';

let dir: string;
let daemon: Running | undefined;
beforeEach(() => {
  dir = tempDir('mdl-sockexec-');
});
afterEach(async () => {
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  daemon = undefined;
  rmSync(dir, { recursive: true, force: true });
});

interface UnitJson {
  unit: string;
  activeState: string;
  subState: string;
  result: string;
  log?: string[];
}

async function status(control: string, unit: string): Promise<{ code: number | null; unit: UnitJson }> {
  const r = await runCli(['status', unit, '--json', '-n', '50', '--control', control]);
  return { code: r.code, unit: (JSON.parse(r.stdout) as UnitJson[])[0] as UnitJson };
}

const lines = (file: string): string[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

describe('socket units with control commands', () => {
  it('a failing ExecStartPre= fails the socket with exit-code; stop and start run ExecStopPost= and ExecStartPre=', async () => {
    const out = path.join(dir, 'out.txt');
    const units = writeUnits(path.join(dir, 'units'), {
      'bad.socket': `[Socket]\nListenStream=${dir}/bad.sock\nExecStartPre=/bin/sh -c 'exit 1'\nExecStopPost=/bin/sh -c 'echo bad stop-post >> ${out}'\n`,
      'bad.service': '[Service]\nExecStart=/bin/true\n',
      'good.socket': `[Socket]\nListenStream=${dir}/good.sock\nExecStartPre=/bin/sh -c 'echo good pre >> ${out}'\nExecStopPost=/bin/sh -c 'echo good stop-post >> ${out}'\n`,
      'good.service': '[Service]\nExecStart=/bin/true\n',
    });
    const control = path.join(dir, 'control.sock');
    daemon = startCli(['run', '--units', units, '--control', control]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);

    const bad = await status(control, 'bad.socket');
    expect(bad.code).toBe(3);
    expect([bad.unit.activeState, bad.unit.result]).toEqual(['failed', 'exit-code']);
    const log = (bad.unit.log ?? []).join('\n');
    expect(log).toContain('Control process exited, code=exited, status=1/FAILURE');
    expect(log).toContain("Failed with result 'exit-code'.");
    expect(existsSync(`${dir}/bad.sock`)).toBe(false);

    const good = await status(control, 'good.socket');
    expect([good.unit.activeState, good.unit.subState]).toEqual(['active', 'listening']);
    expect(lines(out)).toEqual(['good pre']);

    expect((await runCli(['stop', 'good.socket', '--control', control])).code).toBe(0);
    expect(lines(out)).toEqual(['good pre', 'good stop-post']);
    const stopped = await status(control, 'good.socket');
    expect([stopped.unit.activeState, stopped.unit.result]).toEqual(['inactive', 'success']);
    expect((stopped.unit.log ?? []).join('\n')).toContain('Deactivated successfully.');

    expect((await runCli(['start', 'good.socket', '--control', control])).code).toBe(0);
    expect(lines(out)).toEqual(['good pre', 'good stop-post', 'good pre']);

    const failedStart = await runCli(['start', 'bad.socket', '--control', control]);
    expect(failedStart.code).toBe(1);
    // systemctl 257: `Job failed. See "journalctl -xe" for details.`; the cause is in the unit's log.
    expect(failedStart.stderr).toBe('Job failed. See "mptcpd-lite status bad.socket" for details.\n');
    // The failed start ran no ExecStopPost= (socket_enter_signal(SOCKET_FINAL_SIGTERM) goes to dead).
    expect(lines(out)).toEqual(['good pre', 'good stop-post', 'good pre']);
  });

  it('status UNIT while ExecStopPre= runs: deactivating (stop-pre) and its Cntrl PID', async () => {
    const gate = path.join(dir, 'gate');
    execFileSync('mkfifo', [gate]);
    const units = writeUnits(path.join(dir, 'units'), {
      'slow.socket': `[Socket]\nListenStream=${dir}/slow.sock\nExecStopPre=/bin/sh -c 'read x < ${gate}'\n`,
      'slow.service': '[Service]\nExecStart=/bin/true\n',
    });
    const control = path.join(dir, 'control.sock');
    daemon = startCli(['run', '--units', units, '--control', control]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);
    const stopping = runCli(['stop', 'slow.socket', '--control', control]);
    // Asks until the stop is in stop-pre (the control socket answers each time; nothing sleeps).
    let u: UnitJson;
    do u = (await status(control, 'slow.socket')).unit;
    while (u.subState !== 'stop-pre');
    expect(u.activeState).toBe('deactivating');
    const text = (await runCli(['status', 'slow.socket', '--control', control])).stdout;
    expect(text).toContain('Active: deactivating (stop-pre)');
    expect(text).toMatch(/Cntrl PID: \d+/);
    await writeFile(gate, 'go\n');
    expect((await stopping).code).toBe(0);
    expect((await status(control, 'slow.socket')).unit.subState).toBe('dead');
  });
});
