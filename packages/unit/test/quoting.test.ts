/** extract_first_word() against cases of systemd's src/test/test-extract-word.c (whitespace separators). */
import { describe, expect, it } from 'vitest';
import { extractFirstWord, splitWords, type ExtractFlags } from '../src/quoting.js';

const U: ExtractFlags = { unquote: true };
const C: ExtractFlags = { cunescape: true };
const first = (s: string, f: ExtractFlags) => {
  const r = extractFirstWord(s, 0, f);
  return r.ok ? r.word : r.error;
};

describe('extract_first_word (upstream test-extract-word.c)', () => {
  it.each<[string, ExtractFlags, string | undefined]>([
    ['"foobar" \'waldo\'', {}, '"foobar"'],
    ['"foobar" \'waldo\'', U, 'foobar'],
    ['"', {}, '"'],
    ['"', U, 'EINVAL'],
    ["'", U, 'EINVAL'],
    ["'fooo", {}, "'fooo"],
    ["'fooo", U, 'EINVAL'],
    ["'fooo", { unquote: true, relax: true }, 'fooo'],
    ['"fooo', { unquote: true, relax: true }, 'fooo'],
    ["yay'foo'bar", {}, "yay'foo'bar"],
    ["yay'foo'bar", U, 'yayfoobar'],
    ['   foobar   ', {}, 'foobar'],
    [' foo\\ba\\x6ar ', C, 'foo\ba\x6ar'],
    [' foo\\ba\\x6ar ', {}, 'foobax6ar'],
    ['    f\\u00f6o "pi\\U0001F4A9le"   ', C, 'föo'],
    ['"pi\\U0001F4A9le"', { unquote: true, cunescape: true }, 'pi\u{1F4A9}le'],
    ['fooo\\', { relax: true }, 'fooo'],
    ['fooo\\', { unescapeRelax: true }, 'fooo\\'],
    ['fooo\\', { cunescape: true, unescapeRelax: true }, 'fooo\\'],
    ['"foo\\', {}, 'EINVAL'],
    ['"foo\\', { unquote: true, relax: true }, 'foo'],
    ['"foo\\', { unquote: true, unescapeRelax: true }, 'EINVAL'],
    ['"foo\\', { unquote: true, unescapeRelax: true, relax: true }, 'foo\\'],
    ['"foo\\', { unquote: true, cunescape: true, unescapeRelax: true, relax: true }, 'foo\\'],
    ['fooo\\ bar quux', { relax: true }, 'fooo bar'],
    ['fooo\\ bar quux', C, 'EINVAL'],
    ['fooo\\ bar quux', { cunescape: true, unescapeRelax: true }, 'fooo\\ bar'],
    ['\\w+@\\K[\\d.]+', C, 'EINVAL'],
    ['\\w+@\\K[\\d.]+', { cunescape: true, unescapeRelax: true }, '\\w+@\\K[\\d.]+'],
    ['\\w+\\b', { cunescape: true, unescapeRelax: true }, '\\w+\b'],
    ['foo\\xbar', {}, 'fooxbar'],
  ])('%j %j', (input, flags, want) => {
    expect(first(input, flags)).toBe(want);
  });

  it('splits words with quotes', () => {
    expect(splitWords('KEY=val "KEY2=val with space" "KEY3=val with \\"quotation\\""', U)).toEqual([
      'KEY=val',
      'KEY2=val with space',
      'KEY3=val with "quotation"',
    ]);
    expect(splitWords("-N ''", U)).toEqual(['-N', '']);
  });
});
