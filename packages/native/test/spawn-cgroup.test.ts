/**
 * spawnProcess's `cgroupFd`: the child joins the cgroup v2 of the `cgroup.procs` fd before anything
 * else, so what it forks stays there even after setsid() (the daemon's KillMode=control-group).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { close, spawnCgroupSupported, spawnProcess, watchExit } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';

/** A cgroup2 directory we may create children in (our own cgroup's), or why not. */
function cgroupHome(): { dir: string } | { reason: string } {
  const own = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  if (own === undefined) return { reason: 'no cgroup v2 hierarchy' };
  const mount = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.includes(' - cgroup2 '));
  if (mount === undefined) return { reason: 'no cgroup2 mount' };
  const [, , , root = '/', point = ''] = mount.split(' ');
  const path = own.slice(3);
  if (root !== '/' && !path.startsWith(root)) return { reason: 'our cgroup is outside the cgroup2 mount' };
  return { dir: point + path.slice(root === '/' ? 0 : root.length) };
}

describe('spawnProcess cgroupFd', () => {
  it('the child and what it forks after setsid() are in the cgroup', async () => {
    const home = cgroupHome();
    if (missing(probes.root, () => ('reason' in home ? home.reason : undefined))) return;
    expect(spawnCgroupSupported()).toBe(true);
    const cg = join((home as { dir: string }).dir, `native-spawn-test-${process.pid}`);
    mkdirSync(cg);
    const fd = openSync(join(cg, 'cgroup.procs'), 'w');
    try {
      const p = spawnProcess({
        file: '/bin/sh',
        argv: ['sh', '-c', 'setsid sleep 1000 & cat /proc/self/cgroup > /dev/null; exit 0'],
        envp: ['PATH=/usr/bin:/bin'],
        fds: [-1, -1, -1],
        cgroupFd: fd,
      });
      const exit = await new Promise((resolve) => watchExit(p.pidfd, (e) => resolve(e)));
      close(p.pidfd);
      expect(exit).toEqual({ code: 0, signal: null });
      // The setsid'd sleep outlived its parent, in the cgroup.
      const left = readFileSync(join(cg, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean).map(Number);
      expect(left).toHaveLength(1);
      expect(readFileSync(`/proc/${left[0]}/cgroup`, 'utf8')).toContain(`/native-spawn-test-${process.pid}\n`);
      writeFileSync(join(cg, 'cgroup.kill'), '1');
    } finally {
      closeSync(fd);
    }
    // cgroup.kill is asynchronous: the cgroup can be removed once cgroup.events says it is empty
    // (the kernel notifies the change: inotify).
    const events = join(cg, 'cgroup.events');
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (!readFileSync(events, 'utf8').includes('populated 0')) return;
        w.close();
        resolve();
      };
      const w = watch(events, check);
      check();
    });
    rmdirSync(cg);
  });

  it('a cgroupFd that is no cgroup.procs fails the spawn at the `cgroup` step', () => {
    const fd = openSync('/dev/null', 'r');
    try {
      expect(() =>
        spawnProcess({ file: '/bin/true', argv: ['true'], envp: [], fds: [-1, -1, -1], cgroupFd: fd }),
      ).toThrow(expect.objectContaining({ syscall: 'cgroup', code: 'EBADF' }));
    } finally {
      closeSync(fd);
    }
  });
});
