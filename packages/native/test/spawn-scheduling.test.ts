/**
 * spawnProcess's process-attribute steps against real processes (systemd's CPUScheduling*=,
 * CPUAffinity=, IOScheduling*=, TimerSlackNSec=, CoredumpFilter=, Personality= and the
 * supplementary groups): the child reports its own /proc/self files, and a value the kernel refuses
 * fails the spawn with the step as `syscall` and no process left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { close, spawnProcessAsync, watchExit, type SpawnProcessOptions } from '../src/index.js';
import { onCI as IN_CI } from './helpers/capability.js';

const dir = mkdtempSync(join(tmpdir(), 'native-sched-'));
execFileSync('chmod', ['1777', dir]);
const isRoot = process.getuid?.() === 0;

/** Runs /bin/sh printing its own attributes (read for $$, the exec'd process) into a file. */
async function report(name: string, options: Partial<SpawnProcessOptions>): Promise<Record<string, string>> {
  const out = join(dir, name);
  const script = [
    `s=/proc/$$/status`,
    `echo "groups=$(sed -n 's/^Groups:[[:space:]]*//p' $s | sed 's/ *$//')"`,
    `echo "gid=$(sed -n 's/^Gid:[[:space:]]*\\([0-9]*\\).*/\\1/p' $s)"`,
    `echo "cpus=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' $s)"`,
    `echo "sched=$(chrt -p $$ | tr '\\n' ' ')"`,
    `echo "io=$(ionice -p $$)"`,
    `echo "nice=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f17)"`,
    `echo "coredump=$(cat /proc/$$/coredump_filter)"`,
    `echo "slack=$(cat /proc/$$/timerslack_ns)"`,
    `echo "personality=$(cat /proc/$$/personality)"`,
  ].join('; ');
  const p = await spawnProcessAsync({
    file: '/bin/sh',
    argv: ['sh', '-c', `{ ${script}; } > ${out}`],
    envp: ['PATH=/usr/bin:/bin'],
    fds: [-1, -1, -1],
    ...options,
  });
  const exit = await new Promise((resolve) => watchExit(p.pidfd, (e) => resolve(e)));
  close(p.pidfd);
  expect(exit).toEqual({ code: 0, signal: null });
  const got: Record<string, string> = {};
  for (const l of readFileSync(out, 'utf8').split('\n')) {
    const eq = l.indexOf('=');
    if (eq > 0) got[l.slice(0, eq)] = l.slice(eq + 1).trim();
  }
  return got;
}

describe('spawnProcess process attributes', () => {
  it.skipIf(!isRoot && !IN_CI)('applies each one in the child', async () => {
    const got = await report('all', {
      coredumpFilter: 0x40n,
      cpuScheduling: { policy: 3, priority: 0, resetOnFork: false }, // SCHED_BATCH
      nice: 7, // after sched_setattr(), which resets it
      cpuAffinity: [0],
      ioprio: (3 << 13) | 0, // idle
      timerSlackNsec: 123_000n,
      personality: 0,
    });
    expect(got).toMatchObject({
      cpus: '0',
      io: 'idle',
      nice: '7',
      coredump: '00000040',
      slack: '123000',
      personality: '00000000',
    });
    expect(got.sched).toMatch(/SCHED_BATCH/);
  });

  it.skipIf(!isRoot && !IN_CI)('coredumpFilter is for the program only: the daemon keeps its own', async () => {
    const own = readFileSync('/proc/self/coredump_filter', 'utf8');
    // The vfork child shares the daemon's mm until execve: its write must not stay in the daemon.
    expect((await report('cd1', { coredumpFilter: 0x1ffn })).coredump).toBe('000001ff');
    expect(readFileSync('/proc/self/coredump_filter', 'utf8')).toBe(own);
    expect((await report('cd2', {})).coredump).toBe(own.trim());
  });

  it.skipIf(!isRoot && !IN_CI)('real-time policy with reset-on-fork, realtime I/O class, PER_LINUX32', async () => {
    const got = await report('rt', {
      cpuScheduling: { policy: 2, priority: 9, resetOnFork: true },
      ioprio: (1 << 13) | 5,
      personality: 8,
    });
    expect(got.sched).toMatch(/SCHED_RR\|SCHED_RESET_ON_FORK.*priority: 9/);
    expect(got.io).toBe('realtime: prio 5');
    expect(got.personality).toBe('00000008');
  });

  it.skipIf(!isRoot && !IN_CI)('supplementary groups with or without a uid switch', async () => {
    expect((await report('g1', { uid: 65534, gid: 65534, groups: [65534, 4, 20] })).groups).toBe('4 20 65534');
    // Without uid/gid: setgroups() alone (a `+` command of a User= unit keeps that user's groups).
    const g2 = await report('g2', { groups: [4, 20] });
    expect(g2).toMatchObject({ groups: '4 20', gid: '0' });
  });

  it.each([
    ['cpuScheduling', { cpuScheduling: { policy: 7, priority: 0, resetOnFork: false } }, 'sched_setattr'],
    ['cpuAffinity', { cpuAffinity: [4095] }, 'sched_setaffinity'],
    ['an empty cpuAffinity', { cpuAffinity: [] }, 'sched_setaffinity'],
    ['ioprio', { ioprio: 7 << 13 }, 'ioprio_set'],
  ] as const)('a %s the kernel refuses fails the spawn (EINVAL)', async (_what, options, syscall) => {
    await expect(
      spawnProcessAsync({ file: '/bin/true', argv: ['true'], envp: [], fds: [-1, -1, -1], ...options }),
    ).rejects.toMatchObject({ code: 'EINVAL', syscall });
  });

  it('refuses malformed values before any process exists', async () => {
    const base = { file: '/bin/true', argv: ['true'], envp: [], fds: [-1, -1, -1] };
    await expect(spawnProcessAsync({ ...base, cpuAffinity: [-1] })).rejects.toThrow(TypeError);
    await expect(
      spawnProcessAsync({ ...base, cpuScheduling: { policy: 1, priority: 100, resetOnFork: false } }),
    ).rejects.toThrow(TypeError);
    await expect(spawnProcessAsync({ ...base, timerSlackNsec: -1n })).rejects.toThrow(TypeError);
  });
});
