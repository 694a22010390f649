/**
 * The fast line splitter (texts without CR, NUL, invalid UTF-8, inner byte order marks, shorter than
 * LONG_LINE_MAX) must deliver exactly what the general per-character splitter delivers: the same
 * assignments with the same line numbers, the same warnings, the same fatal error. Random texts are
 * run through both, as strings and as bytes; texts the fast path refuses must take the general one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastText, parseGeneral, parseSyntax, type SyntaxOptions } from '../src/syntax.js';

interface Trace {
  events: string[];
  result: unknown;
}

function run(parse: typeof parseSyntax, input: string | Uint8Array, sections: boolean): Trace {
  const events: string[] = [];
  const options: SyntaxOptions = {
    onAssignment: (a) => {
      events.push(`A ${a.line} [${a.section}] ${JSON.stringify(a.key)}=${JSON.stringify(a.value)}`);
      // A key named STOP ends the file, as a fatal setting does.
      return a.key === 'STOP' ? { line: a.line, errno: 'ENOEXEC', message: 'stop' } : undefined;
    },
    onWarning: (w) => events.push(`W ${w.line} ${w.message}`),
  };
  if (sections)
    options.classifySection = (n) => (n === 'S' || n === 'Socket' ? 'known' : n === '-x' ? 'silent' : 'unknown');
  return { events, result: parse(input, options) };
}

/** Pieces that exercise every branch of the line layer. */
const piece = fc.constantFrom(
  'K=v',
  ' Key = value ',
  'STOP=1',
  '=x',
  'novalue',
  '[S]',
  '[Socket]',
  '[Other]',
  '[X-Mine]',
  '[-x]',
  '[bad',
  '[a"b]',
  '#c',
  ' ;c',
  '\\',
  '\\\\',
  'a\\',
  '\t',
  ' ',
  'é=ü',
  '€',
  '\n',
  '\n',
  '\n',
);
const fastTexts = fc.array(piece, { maxLength: 30 }).map((p) => p.join(''));
/** Anything the fast path must refuse, somewhere in the text. */
const refused = fc.constantFrom('\r', '\r\n', '\0', '\uFEFF', '\uD800', '\uDC00x');

describe('fast line splitter = general splitter', () => {
  it('strings and bytes the fast path takes: same events, same result', () => {
    fc.assert(
      fc.property(fastTexts, fc.boolean(), fc.boolean(), (text, bom, sections) => {
        const t = (bom ? '\uFEFF' : '') + text;
        expect(fastText(t)).toBe(t);
        const bytes = Buffer.from(t, 'utf8');
        expect(fastText(bytes)).toBe(t);
        const general = run(parseGeneral, t, sections);
        expect(run(parseSyntax, t, sections)).toEqual(general);
        expect(run(parseSyntax, bytes, sections)).toEqual(run(parseGeneral, bytes, sections));
        expect(run(parseGeneral, bytes, sections)).toEqual(general);
      }),
      { numRuns: 3000 },
    );
  });

  it('texts with CR, NUL, an inner BOM or a lone surrogate take the general path', () => {
    fc.assert(
      fc.property(fastTexts, refused, fastTexts, (a, bad, b) => {
        const t = `K${a}${bad}${b}`; // not at offset 0, where one BOM is allowed
        expect(fastText(t)).toBeUndefined();
        expect(run(parseSyntax, t, true)).toEqual(run(parseGeneral, t, true));
      }),
      { numRuns: 500 },
    );
  });

  it('invalid UTF-8 bytes take the general path (and are reported as not UTF-8 clean)', () => {
    const bytes = Buffer.concat([Buffer.from('[S]\nK=a'), Buffer.from([0xff, 0xfe]), Buffer.from('\nL=\uFFFD\n')]);
    expect(fastText(bytes)).toBeUndefined();
    const t = run(parseSyntax, bytes, true);
    expect(t.events).toEqual([]);
    expect(t.result).toEqual({
      fatal: { line: 2, errno: 'EINVAL', message: 'String is not UTF-8 clean, ignoring assignment: K=a\uFFFD\uFFFD' },
      lines: 2,
    });
    // valid UTF-8 holding U+FFFD itself stays on the fast path
    const ok = Buffer.from('[S]\nK=\uFFFD\n');
    expect(fastText(ok)).toBe('[S]\nK=\uFFFD\n');
  });

  it('a file of LONG_LINE_MAX bytes or more takes the general path (line-length limits)', () => {
    const long = `[S]\nK=${'x'.repeat(1024 * 1024)}\n`;
    expect(fastText(long)).toBeUndefined();
    expect(run(parseSyntax, long, true)).toEqual(run(parseGeneral, long, true));
  });
});

describe('long continuations', () => {
  // 200,000 continued lines (600 KB, under LONG_LINE_MAX, as systemd 257 accepts them): both
  // splitters join them into one value at its last line. Joining piece by piece copied everything
  // read so far at each line (quadratic: 100,000 lines took minutes and held the daemon).
  const count = 200_000;
  const text = '[S]\nK=' + 'a\\\n'.repeat(count) + 'b\n';
  const expected = [`A ${count + 2} [S] "K"=${JSON.stringify('a '.repeat(count) + 'b')}`];

  it('fast splitter', () => {
    expect(fastText(text)).toBe(text);
    expect(run(parseSyntax, text, true).events).toEqual(expected);
  });
  it('general splitter, string and bytes', () => {
    expect(run(parseGeneral, text, true).events).toEqual(expected);
    expect(run(parseGeneral, Buffer.from(text), true).events).toEqual(expected);
  });
});
