/**
 * Which process a service may make its main PID, as systemd 257 decides (service.c
 * service_is_suitable_main_pid(), service_load_pid_file(), service_notify_message()): the daemon
 * itself is refused, a process outside the service's session (our cgroup) only from a trusted
 * source — MAINPID= from a root sender, a PIDFile= owned by the daemon's uid reached without an
 * unsafe symlink. Otherwise a service could have the daemon signal any process on stop. A PIDFile=
 * that is a FIFO or /dev/zero never holds the daemon. Refusals in 257's words (recorded with the
 * oracle by an adversarial pass: "does not belong to service, refusing.", "is the manager,
 * refusing.", "PID file is owned by 65534 (must be owned by 0). Refusing.", "Failed to create
 * reference to PID  from file …: Invalid argument").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { processAlive } from '../src/process-group.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { type RecordingLogger, testLogger } from './helpers/log.js';
import { HELPERS, tmp, unitDir } from './helpers/run.js';

let engine: ActivationEngine | undefined;
const victims: ChildProcess[] = [];
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
  for (const v of victims.splice(0)) v.kill('SIGKILL');
});

/** A process of the test's own (another session than any service): what a service must not get killed. */
function victim(): number {
  const v = spawn('sleep', ['infinity'], { stdio: 'ignore' });
  victims.push(v);
  return v.pid as number;
}

const NOBODY = 65534;

async function startWith(files: Record<string, string>): Promise<{ e: ActivationEngine; log: RecordingLogger }> {
  const log = testLogger();
  const e = new ActivationEngine({ logger: log });
  engine = e;
  await e.start(await loadUnits(unitDir(files)));
  return { e, log };
}

const warned = (log: RecordingLogger, unit: string): string[] =>
  [...log.warnings, ...log.errors].filter((w) => w.startsWith(`${unit}: `)).map((w) => w.slice(unit.length + 2));

describe('MAINPID=', () => {
  it('from an unprivileged sender, a process outside the service is refused; the stop leaves it alive', async (ctx) => {
    need(ctx, root);
    const pid = victim();
    // The sender runs as nobody: its script must be readable by nobody wherever the checkout is
    // (a CI clone under a 0700 mktemp directory is not).
    const open = tmp('notify-');
    chmodSync(open, 0o755);
    const script = join(open, 'notify-barrier.py');
    copyFileSync(join(HELPERS, 'notify-barrier.py'), script);
    chmodSync(script, 0o644);
    const notify = `python3 ${script}`;
    // The service runs as root; the message comes from a process of it that dropped to nobody.
    const { e, log } = await startWith({
      'v.service': `[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/sh -c 'setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups ${notify} "MAINPID=${pid}\\\\nREADY=1"; exec sleep infinity'\n`,
    });
    await e.startUnit('v.service');
    expect(warned(log, 'v.service')).toContain(`New main PID ${pid} does not belong to service, refusing.`);
    expect(e.unitInfo('v.service')?.service?.pid).not.toBe(pid);
    await e.stopUnit('v.service');
    expect(processAlive(pid)).toBe(true);
  });

  it('naming the daemon itself is refused ("is the manager"), from root too', async () => {
    const notify = `python3 ${join(HELPERS, 'notify-barrier.py')}`;
    const { e, log } = await startWith({
      'm.service': `[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/sh -c '${notify} "MAINPID=${process.pid}\\\\nREADY=1"; exec sleep infinity'\n`,
    });
    await e.startUnit('m.service');
    expect(warned(log, 'm.service')).toContain(`New main PID ${process.pid} is the manager, refusing.`);
    expect(e.unitInfo('m.service')?.service?.pid).not.toBe(process.pid);
  });
});

describe('PIDFile=', () => {
  const forking = (pidFile: string, write: string): string =>
    `[Service]\nType=forking\nPIDFile=${pidFile}\nTimeoutStopSec=5\nExecStart=/bin/sh -c '${write}; sleep infinity & exit 0'\n`;

  it('a process outside the service from a file not owned by the daemon s uid is refused; the start fails', async (ctx) => {
    need(ctx, root);
    const pid = victim();
    const dir = tmp('pidfile-');
    const file = join(dir, 'f.pid');
    const { e, log } = await startWith({
      'f.service': forking(file, `echo ${pid} > ${file}; chown ${NOBODY} ${file}`),
    });
    await expect(e.startUnit('f.service')).rejects.toThrow(
      'Job for f.service failed because the service did not take the steps required by its unit configuration.',
    );
    expect(warned(log, 'f.service')).toContain(
      `New main PID ${pid} from PID file does not belong to service, and PID file is owned by ${NOBODY} (must be owned by 0). Refusing.`,
    );
    expect(processAlive(pid)).toBe(true);
  });

  it('the same PID from a root-owned file reached through a link in an unprivileged directory is refused', async (ctx) => {
    need(ctx, root);
    const pid = victim();
    const dir = tmp('pidfile-');
    const real = join(dir, 'real.pid');
    writeFileSync(real, `${pid}\n`);
    const open = join(dir, 'nobody');
    mkdirSync(open);
    chownSync(open, NOBODY, NOBODY);
    const link = join(open, 'f.pid');
    symlinkSync(real, link);
    const { e, log } = await startWith({ 'g.service': forking(link, 'true') });
    await expect(e.startUnit('g.service')).rejects.toThrow('Job for g.service failed');
    expect(warned(log, 'g.service')).toContain(
      `Refusing to accept PID outside of service control group, acquired through unsafe symlink chain: ${link}`,
    );
    expect(processAlive(pid)).toBe(true);
  });

  it('the daemon s own PID is refused ("is the manager")', async () => {
    const dir = tmp('pidfile-');
    const file = join(dir, 's.pid');
    const { e, log } = await startWith({ 's.service': forking(file, `echo ${process.pid} > ${file}`) });
    await expect(e.startUnit('s.service')).rejects.toThrow('Job for s.service failed');
    expect(warned(log, 's.service')).toContain(`New main PID ${process.pid} is the manager, refusing.`);
  });

  it('a FIFO or /dev/zero as the PID file does not hold the daemon: no PID in it', async () => {
    const dir = tmp('pidfile-');
    const fifo = join(dir, 'fifo.pid');
    const zero = join(dir, 'zero.pid');
    const { e, log } = await startWith({
      'fifo.service': forking(fifo, `mkfifo ${fifo}`),
      'zero.service': forking(zero, `ln -s /dev/zero ${zero}`),
    });
    await expect(e.startUnit('fifo.service')).rejects.toThrow('Job for fifo.service failed');
    await expect(e.startUnit('zero.service')).rejects.toThrow('Job for zero.service failed');
    expect(warned(log, 'fifo.service')).toContain(
      `Failed to create reference to PID  from file '${fifo}': Invalid argument`,
    );
    expect(warned(log, 'zero.service')).toContain(
      `Failed to create reference to PID  from file '${zero}': Invalid argument`,
    );
  });
});
