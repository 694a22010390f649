/**
 * A FastInstance's cgroup (accept-fast.ts) is the one the accept thread made, `<tree>/<instance name>`
 * (CgroupTree.unit()), worked out when something asks for it (status's Tasks:, a stop, the drain of a
 * cgroup left populated) and not for every connection: most instances exit without anyone asking.
 */
import { join } from 'node:path';
import type { ServiceUnit } from '@mptcp/unit';
import { describe, expect, it } from 'vitest';
import { type AcceptSpawnApi, FastInstance } from '../src/accept-fast.js';
import { CgroupTree } from '../src/cgroup.js';

const api: AcceptSpawnApi = {
  start() {},
  add: () => 1,
  remove: () => ({ events: [], pending: [], nextIndex: 0 }),
  release() {},
  kill: () => true,
};
const unit = { name: 'echo@.service', type: 'simple' } as unknown as ServiceUnit;

describe('FastInstance cgroup', () => {
  it('is the tree’s cgroup of the instance’s name, made on first use and then kept', () => {
    const tree = new CgroupTree('/sys/fs/cgroup/x/mptcpd-lite-test');
    const asked: string[] = [];
    const unitOf = tree.unit.bind(tree);
    tree.unit = (name: string) => {
      asked.push(name);
      return unitOf(name);
    };
    const name = 'echo@3-127.0.0.1:80-127.0.0.1:4242.service';
    const inst = new FastInstance(name, 1234, unit, 'id', api, () => {}, tree);
    expect(asked).toEqual([]);
    const cg = inst.cgroup;
    expect(cg?.path).toBe(join(tree.base, name));
    expect(inst.cgroup).toBe(cg);
    expect(asked).toEqual([name]);
  });

  it('is undefined without cgroup tracking', () => {
    const inst = new FastInstance('echo@0-a-b.service', 1234, unit, 'id', api, () => {});
    expect(inst.cgroup).toBeUndefined();
  });
});
