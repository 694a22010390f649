/**
 * cgroup.ts's pure parts: where our cgroup v2 is (mountinfo + /proc/self/cgroup), and `--cgroup off`.
 * The tracking itself is exercised end to end by apps/mptcpd-lite/test/cgroup-tracking.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { detectCgroups, ownCgroupDir, treeName } from '../src/cgroup.js';

const HYBRID = [
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const UNIFIED = '35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate';

describe('ownCgroupDir', () => {
  it('finds the cgroup2 mount of a hybrid layout and our path on it', () => {
    expect(ownCgroupDir(HYBRID, '4:memory:/x\n0::/\n')).toEqual({ dir: '/sys/fs/cgroup/unified/' });
    expect(ownCgroupDir(UNIFIED, '0::/system.slice/a.service\n')).toEqual({
      dir: '/sys/fs/cgroup/system.slice/a.service',
    });
  });

  it('a mount of a sub-tree (a container without cgroup namespace) is used for paths under it', () => {
    const mi = '35 24 0:30 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw';
    expect(ownCgroupDir(mi, '0::/docker/abc/sub\n')).toEqual({ dir: '/sys/fs/cgroup/sub' });
    expect(ownCgroupDir(mi, '0::/other\n')).toEqual({ reason: 'our cgroup /other is not under a cgroup2 mount' });
  });

  it('says why not: cgroup v1 only, no cgroup2 mount', () => {
    expect(ownCgroupDir(HYBRID, '4:memory:/x\n1:name=systemd:/\n')).toEqual({
      reason: 'no cgroup v2 hierarchy (cgroup v1 only)',
    });
    expect(ownCgroupDir('30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw', '0::/\n')).toEqual({
      reason: 'no cgroup2 file system mounted',
    });
  });
});

describe('detectCgroups', () => {
  it('off: process groups, and why', () => {
    expect(detectCgroups('off', '/run/x.sock')).toEqual({ reason: 'disabled (--cgroup off)' });
  });

  it('auto without a cgroup2 mount: process groups, and why (nothing created)', () => {
    expect(detectCgroups('auto', '/run/x.sock', { mountinfo: '', cgroup: '0::/\n' })).toEqual({
      reason: 'no cgroup2 file system mounted',
    });
  });

  it('names the tree after the control socket', () => {
    expect(treeName('/run/a.sock')).toMatch(/^mptcpd-lite-[0-9a-f]{12}$/);
    expect(treeName('/run/a.sock')).not.toBe(treeName('/run/b.sock'));
  });
});
