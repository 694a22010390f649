/**
 * The pid journal that lets a daemon started after a SIGKILL of the previous one find and kill its
 * orphans: real process groups (setsid'd `sleep`), a registry that is dropped without closing (as a
 * SIGKILL leaves it), and a second registry on the same directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BootClock,
  COMPACT_MIN,
  ChildRegistry,
  bootId,
  journalCgroups,
  replayJournal,
  startTimeOf,
} from '../src/daemon/children.js';

const quiet = { warning: () => undefined, notice: () => undefined };
let dir: string;
const started: ChildProcess[] = [];

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'mdl-children-')), 'control.sock.pids');
});
afterEach(() => {
  for (const r of registries.splice(0)) r.close();
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(join(dir, '..'), { recursive: true, force: true });
});

/** A session and group leader, as the daemon starts every service. */
async function service(): Promise<ChildProcess> {
  const c = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  started.push(c);
  await new Promise((resolve, reject) => c.once('spawn', resolve).once('error', reject));
  return c;
}

function exited(c: ChildProcess): Promise<NodeJS.Signals | null> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(c.signalCode);
  return new Promise((resolve) => c.once('exit', (_code, signal) => resolve(signal)));
}

const registries: ChildRegistry[] = [];
function registry(): ChildRegistry {
  const r = new ChildRegistry(dir, quiet);
  registries.push(r);
  expect(r.open()).toBe(true);
  return r;
}

describe('replayJournal', () => {
  const boot = 'b0';
  it('keeps what was added and not removed', () => {
    const text = `mptcpd-lite pids v2 boot b0\n+10 500\n+11 501\n-10\n=12 77\n+13 9\n`;
    expect(replayJournal(text, boot)).toEqual(
      new Map([
        [11, { startedBy: 501 }],
        [12, { start: '77' }],
        [13, { startedBy: 9 }],
      ]),
    );
  });
  it('ignores a journal of another boot, one without header and malformed lines', () => {
    expect(replayJournal('mptcpd-lite pids v2 boot other\n+10 500\n', boot).size).toBe(0);
    expect(replayJournal('+10 500\n', boot).size).toBe(0);
    expect(replayJournal('mptcpd-lite pids v2 boot b0\n+10\n+x 1\n-\n+11 5 6\n', boot).size).toBe(0);
  });
});

describe('journalCgroups', () => {
  it('the cgroup trees a journal of this boot records (a cgroup line is not a pid record)', () => {
    const text =
      'mptcpd-lite pids v2 boot b0\n@cgroup /sys/fs/cgroup/mptcpd-lite-0123456789ab\n+10 5\n' +
      '@cgroup /sys/fs/cgroup/system.slice\n@cgroup /sys/fs/cgroup/mptcpd-lite-0123456789ab\n';
    expect(journalCgroups(text, 'b0')).toEqual(['/sys/fs/cgroup/mptcpd-lite-0123456789ab']);
    expect(journalCgroups(text, 'other')).toEqual([]);
    expect(replayJournal(text, 'b0')).toEqual(new Map([[10, { startedBy: 5 }]]));
  });
});

describe('BootClock', () => {
  it('is never behind the start time of a process that already exists', async () => {
    const clock = new BootClock();
    expect(clock.check()).toBe(true);
    for (let i = 0; i < 20; i++) {
      const c = await service();
      const ticks = clock.ticks();
      expect(Number(startTimeOf(c.pid as number))).toBeLessThanOrEqual(ticks);
      c.kill('SIGKILL');
      await exited(c);
    }
  });
});

