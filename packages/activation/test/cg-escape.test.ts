/**
 * A unit's cgroup directory name is 257's cg_escape() of the unit name (src/basic/cgroup-util.c;
 * the table of test-cgroup-util.c's TEST(escape), plus the controllers and unit names): `_` before a
 * name starting with `_` or `.`, a kernel file name (`cgroup.…`, `<controller>.…`, `tasks`,
 * `release_agent`, `notify_on_release`); one leading `_` removed gives the name back (cg_unescape()).
 * CgroupTree.unit() uses it: `.hid.service` runs in `_.hid.service` (it was refused before).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CgroupTree, cgEscape } from '../src/cgroup.js';

const ESCAPES: Array<[string, string]> = [
  // 257's test_escape_one() cases.
  ['foobar', 'foobar'],
  ['.foobar', '_.foobar'],
  ['foobar.service', 'foobar.service'],
  ['cgroup.service', '_cgroup.service'],
  ['tasks', '_tasks'],
  ['cpu.service', '_cpu.service'],
  ['_foobar', '__foobar'],
  ['', '_'],
  ['_', '__'],
  ['.', '_.'],
  // Each controller of cgroup_controller_table, and names that only look alike.
  ['cpuacct.service', '_cpuacct.service'],
  ['cpuset.service', '_cpuset.service'],
  ['io.service', '_io.service'],
  ['blkio.service', '_blkio.service'],
  ['memory.service', '_memory.service'],
  ['devices.service', '_devices.service'],
  ['pids.service', '_pids.service'],
  ['bpf-firewall.service', '_bpf-firewall.service'],
  ['bpf-devices.service', '_bpf-devices.service'],
  ['bpf-foreign.service', '_bpf-foreign.service'],
  ['bpf-socket-bind.service', '_bpf-socket-bind.service'],
  ['bpf-restrict-network-interfaces.service', '_bpf-restrict-network-interfaces.service'],
  ['hugetlb.service', 'hugetlb.service'],
  ['memoryx.service', 'memoryx.service'],
  ['cgroupx.service', 'cgroupx.service'],
  ['release_agent', '_release_agent'],
  ['notify_on_release', '_notify_on_release'],
  ['tasks.service', 'tasks.service'],
  ['.hid.service', '_.hid.service'],
  ['.t@0-127.0.0.1:1-127.0.0.1:2.service', '_.t@0-127.0.0.1:1-127.0.0.1:2.service'],
  ['cpu@0-127.0.0.1:1-127.0.0.1:2.service', 'cpu@0-127.0.0.1:1-127.0.0.1:2.service'],
  ['..', '_..'],
];

describe('cgEscape (257 cg_escape())', () => {
  it.each(ESCAPES)('%j → %j', (name, escaped) => {
    expect(cgEscape(name)).toBe(escaped);
    // cg_unescape(): one leading `_` off.
    expect(escaped.startsWith('_') ? escaped.slice(1) : escaped).toBe(name);
  });

  it('a name that stays no file name is refused (257: EINVAL)', () => {
    expect(cgEscape('a/b.service')).toBeUndefined();
    expect(cgEscape(`${'a'.repeat(247)}.service`)).toBe(`${'a'.repeat(247)}.service`);
    expect(cgEscape(`.${'a'.repeat(246)}.service`)).toBeUndefined();
  });
});

describe('CgroupTree.unit()', () => {
  const tree = new CgroupTree('/sys/fs/cgroup/x/mptcpd-lite-0123456789ab');

  it('.hid.service runs in _.hid.service, as 257', () => {
    expect(tree.unit('.hid.service').path).toBe(join(tree.base, '_.hid.service'));
    expect(tree.unit('memory.service').path).toBe(join(tree.base, '_memory.service'));
    expect(tree.unit('a.service').path).toBe(join(tree.base, 'a.service'));
  });

  it('refuses what 257 cannot escape', () => {
    expect(() => tree.unit('a/b.service')).toThrow('a/b.service: not a name for a cgroup');
  });
});
