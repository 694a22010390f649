/**
 * Service processes tracked by cgroup v2 (`--cgroup auto`, @mptcp/activation cgroup.ts), as systemd
 * 257 tracks units: a service whose child double-forks and calls setsid() (leaving the process group
 * the daemon used to track it by) keeps the socket's fd and sleeps. A stop kills it and is done only
 * once it is gone, so the port is free; KillMode=process leaves it (as 257); a daemon started after a
 * SIGKILL of the previous one kills it before opening its sockets; `--cgroup off` keeps the process
 * groups (where the escapee survives a stop: the gap the cgroups close).
 */
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CgroupTree, ownCgroupDir, reapCgroups } from '@mptcp/activation';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { need, type Ctx } from './helpers/capability.js';
import { runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { freePort, tempDir, writeUnits } from './helpers/units.js';

let dir: string;
const daemons: Running[] = [];
const strays: number[] = [];
beforeEach(() => {
  dir = tempDir('mdl-cgroup-');
});
afterEach(async () => {
  const trees = new Set<string>();
  for (const d of daemons.splice(0)) {
    const base = /tracked by cgroup \((.*)\)\./.exec(d.stderr())?.[1];
    if (base !== undefined) trees.add(base);
    await stopProcess(d, 'SIGTERM');
  }
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  // A tree a daemon could not remove (KillMode=process left a unit cgroup, a SIGKILLed daemon).
  for (const base of trees) {
    if (!existsSync(base)) continue;
    await reapCgroups(new CgroupTree(base).leftovers());
    for (const leaf of readdirSync(base, { withFileTypes: true }).filter((e) => e.isDirectory())) {
      try {
        rmdirSync(path.join(base, leaf.name));
      } catch {
        // Not empty (another daemon on it).
      }
    }
    try {
      rmdirSync(base);
    } catch {
      // Not empty.
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Why cgroup tracking cannot work here (not root, no writable cgroup2 with cgroup.kill), or undefined. */
function cgroupUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const own = ownCgroupDir(readFileSync('/proc/self/mountinfo', 'utf8'), readFileSync('/proc/self/cgroup', 'utf8'));
  if ('reason' in own) return own.reason;
  const [major = 0, minor = 0] = os.release().split('.').map(Number);
  if (major < 5 || (major === 5 && minor < 14)) return `kernel ${os.release()} has no cgroup.kill (5.14+)`;
  return undefined;
}

/** A live process (not a zombie: one reparented to a slow reaper stays one for a while). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Units: `esc.socket` (Accept=no) on `port` and `esc.service`, whose main process forks a child that
 * calls setsid() (leaving the service's process group and session), keeps fd 3 (the listening
 * socket), writes its PID to `escapee` (renamed into place) and sleeps; the main process sleeps too.
 * With `accept`, an Accept=yes socket and `esc@.service` instead (the child keeps the connection).
 */
function escapeUnits(port: number, opts: { accept?: boolean; killMode?: string } = {}): string {
  const pidFile = path.join(dir, 'escapee');
  const exec =
    `ExecStart=/bin/sh -c 'setsid sh -c "echo \\\\$\\\\$ > ${pidFile}.new; mv ${pidFile}.new ${pidFile}; ` +
    `exec sleep 1000" & exec sleep 1000'\n`;
  const service = `[Service]\n${exec}${opts.killMode ? `KillMode=${opts.killMode}\n` : ''}`;
  return writeUnits(path.join(dir, 'units'), {
    'esc.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n${opts.accept ? 'Accept=yes\n' : ''}`,
    [opts.accept ? 'esc@.service' : 'esc.service']: service,
  });
}

/** Waits (one daemon round trip per check) until the escapee has written its PID. */
async function escapeePid(control: string): Promise<number> {
  const file = path.join(dir, 'escapee');
  for (let i = 0; !existsSync(file); i++) {
    if (i > 2000) throw new Error('the escapee did not start');
    await runCli(['status', '--json', '--control', control]);
  }
  const pid = Number(readFileSync(file, 'utf8').trim());
  strays.push(pid);
  return pid;
}

/** Whether `port` can be listened on now (no process keeps the socket). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function startDaemon(units: string, control: string, extra: string[] = []): Promise<Running> {
  const d = startCli(['run', '--units', units, '--control', control, ...extra]);
  daemons.push(d);
  await d.waitFor(/^\{"event":"ready"/, 20000);
  return d;
}

function needCgroups(ctx: Ctx): void {
  need(ctx, cgroupUnavailable());
}

describe('cgroup tracking (--cgroup auto)', () => {
  it('says so at start and in status; a stop kills the setsid() escapee before it is done, the port is free', async (ctx) => {
    needCgroups(ctx);
    const port = await freePort();
    const control = path.join(dir, 'control.sock');
    const d = await startDaemon(escapeUnits(port), control);
    expect(d.stderr()).toMatch(/INFO +Service processes are tracked by cgroup \(\/.*\/mptcpd-lite-[0-9a-f]{12}\)\./);
    const status = await runCli(['status', '--control', control]);
    expect(status.stdout).toMatch(/^service processes tracked by cgroup \(/m);

    expect((await runCli(['start', 'esc.service', '--control', control])).code).toBe(0);
    const escapee = await escapeePid(control);
    const cg = readFileSync(`/proc/${escapee}/cgroup`, 'utf8');
    expect(cg).toMatch(/^0::\/.*mptcpd-lite-[0-9a-f]{12}\/esc\.service$/m);
    // Tasks: the cgroup's processes, the escapee among them.
    const unitStatus = JSON.parse(
      (await runCli(['status', 'esc.service', '--json', '--control', control])).stdout,
    ) as Array<{
      tasks: number;
    }>;
    expect(unitStatus[0]?.tasks).toBe(2);

    // The stop is done once the cgroup is empty: nothing to wait for afterwards.
    expect((await runCli(['stop', 'esc.service', '--control', control])).code).toBe(0);
    expect(running(escapee)).toBe(false);
    // The unit's cgroup is gone with its processes.
    const base = /tracked by cgroup \((.*)\)\./.exec(d.stderr())?.[1] as string;
    expect(readdirSync(base).filter((n) => n.endsWith('.service'))).toEqual([]);

    // The escapee held the listening socket: once the daemon is gone too, the port is free.
    expect((await stopProcess(d, 'SIGTERM')).code).toBe(0);
    expect(await portFree(port)).toBe(true);
    // The daemon went back to its cgroup and removed its tree.
    expect(existsSync(base)).toBe(false);
  }, 60_000);

  it('an Accept=yes instance (sock@N-….service) in a cgroup of its own: stopping the daemon kills its escapee', async (ctx) => {
    needCgroups(ctx);
    const port = await freePort();
    const control = path.join(dir, 'control.sock');
    const d = await startDaemon(escapeUnits(port, { accept: true }), control);
    const conn = net.connect(port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => conn.on('close', () => resolve()));
    conn.on('error', () => undefined);
    const escapee = await escapeePid(control);
    expect(readFileSync(`/proc/${escapee}/cgroup`, 'utf8')).toMatch(
      /^0::\/.*mptcpd-lite-[0-9a-f]{12}\/esc@0-127\.0\.0\.1:\d+-127\.0\.0\.1:\d+\.service$/m,
    );
    expect((await stopProcess(d, 'SIGTERM')).code).toBe(0);
    expect(running(escapee)).toBe(false);
    // The escapee's copy of the connection went with it: the peer sees the end.
    await closed;
    expect(await portFree(port)).toBe(true);
  }, 60_000);

  it('KillMode=process leaves the escapee running after the stop, as 257 (logged: remains running after unit stopped)', async (ctx) => {
    needCgroups(ctx);
    const port = await freePort();
    const control = path.join(dir, 'control.sock');
    const d = await startDaemon(escapeUnits(port, { killMode: 'process' }), control);
    expect((await runCli(['start', 'esc.service', '--control', control])).code).toBe(0);
    const escapee = await escapeePid(control);
    expect((await runCli(['stop', 'esc.service', '--control', control])).code).toBe(0);
    expect(running(escapee)).toBe(true);
    await d.waitFor(
      new RegExp(`esc\\.service: Unit process ${escapee} \\(sleep\\) remains running after unit stopped\\.`),
    );
  }, 60_000);

  it('a daemon started after a SIGKILL of the previous one kills the escapee before it listens', async (ctx) => {
    needCgroups(ctx);
    const port = await freePort();
    const control = path.join(dir, 'control.sock');
    const units = escapeUnits(port);
    const first = await startDaemon(units, control);
    expect((await runCli(['start', 'esc.service', '--control', control])).code).toBe(0);
    const escapee = await escapeePid(control);
    expect(readFileSync(`${control}.pids/journal`, 'latin1')).toMatch(/^@cgroup \/.*mptcpd-lite-[0-9a-f]{12}$/m);
    await stopProcess(first, 'SIGKILL');
    expect(running(escapee)).toBe(true);

    const second = await startDaemon(units, control);
    // Ready means the leftovers were killed and waited for before the sockets were opened.
    expect(running(escapee)).toBe(false);
    expect(second.stderr()).toMatch(
      /Killed the processes of 1 service cgroup\(s\) left running by a previous daemon: esc\.service\./,
    );
  }, 60_000);
});

describe('--cgroup off', () => {
  it('keeps the process groups (said at start and in status): the main process is stopped, a setsid() escapee is not followed', async () => {
    const port = await freePort();
    const control = path.join(dir, 'control.sock');
    const d = await startDaemon(escapeUnits(port), control, ['--cgroup', 'off']);
    expect(d.stderr()).toMatch(/INFO +Service processes are tracked by process group \(disabled \(--cgroup off\)\)\./);
    expect((await runCli(['status', '--control', control])).stdout).toMatch(
      /^service processes tracked by process group \(disabled \(--cgroup off\)\)$/m,
    );
    expect((await runCli(['start', 'esc.service', '--control', control])).code).toBe(0);
    const escapee = await escapeePid(control);
    const main = JSON.parse((await runCli(['status', 'esc.service', '--json', '--control', control])).stdout) as Array<{
      mainPid: number;
    }>;
    const mainPid = main[0]?.mainPid as number;
    // The escapee stays in the daemon's cgroup (no unit cgroup).
    expect(readFileSync(`/proc/${escapee}/cgroup`, 'utf8')).not.toMatch(/esc\.service/);
    expect((await runCli(['stop', 'esc.service', '--control', control])).code).toBe(0);
    expect(running(mainPid)).toBe(false);
    expect(running(escapee)).toBe(true);
  }, 60_000);
});