describe('ChildRegistry', () => {
  it('a new daemon kills the process groups the previous one recorded and left running', async () => {
    const first = registry();
    await first.reapOrphans();
    const a = await service();
    const b = await service();
    first.add(a.pid as number);
    first.add(b.pid as number);
    // SIGKILL of the daemon: nothing more is written.
    const second = registry();
    const killed = await second.reapOrphans();
    expect(killed.sort()).toEqual([a.pid, b.pid].sort());
    expect(await exited(a)).toBe('SIGKILL');
    expect(await exited(b)).toBe('SIGKILL');
    // The new journal starts empty: a third daemon finds nothing.
    expect(await registry().reapOrphans()).toEqual([]);
  });

  it('a process whose exit was recorded is left alone', async () => {
    const first = registry();
    await first.reapOrphans();
    const c = await service();
    first.add(c.pid as number);
    first.remove(c.pid as number);
    first.flush();
    expect(await registry().reapOrphans()).toEqual([]);
    expect(c.exitCode === null && c.signalCode === null).toBe(true);
  });

  it('a pid now held by a process that started after the record is left alone', async () => {
    const c = await service();
    const start = Number(startTimeOf(c.pid as number));
    const r = registry();
    // A record written before this process existed (its pid was someone else's then).
    writeFileSync(r.journal, `mptcpd-lite pids v2 boot ${bootId()}\n+${c.pid} ${start - 1}\n`, { mode: 0o600 });
    expect(await r.reapOrphans()).toEqual([]);
    expect(c.exitCode === null && c.signalCode === null).toBe(true);
  });

  it('exits are written with the next start (one write), or by flush()/close()', async () => {
    const r = registry();
    await r.reapOrphans();
    const a = await service();
    const b = await service();
    r.add(a.pid as number);
    r.remove(a.pid as number);
    // Not written yet: the next start carries it.
    expect(readFileSync(r.journal, 'latin1')).not.toContain(`-${a.pid}`);
    r.add(b.pid as number);
    expect(readFileSync(r.journal, 'latin1')).toContain(`-${a.pid}\n+${b.pid} `);
    r.remove(b.pid as number);
    r.close();
    expect(readFileSync(r.journal, 'latin1')).toMatch(new RegExp(`-${b.pid}\n$`));
  });

  it('compacts the journal and keeps the live records through it', async () => {
    const r = registry();
    await r.reapOrphans();
    const live = await service();
    r.add(live.pid as number);
    // Records of processes that came and went (pids no process has now: past pid_max).
    for (let i = 0; i < COMPACT_MIN; i++) {
      r.add(5_000_000 + i);
      r.remove(5_000_000 + i);
    }
    r.flush();
    const lines = readFileSync(r.journal, 'latin1').trim().split('\n');
    expect(lines.length).toBeLessThan(COMPACT_MIN);
    expect(lines[0]).toBe(`mptcpd-lite pids v2 boot ${bootId()}`);
    expect(await registry().reapOrphans()).toEqual([live.pid]);
    expect(await exited(live)).toBe('SIGKILL');
  });

  it('keeps appending to the journal of a registry it did not replace (no reapOrphans)', async () => {
    const first = registry();
    await first.reapOrphans();
    const a = await service();
    first.add(a.pid as number);
    const b = await service();
    const other = registry();
    other.add(b.pid as number);
    const killed = await registry().reapOrphans();
    expect(killed.sort()).toEqual([a.pid, b.pid].sort());
  });

  it('honours the per-pid files of earlier versions (exact start time) and removes them', async () => {
    const c = await service();
    const old = await service();
    const r = registry();
    writeFileSync(join(dir, String(c.pid)), `${startTimeOf(c.pid as number)}\n`, { mode: 0o600 });
    writeFileSync(join(dir, String(old.pid)), '1\n', { mode: 0o600 });
    expect(await r.reapOrphans()).toEqual([c.pid]);
    expect(await exited(c)).toBe('SIGKILL');
    expect(old.exitCode === null && old.signalCode === null).toBe(true);
    expect(await registry().reapOrphans()).toEqual([]);
  });

  it('refuses a directory that others can write to', () => {
    const warnings: string[] = [];
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o777);
    const r = new ChildRegistry(dir, { warning: (m) => warnings.push(m), notice: () => undefined });
    expect(r.open()).toBe(false);
    expect(warnings.join('\n')).toMatch(/not a 0700 directory/);
  });
});
