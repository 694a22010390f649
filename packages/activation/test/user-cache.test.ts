/**
 * User=/Group= are resolved from the user database as it was at the last (re)load: a start per
 * Accept=yes connection reads no file, and clearUserCache() (called by the daemon on every load and
 * reload) makes the next start see the files' new contents.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { clearUserCache, resolveGroup, resolveUser, useUserDatabase } from '../src/user.js';

const dir = mkdtempSync(join(tmpdir(), 'act-users-'));
const passwd = join(dir, 'passwd');
const group = join(dir, 'group');

beforeEach(() => {
  writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nalice:x:1234:1235::/home/alice:/bin/sh\n');
  writeFileSync(group, 'root:x:0:\nstaff:x:50:\n');
  useUserDatabase({ passwd, group });
});
afterAll(() => {
  useUserDatabase({ passwd: '/etc/passwd', group: '/etc/group' });
  rmSync(dir, { recursive: true, force: true });
});

describe('user database cache', () => {
  it('reads the files once: a change shows only after clearUserCache()', () => {
    expect(resolveUser('alice', 'a@1.service')).toMatchObject({ uid: 1234, gid: 1235, home: '/home/alice' });
    expect(resolveGroup('staff')).toBe(50);
    writeFileSync(passwd, 'alice:x:5678:5679::/srv/alice:/bin/sh\n');
    writeFileSync(group, 'staff:x:60:\n');
    expect(resolveUser('alice', 'a@2.service').uid).toBe(1234);
    expect(resolveGroup('staff')).toBe(50);
    clearUserCache();
    expect(resolveUser('alice', 'a@3.service')).toMatchObject({ uid: 5678, gid: 5679, home: '/srv/alice' });
    expect(resolveGroup('staff')).toBe(60);
  });

  it('a user missing at load stays missing until the next load; the error names the unit that asked', () => {
    expect(() => resolveUser('bob', 'b@1.service')).toThrow(/user "bob" not found/);
    writeFileSync(passwd, 'bob:x:2000:2000::/:/bin/sh\n');
    let err: unknown;
    try {
      resolveUser('bob', 'b@2.service');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'USER_NOT_FOUND', unit: 'b@2.service' });
    expect(() => resolveGroup('wheel', 'b@2.service')).toThrow(/group "wheel" not found/);
    clearUserCache();
    expect(resolveUser('bob').uid).toBe(2000);
  });

  it('callers get a copy: changing one result does not change the next', () => {
    const u = resolveUser('alice');
    u.home = '/elsewhere';
    expect(resolveUser('alice').home).toBe('/home/alice');
  });

  it('invalid numeric ids are still refused every time', () => {
    expect(() => resolveUser('65535', 'x.service')).toThrow(/user id 65535 is not valid/);
    expect(() => resolveUser('65535', 'y.service')).toThrow(/user id 65535 is not valid/);
  });
});
