/**
 * `dev --ignore` globs match each name as glibc's fnmatch(3) (C locale, no flags) through
 * @mptcp/activation's fnmatch(): a bracket ends at its `]`, not at the first `]` (`[]]`, `[!]]`,
 * `[[:digit:]]`), an unterminated `[` is a literal, an unknown class matches nothing. The single-name
 * answers are glibc 2.41's (trixie, checked with ctypes in the C locale).
 */
import { describe, expect, it } from 'vitest';
import { globMatcher, ignoreMatcher } from '../src/dev/glob.js';

describe('dev --ignore: brackets as fnmatch(3)', () => {
  it.each([
    ['[]]', ']', true],
    ['[]]', 'a', false],
    ['[!]]', 'a', true],
    ['[!]]', ']', false],
    ['[]a].js', 'a.js', true],
    ['[]a].js', '].js', true],
    ['[[:digit:]]*.log', '5x.log', true],
    ['[[:digit:]]*.log', 'x5.log', false],
    ['[a-]', '-', true],
    ['[ab', '[ab', true],
    ['[ab', 'a', false],
    ['x[!.]y', 'x.y', false],
    ['[[:foo:]]', 'f', false],
    ['a**b', 'axxb', true],
    ['\\*.tmp', '*.tmp', true],
    ['\\*.tmp', 'a.tmp', false],
    ['*', '.hidden', true],
    ['?', 'é', false],
  ])('%s ~ %s: %s', (glob, name, matches) => {
    expect(globMatcher(glob)(name)).toBe(matches);
  });

  it('a bracket with ] first or a class in a path glob, and ** around it', () => {
    const ignored = ignoreMatcher(['out/[[:digit:]]*', '**/[]_]tmp', 'cache[!]]']);
    expect(ignored('out/2024/a.js')).toBe(true);
    expect(ignored('out/x2024/a.js')).toBe(false);
    expect(ignored('src/deep/]tmp/x')).toBe(true);
    expect(ignored('src/deep/_tmp')).toBe(true);
    expect(ignored('src/deep/xtmp')).toBe(false);
    expect(ignored('a/cache1/b')).toBe(true);
    expect(ignored('a/cache]/b')).toBe(false);
  });

  it('an unterminated { is a literal (it was an invalid RegExp: the watcher threw)', () => {
    expect(globMatcher('{a,b')('{a,b')).toBe(true);
    expect(globMatcher('{a,b}.js')('b.js')).toBe(true);
  });

  it('** is one part only: a**b stays within one name, a/**/b crosses names', () => {
    expect(globMatcher('a**b')('a/x/b')).toBe(false);
    expect(globMatcher('a/**/b')('a/b')).toBe(true);
    expect(globMatcher('a/**/b')('a/x/y/b')).toBe(true);
    expect(globMatcher('a/**')('a')).toBe(false);
    expect(globMatcher('a/**')('a/x/y')).toBe(true);
  });
});
