/**
 * The daemon's side of start jobs:
 * - `start a b` enqueues both jobs and waits once, as systemctl: the jobs run together and each unit
 *   is answered in the order given (they ran one after another before);
 * - start/restart have no client-side limit (systemctl waits for the job however long it takes);
 * - SIGTERM while the start-up still waits (a socket's ExecStartPre= hangs): STOPPING=1 and no
 *   READY=1 or `ready` event after it.
 * The services wait on FIFOs the test writes; the test waits for files and lines, not for the clock.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { unitOpTimeoutMs } from '../src/commands/units.js';
import { controlRequest } from '../src/control/client.js';
import { need, python3Unavailable } from './helpers/capability.js';
import { HELPERS, runCli, startCli, startProcess, stopProcess, type Running } from './helpers/cli.js';
import { tempDir, writeUnits } from './helpers/units.js';

let dir: string;
let daemon: Running | undefined;
let others: Running[] = [];
beforeEach(() => {
  dir = tempDir('mdl-start-job-');
});
afterEach(async () => {
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  for (const o of others) await stopProcess(o, 'SIGKILL');
  daemon = undefined;
  others = [];
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves once `file` exists: each check waits for the daemon's answer to a status request. */
async function untilExists(file: string, control: string, timeoutMs = 20000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(file)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${file} did not appear`);
    await runCli(['status', '--json', '--control', control]);
  }
}

/** Resolves once `file` exists (no daemon to ask: it is still starting). */
async function untilFile(file: string, timeoutMs = 20000): Promise<void> {
  const t0 = Date.now();
  while (!existsSync(file)) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${file} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('start jobs through the daemon', () => {
  it('`start a b` runs both jobs together and answers each unit in order', async () => {
    const aStarted = path.join(dir, 'a-started');
    const bDone = path.join(dir, 'b-done');
    const go = path.join(dir, 'go');
    execFileSync('mkfifo', [go]);
    const units = writeUnits(path.join(dir, 'units'), {
      'a.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'touch ${aStarted}; read x < ${go}'\n`,
      'b.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'touch ${bDone}; exit 2'\n`,
    });
    const control = path.join(dir, 'control.sock');
    daemon = startCli(['run', '--units', units, '--control', control]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);
    const start = runCli(['start', 'a', 'b', '--json', '--control', control], { timeoutMs: 30000 });
    // b's job runs while a's still waits (one after another, b never ran before a ended).
    await untilExists(aStarted, control);
    await untilExists(bDone, control);
    writeFileSync(go, 'go\n');
    const r = await start;
    expect(r.code).toBe(1);
    const results = JSON.parse(r.stdout) as Array<{ unit: string; ok: boolean; error?: { code: string } }>;
    expect(results.map((x) => [x.unit, x.ok, x.error?.code])).toEqual([
      ['a.service', true, undefined],
      ['b.service', false, 'JOB_FAILED'],
    ]);
  }, 60_000);

  it('start and restart wait for their job without a limit; stop and reload keep one', async () => {
    expect(unitOpTimeoutMs('start')).toBe(Infinity);
    expect(unitOpTimeoutMs('restart')).toBe(Infinity);
    expect(Number.isFinite(unitOpTimeoutMs('stop'))).toBe(true);
    expect(Number.isFinite(unitOpTimeoutMs('reload'))).toBe(true);
    // No timer for Infinity (setTimeout() would fire at once for it).
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      await controlRequest(path.join(dir, 'missing.sock'), 'ping', Infinity).catch(() => undefined);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it('SIGTERM while the start-up waits for a socket ExecStartPre=: STOPPING=1, then no READY=1 and no ready event', async (ctx) => {
    need(ctx, python3Unavailable());
    const pre = path.join(dir, 'pre-running');
    const units = writeUnits(path.join(dir, 'units'), {
      'slow.socket': `[Socket]\nListenStream=${dir}/slow.sock\nExecStartPre=/bin/sh -c 'touch ${pre}; exec sleep 1000'\n`,
      'slow.service': '[Service]\nExecStart=/bin/sleep 1000\n',
    });
    const notifyPath = path.join(dir, 'notify.sock');
    const receiver = startProcess('python3', [path.join(HELPERS, 'notify-receiver.py'), notifyPath]);
    others.push(receiver);
    await receiver.waitFor(/listening/);
    const control = path.join(dir, 'control.sock');
    daemon = startCli(['run', '--units', units, '--control', control], { env: { NOTIFY_SOCKET: notifyPath } });
    await untilFile(pre);
    daemon.kill('SIGTERM');
    await receiver.waitFor(/"STOPPING": "1"/);
    const exited = await daemon.exited;
    expect(exited.code).toBe(0);
    // Everything the daemon sent is queued before this: the receiver prints in order.
    execFileSync('python3', [
      '-c',
      'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"SENTINEL=1", sys.argv[1])',
      notifyPath,
    ]);
    await receiver.waitFor(/SENTINEL/);
    const stoppingAt = receiver.lines.findIndex((l) => l.includes('"STOPPING": "1"'));
    expect(receiver.lines.slice(stoppingAt).filter((l) => l.includes('"READY": "1"'))).toEqual([]);
    expect(daemon.stdout()).not.toMatch(/"event":"ready"/);
    expect(daemon.stdout()).toMatch(/"event":"stopped"/);
  }, 60_000);
});
