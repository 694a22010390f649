/** Specifiers and unit names against systemd's src/test/test-unit-name.c (unit_printf, escaping, validity). */
import { describe, expect, it } from 'vitest';
import { expandSpecifiers, TEST_HOST_FACTS } from '../src/specifiers.js';
import { escapeUnitName, parseUnitName, templateOf, unescapeUnitPath } from '../src/unit-name.js';

const exp = (name: string, pattern: string) => {
  const r = expandSpecifiers(pattern, { name, file: '/tmp/test-unit_printf.XXXXXX', host: TEST_HOST_FACTS });
  return r.ok ? r.value : r.error;
};

describe('unit_printf (upstream)', () => {
  it.each([
    ['blah.service', '%%', '%'],
    ['blah.service', '%%s', '%s'],
    ['blah.service', '%,', '%,'],
    ['blah.service', '%', '%'],
    ['blah.service', '%i', ''],
    ['blah.service', '%I', ''],
    ['blah.service', '%j', 'blah'],
    ['blah.service', '%J', 'blah'],
    ['blah.service', '%n', 'blah.service'],
    ['blah.service', '%N', 'blah'],
    ['blah.service', '%p', 'blah'],
    ['blah.service', '%P', 'blah'],
    ['blah.service', '%f', '/blah'],
    ['blah.service', '%Y', '/tmp'],
    ['blah.service', '%d', '/run/credentials/blah.service'],
    ['blah@foo-foo.service', '%i', 'foo-foo'],
    ['blah@foo-foo.service', '%I', 'foo/foo'],
    ['blah@foo-foo.service', '%j', 'blah'],
    ['blah@foo-foo.service', '%n', 'blah@foo-foo.service'],
    ['blah@foo-foo.service', '%N', 'blah@foo-foo'],
    ['blah@foo-foo.service', '%p', 'blah'],
    ['blah@foo-foo.service', '%f', '/foo/foo'],
    ['blah-blah\\x2d.slice', '%i', ''],
    ['blah-blah\\x2d.slice', '%j', 'blah\\x2d'],
    ['blah-blah\\x2d.slice', '%J', 'blah-'],
    ['blah-blah\\x2d.slice', '%N', 'blah-blah\\x2d'],
    ['blah-blah\\x2d.slice', '%p', 'blah-blah\\x2d'],
    ['blah-blah\\x2d.slice', '%P', 'blah/blah-'],
    ['blah-blah\\x2d.slice', '%f', '/blah/blah-'],
  ])('%s %s', (name, pattern, want) => {
    expect(exp(name, pattern)).toBe(want);
  });
});

describe('unit names (upstream)', () => {
  it.each([
    ['foo.service', true],
    ['foo@bar.service', true],
    ['foo@bar@bar.service', true],
    ['foo@.service', true],
    ['.test.service', true],
    ['.test@.service', true],
    ['_strange::::.service', true],
    ['.service', false],
    ['', false],
    ['foo.waldo', false],
    ['@.service', false],
    ['@piep.service', false],
    ['foo@%i.service', false],
    ['foo.target.wants/plain.service', false],
  ])('%j valid: %s', (name, valid) => {
    expect(parseUnitName(name) !== undefined).toBe(valid);
  });
  it('escapes, unescapes and finds templates', () => {
    expect(escapeUnitName('ab+-c.a/bc@foo.service')).toBe('ab\\x2b\\x2dc.a-bc\\x40foo.service');
    expect(unescapeUnitPath('foo-bar-baz')).toBe('/foo/bar/baz');
    expect(unescapeUnitPath('foo-.bar')).toBe('/foo/.bar');
    expect(unescapeUnitPath('-')).toBe('/');
    expect(templateOf('foo@bar.service')).toBe('foo@.service');
    expect(templateOf('foo.mount')).toBeUndefined();
  });
});
