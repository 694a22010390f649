import { describe, expect, it } from 'vitest';
import { credentialChange, isValidId, parseId, resolveGroup, resolveUser } from '../src/user.js';

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
