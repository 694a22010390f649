/**
 * User=/Group= are resolved from the user database as it is when a service starts, as systemd's
 * exec child does (get_fixed_user() at every spawn): the files are read and split once and kept
 * while they are unchanged (a stat per lookup tells), so an Accept=yes connection reads no file,
 * and a user added or changed (useradd/usermod rename a new /etc/passwd in) is seen by the next
 * start without a reload. clearUserCache() forgets everything by hand.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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
  it('a change to the files (written in place or renamed in, as useradd does) shows at the next lookup', () => {
    expect(resolveUser('alice', 'a@1.service')).toMatchObject({ uid: 1234, gid: 1235, home: '/home/alice' });
    expect(resolveGroup('staff')).toBe(50);
    writeFileSync(passwd, 'alice:x:5678:5679::/srv/alice:/bin/sh\n');
    writeFileSync(`${group}.new`, 'staff:x:60:\n');
    renameSync(`${group}.new`, group);
    expect(resolveUser('alice', 'a@2.service')).toMatchObject({ uid: 5678, gid: 5679, home: '/srv/alice' });
    expect(resolveGroup('staff')).toBe(60);
  });

  it('a user missing at one start is found at the next once it was added, without a reload', () => {
    expect(() => resolveUser('bob', 'b@1.service')).toThrow(/Failed to determine user credentials: No such process/);
    let err: unknown;
    try {
      resolveUser('bob', 'b@2.service');
    } catch (e) {
      err = e;
    }
    // The remembered failure names the unit that asked this time.
    expect(err).toMatchObject({ code: 'USER_NOT_FOUND', unit: 'b@2.service' });
    expect(() => resolveGroup('wheel', 'b@2.service')).toThrow(
      /Failed to determine group credentials: No such process/,
    );
    writeFileSync(`${passwd}.new`, 'bob:x:2000:2000::/:/bin/sh\n');
    renameSync(`${passwd}.new`, passwd);
    writeFileSync(group, 'wheel:x:10:\n');
    expect(resolveUser('bob', 'b@3.service').uid).toBe(2000);
    expect(resolveGroup('wheel', 'b@3.service')).toBe(10);
  });

  it('clearUserCache() forgets everything', () => {
    expect(resolveUser('alice').uid).toBe(1234);
    clearUserCache();
    expect(resolveUser('alice').uid).toBe(1234);
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
