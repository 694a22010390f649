/**
 * The start job of `start UNIT` (startUnit()) as systemd 257's job engine runs it (job.c
 * job_install(), service.c service_start()/service_stop()); oracle runs 20261202-114404.22331 and
 * 20261202-113946.12909:
 * - a stop or restart while the start job is pending (notify waiting for READY=1, oneshot running)
 *   answers the start `Job for UNIT canceled.` and logs no `Failed to start` line, also when the
 *   stop timed out (nr.service: Result=timeout, start canceled, stop rc 0);
 * - a second start of a unit still starting is merged into the pending job: both get its result;
 * - a start during a stop cancels the stop job (`Job for UNIT canceled.`) and starts the unit once
 *   the stop has finished (slowstop.service: stop rc 1 canceled, start rc 0, active);
 * - a start that fails before the spawn (WorkingDirectory=, EnvironmentFile=) logs its cause as an error.
 * The services wait on FIFOs the test writes: nothing waits for the clock.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { type RecordingLogger, testLogger } from './helpers/log.js';
import { tmp, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

const answer = (p: Promise<void>): Promise<string> =>
  p.then(
    () => 'done',
    (err: Error & { code?: string }) => `${err.code}: ${err.message}`,
  );

async function setup(files: Record<string, string>): Promise<{ e: ActivationEngine; log: RecordingLogger }> {
  const log = testLogger();
  engine = new ActivationEngine({ logger: log });
  await engine.start(await loadUnits(unitDir(files)));
  return { e: engine, log };
}

function fifo(path: string): string {
  execFileSync('mkfifo', [path]);
  return path;
}

const service = (e: ActivationEngine, name: string) => e.status().services.find((s) => s.name === name);

const failedToStart = (log: RecordingLogger): string[] => log.errors.filter((l) => l.includes('Failed to start'));

describe('start job (systemd 257)', () => {
  it('a stop while a notify service waits for READY=1 cancels the start: "Job for UNIT canceled.", no Failed to start line', async () => {
    const work = tmp('start-job-');
    const marker = join(work, 'nt-started');
    const { e, log } = await setup({
      'nt.service': `[Unit]\nDescription=Notify slow\n[Service]\nType=notify\nExecStart=/bin/sh -c 'touch ${marker}; exec sleep 1000'\n`,
    });
    const start = answer(e.startUnit('nt.service'));
    await waitFor(() => existsSync(marker), 10_000, 'the main process');
    await e.stopUnit('nt.service');
    expect(await start).toBe('JOB_CANCELED: Job for nt.service canceled.');
    expect(failedToStart(log)).toEqual([]);
    expect(e.unitInfo('nt.service')?.activeState).toBe('inactive');
  }, 30_000);

  it('a stop that times out still cancels the start (nr.service: Result=timeout, start canceled, stop answered)', async () => {
    const work = tmp('start-job-');
    const marker = join(work, 'nr-started');
    const { e, log } = await setup({
      'nr.service': `[Service]\nType=oneshot\nTimeoutStopSec=0.2\nExecStart=/bin/sh -c 'trap "" TERM; touch ${marker}; sleep 1000'\n`,
    });
    const start = answer(e.startUnit('nr.service'));
    await waitFor(() => existsSync(marker), 10_000, 'the main process');
    expect(await answer(e.stopUnit('nr.service'))).toBe('done');
    expect(await start).toBe('JOB_CANCELED: Job for nr.service canceled.');
    expect(failedToStart(log)).toEqual([]);
    const info = e.unitInfo('nr.service');
    expect({ active: info?.activeState, result: info?.result }).toEqual({ active: 'failed', result: 'timeout' });
  }, 30_000);

  it('a restart while a oneshot runs cancels the first start; the restart succeeds', async () => {
    const work = tmp('start-job-');
    const marker = join(work, 'os-started');
    const { e, log } = await setup({
      'os.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'if [ -e ${marker} ]; then exit 0; fi; touch ${marker}; exec sleep 1000'\n`,
    });
    const start = answer(e.startUnit('os.service'));
    await waitFor(() => existsSync(marker), 10_000, 'the main process');
    expect(await answer(e.restartUnit('os.service'))).toBe('done');
    expect(await start).toBe('JOB_CANCELED: Job for os.service canceled.');
    expect(failedToStart(log)).toEqual([]);
  }, 30_000);

  it('a second start of a unit still starting waits for the same job and gets its result', async () => {
    const work = tmp('start-job-');
    const marker = join(work, 'os-started');
    const go = fifo(join(work, 'go'));
    const { e, log } = await setup({
      'os.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'touch ${marker}; read x < ${go}; exit 3'\n`,
    });
    const order: string[] = [];
    const first = answer(e.startUnit('os.service')).then((a) => (order.push('first'), a));
    await waitFor(() => existsSync(marker), 10_000, 'the main process');
    const second = answer(e.startUnit('os.service')).then((a) => (order.push('second'), a));
    // The second start is not answered before the job ends (it used to answer success at once).
    await new Promise<void>((resolve) => setImmediate(resolve));
    order.push('release');
    writeFileSync(go, 'go\n');
    const failed = 'JOB_FAILED: Job for os.service failed because the control process exited with error code.';
    expect([await first, await second]).toEqual([failed, failed]);
    expect(order[0]).toBe('release');
    expect(service(e, 'os.service')?.starts).toBe(1);
    expect(failedToStart(log)).toHaveLength(1);
  }, 30_000);

  it('a start of a unit its socket is starting waits for that job and gets its result', async () => {
    const work = tmp('start-job-');
    const marker = join(work, 'trig-started');
    const go = fifo(join(work, 'go'));
    const sockPath = join(work, 'trig.sock');
    const { e, log } = await setup({
      'trig.socket': `[Socket]\nListenStream=${sockPath}\n`,
      'trig.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'touch ${marker}; read x < ${go}; exit 3'\n`,
    });
    const conn = net.connect(sockPath);
    conn.on('error', () => undefined);
    await waitFor(() => existsSync(marker), 10_000, 'the triggered start');
    const start = answer(e.startUnit('trig.service'));
    writeFileSync(go, 'go\n');
    expect(await start).toBe(
      'JOB_FAILED: Job for trig.service failed because the control process exited with error code.',
    );
    expect(failedToStart(log)).toHaveLength(1);
    conn.destroy();
  }, 30_000);

  it('a start during a stop cancels the stop job and starts the unit once stopped (slowstop.service)', async () => {
    const work = tmp('start-job-');
    const stopping = join(work, 'stopping');
    const go = fifo(join(work, 'go'));
    const { e } = await setup({
      'slowstop.service': `[Service]\nExecStart=/bin/sleep 1000\nExecStop=/bin/sh -c 'if [ ! -e ${stopping} ]; then touch ${stopping}; read x < ${go}; fi'\n`,
    });
    await e.startUnit('slowstop.service');
    const pid = service(e, 'slowstop.service')?.pid;
    const stop = answer(e.stopUnit('slowstop.service'));
    await waitFor(() => existsSync(stopping), 10_000, 'ExecStop=');
    const start = answer(e.startUnit('slowstop.service'));
    // 257: the stop job is canceled at once; the stop goes on.
    expect(await stop).toBe('JOB_CANCELED: Job for slowstop.service canceled.');
    writeFileSync(go, 'go\n');
    expect(await start).toBe('done');
    const info = service(e, 'slowstop.service');
    expect(info?.state).toBe('active');
    expect(info?.starts).toBe(2);
    expect(info?.pid).not.toBe(pid);
  }, 30_000);

  it.each([
    ['WorkingDirectory=/nonexistent-start-job', 'Changing to the requested working directory failed'],
    ['EnvironmentFile=/nonexistent-start-job.env', 'Failed to load environment files'],
  ])(
    '%s: the cause is logged as an error before the job line',
    async (directive, cause) => {
      const { e, log } = await setup({ 'pre.service': `[Service]\n${directive}\nExecStart=/bin/true\n` });
      expect(await answer(e.startUnit('pre.service'))).toMatch(/^JOB_FAILED: /);
      const i = log.errors.findIndex((l) => l.startsWith(`pre.service: ${cause}`));
      expect(i).toBeGreaterThanOrEqual(0);
      expect(log.errors.findIndex((l) => l.includes('Failed to start pre.service'))).toBeGreaterThan(i);
    },
    30_000,
  );
});
