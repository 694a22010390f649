/**
 * `mptcpd-lite stop UNIT` while `mptcpd-lite reload UNIT` waits for its ExecReload=, through the
 * daemon's control socket: both commands are answered as systemctl 257 answers them
 * (packages/activation/test/fixtures/v257/stop-reload): the reload "Job for UNIT canceled." with
 * exit code 1, the stop done (0); ExecStop= is skipped and the reload process killed by SIGTERM
 * leaves the unit failed with result signal.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { tempDir, writeUnits } from './helpers/units.js';

let dir: string;
let daemon: Running | undefined;
beforeEach(() => {
  dir = tempDir('mdl-stop-reload-');
});
afterEach(async () => {
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  daemon = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves once `file` exists: each check waits for the daemon's answer to a status request. */
async function untilExists(file: string, control: string, timeoutMs = 20000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(file)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${file} did not appear`);
    await runCli(['status', 'rl.service', '--json', '--control', control]);
  }
}

describe('stop while ExecReload= runs', () => {
  it('the reload is answered "canceled" (exit 1), the stop done (exit 0); unit failed (signal), no ExecStop=', async () => {
    const out = path.join(dir, 'ran.txt');
    const marker = path.join(dir, 'reloading');
    writeFileSync(out, '');
    const units = writeUnits(path.join(dir, 'units'), {
      'rl.service':
        '[Service]\nExecStart=/bin/sleep 1000\n' +
        `ExecReload=/bin/sh -c 'echo reload >> ${out}; touch ${marker}; exec sleep 30'\n` +
        `ExecStop=/bin/sh -c 'echo stop >> ${out}'\n` +
        `ExecStopPost=/bin/sh -c 'echo "stop-post SERVICE_RESULT=$SERVICE_RESULT" >> ${out}'\n`,
    });
    const control = path.join(dir, 'control.sock');
    daemon = startCli(['run', '--units', units, '--control', control]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);
    expect((await runCli(['start', 'rl.service', '--control', control])).code).toBe(0);

    const reload = runCli(['reload', 'rl.service', '--control', control], { timeoutMs: 25000 });
    await untilExists(marker, control);
    const stop = await runCli(['stop', 'rl.service', '--control', control], { timeoutMs: 25000 });
    const reloaded = await reload;
    expect({ code: stop.code, stderr: stop.stderr }).toEqual({ code: 0, stderr: '' });
    expect(reloaded.code).toBe(1);
    // systemctl 257 (fixtures/v257/stop-reload): the job's answer alone.
    expect(reloaded.stderr).toBe('Job for rl.service canceled.\n');

    const status = await runCli(['status', 'rl.service', '--control', control]);
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/Active: failed \(Result: signal\)/);
    expect(readFileSync(out, 'utf8').split('\n').filter(Boolean)).toEqual([
      'reload',
      'stop-post SERVICE_RESULT=signal',
    ]);
  }, 60_000);
});
