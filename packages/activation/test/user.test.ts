import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commandGroups,
  credentialChange,
  groupList,
  isValidId,
  parseId,
  resolveGroup,
  resolveUser,
  supplementaryGroups,
  useUserDatabase,
} from '../src/user.js';

// A user database of our own: the ids below need entries (257 runs no id it cannot look up).
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'userdb-'));
  const ids = [2147483648, 3000000000, 4294967294];
  writeFileSync(
    join(dir, 'passwd'),
    [
      'root:x:0:0:root:/root:/bin/bash',
      'alice:x:1000:1000::/home/alice:/bin/bash',
      ...ids.map((id) => `u${id}:x:${id}:${id}::/:/bin/sh`),
    ].join('\n') + '\n',
  );
  writeFileSync(
    join(dir, 'group'),
    [
      'root:x:0:',
      'alice:x:1000:',
      'wheel:x:10:bob,alice',
      'audio:x:29:alice',
      'dup:x:10:alice',
      'bad:x:notanumber:alice',
      ...ids.map((id) => `g${id}:x:${id}:`),
    ].join('\n') + '\n',
  );
  useUserDatabase({ passwd: join(dir, 'passwd'), group: join(dir, 'group') });
});
afterAll(() => useUserDatabase({ passwd: '/etc/passwd', group: '/etc/group' }));

describe('User=/Group= ids are uint32 (systemd uid_is_valid)', () => {
  it.each([
    ['0', 0],
    ['65534', 65534],
    ['2147483648', 2147483648],
    ['3000000000', 3000000000],
    ['4294967294', 4294967294],
  ])('accepts %s', (text, id) => {
    expect(parseId(text, 'user')).toBe(id);
    expect(resolveUser(text).uid).toBe(id);
    expect(resolveGroup(text)).toBe(id);
  });

  it('a numeric id without an entry fails as 257 (217/USER, 216/GROUP), root and nobody are synthesized', () => {
    expect(() => resolveUser('4399', 'x.service')).toThrow('Failed to determine user credentials: No such process');
    expect(() => resolveUser('4399')).toThrow(expect.objectContaining({ code: 'USER_NOT_FOUND', exitStatus: 217 }));
    expect(() => resolveGroup('4398')).toThrow(expect.objectContaining({ code: 'GROUP_NOT_FOUND', exitStatus: 216 }));
    expect(() => resolveGroup('4398')).toThrow('Failed to determine group credentials: No such process');
    expect(() => resolveUser('nosuchuser')).toThrow(expect.objectContaining({ exitStatus: 217 }));
    expect(resolveUser('1000').name).toBe('alice');
    expect(resolveUser('nobody')).toMatchObject({ uid: 65534, gid: 65534 });
    expect(resolveGroup('nogroup')).toBe(65534);
  });

  it.each(['65535', '4294967295', '4294967296', '99999999999999999999'])(
    'refuses %s instead of treating it as "no change"',
    (text) => {
      expect(() => resolveUser(text, 'x.service')).toThrow(/user id .* is not valid/);
      expect(() => resolveGroup(text, 'x.service')).toThrow(/group id .* is not valid/);
    },
  );

  it('names are not ids', () => {
    expect(parseId('nobody', 'user')).toBeUndefined();
    expect(isValidId(-1)).toBe(false);
  });
});

describe('credentialChange', () => {
  it('root always applies the change, also to its own ids', () => {
    expect(credentialChange(0, 0, { uid: 0, gid: 0 })).toEqual({ uid: 0, gid: 0 });
    expect(credentialChange(2147483648, 3000000000, { uid: 0, gid: 0 })).toEqual({ uid: 2147483648, gid: 3000000000 });
  });
  it('an unprivileged daemon asked for its own ids changes nothing (no setgroups EPERM)', () => {
    expect(credentialChange(1000, 1000, { uid: 1000, gid: 1000 })).toEqual({});
    expect(credentialChange(1000, undefined, { uid: 1000, gid: 1000 })).toEqual({});
  });
  it('an unprivileged daemon asked for another id passes it on (the start then fails, never runs as itself)', () => {
    expect(credentialChange(65534, 65534, { uid: 1000, gid: 1000 })).toEqual({ uid: 65534, gid: 65534 });
    expect(credentialChange(1000, 0, { uid: 1000, gid: 1000 })).toEqual({ uid: 1000, gid: 0 });
  });
  it('refuses invalid ids', () => {
    expect(() => credentialChange(4294967295, undefined, { uid: 0, gid: 0 })).toThrow(/not a valid/);
  });
});

describe('supplementary groups (get_supplementary_groups())', () => {
  it('getgrouplist(): the gid first, then the groups naming the user, each once', () => {
    expect(groupList('alice', 1000)).toEqual([1000, 10, 29]);
    expect(groupList('bob', 10)).toEqual([10]);
  });
  it('initgroups only with a User= whose gid is not 0; SupplementaryGroups= appended', () => {
    expect(supplementaryGroups('alice', 1000, [])).toEqual({ initgroups: [1000, 10, 29] });
    expect(supplementaryGroups('alice', 0, [])).toEqual({});
    expect(supplementaryGroups(undefined, undefined, ['wheel', '29', 'root', '65534'])).toEqual({
      enforced: [10, 29, 0, 65534],
    });
    expect(supplementaryGroups('alice', 1000, ['g3000000000'])).toEqual({
      initgroups: [1000, 10, 29],
      enforced: [1000, 10, 29, 3000000000],
    });
  });
  it('a group that does not resolve is 216/GROUP', () => {
    for (const g of ['4397', 'nosuchgroup', '65535'])
      expect(() => supplementaryGroups('alice', 1000, ['wheel', g], 'x.service')).toThrow(
        expect.objectContaining({
          exitStatus: 216,
          message: 'Failed to determine supplementary groups: No such process',
        }),
      );
  });
  it('+ and ! keep initgroups, the others get the enforced list', () => {
    const sg = supplementaryGroups('alice', 1000, ['wheel', 'g3000000000', '3000000000']);
    const change = credentialChange(1000, 1000, { uid: 0, gid: 0 }, sg);
    // Each gid once (merge_gid_lists()).
    expect(commandGroups(change, true)).toEqual([1000, 10, 29, 3000000000]);
    expect(commandGroups(change, false)).toEqual([1000, 10, 29]);
    expect(commandGroups(credentialChange(undefined, undefined, { uid: 0, gid: 0 }, {}), true)).toBeUndefined();
  });
});
