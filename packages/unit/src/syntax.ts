/**
 * The line layer of systemd's conf-parser.c (config_parse / parse_line, v256): physical lines, BOM,
 * comments, continuation lines, section headers and `key=value` splitting. It knows nothing about
 * what the keys mean; the caller decides per assignment, and may stop the parse with a fatal error.
 */
import { isUtf8 } from 'node:buffer';
import type { Errno } from './errno.js';

/** LONG_LINE_MAX: longest physical line and longest joined continuation line (1 MiB). */
export const LONG_LINE_MAX = 1024 * 1024;

/** One `key=value` line delivered to the setting parsers (key and value stripped). */
export interface Assignment {
  section: string;
  key: string;
  value: string;
  /** Physical line number reported in diagnostics (last line of a continuation). */
  line: number;
}

/** A message of the line layer itself. */
export interface SyntaxMessage {
  line: number;
  message: string;
}

export interface SyntaxFatal extends SyntaxMessage {
  errno: Errno;
}

/** How a section name is treated: parsed, ignored silently (`-Name` in systemd's lists, `X-…`), or unknown. */
export type SectionClass = 'known' | 'silent' | 'unknown';

export interface SyntaxOptions {
  /** Classifies a section header; undefined = every section is known (no section list, as in the man page example). */
  classifySection?: (name: string) => SectionClass;
  /**
   * Called for every assignment inside a known section. Return a fatal error to stop parsing the
   * rest of the file (systemd's -ENOEXEC from fatal-flagged settings).
   */
  onAssignment: (a: Assignment) => SyntaxFatal | undefined | void;
  /** Called for each warning of the line layer. */
  onWarning: (w: SyntaxMessage) => void;
}

export interface SyntaxResult {
  /** Set when the whole file failed (systemd: unit not loaded). */
  fatal?: SyntaxFatal;
  /** Number of physical lines read. */
  lines: number;
}

/** WHITESPACE of systemd: space, tab, newline, carriage return. */
function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}
const EOL_NEWLINE = 1;
const EOL_CR = 2;
const EOL_ZERO = 4;

function eolKind(c: number): number {
  return c === 0x0a ? EOL_NEWLINE : c === 0x0d ? EOL_CR : c === 0 ? EOL_ZERO : 0;
}

/** Physical lines as [start, end) offsets, split like systemd's read_line_full(). */
function* physicalLines(codeAt: (i: number) => number, length: number): Generator<[number, number]> {
  let i = 0;
  while (i < length) {
    const start = i;
    while (i < length && eolKind(codeAt(i)) === 0) i++;
    const end = i;
    // A run of terminators counts once per kind ("\r\n", "\n\r", "\r\0"); a NUL always ends the run.
    let seen = 0;
    while (i < length) {
      const k = eolKind(codeAt(i));
      if (k === 0 || (seen & k) !== 0 || (seen & EOL_ZERO) !== 0) break;
      seen |= k;
      i++;
    }
    yield [start, end];
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function stripWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** string_is_safe(): no control characters, no quotes, no backslash. */
function isSafeSectionName(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c || c === 0x22 || c === 0x27) return false;
  }
  return true;
}

/** Replace what is not valid UTF-8 by U+FFFD, like utf8_escape_invalid(). */
function escapeInvalidUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
}

/** The section state and the handler of one logical line (stripped, UTF-8 clean). */
interface LineState {
  section: string | undefined;
  sectionIgnored: boolean;
}

/**
 * parse_line() on `text[p, e)`: a section header or an assignment (stripped of blanks, not empty,
 * UTF-8 clean). Indices rather than a sliced line: only the key and the value become strings.
 */
function parseCleanLine(
  text: string,
  p: number,
  e: number,
  at: number,
  st: LineState,
  options: SyntaxOptions,
): SyntaxFatal | undefined {
  if (text.charCodeAt(p) === 0x5b /* [ */) {
    if (text.charCodeAt(e - 1) !== 0x5d)
      return { line: at, errno: 'EBADMSG', message: `Invalid section header '${text.slice(p, e)}'` };
    const n = text.slice(p + 1, e - 1);
    if (!isSafeSectionName(n))
      return { line: at, errno: 'EBADMSG', message: `Bad characters in section header '${text.slice(p, e)}'` };
    const cls: SectionClass = options.classifySection ? options.classifySection(n) : 'known';
    if (cls === 'known') {
      st.section = n;
      st.sectionIgnored = false;
    } else {
      if (cls === 'unknown' && !n.startsWith('X-'))
        options.onWarning({ line: at, message: `Unknown section '${n}'. Ignoring.` });
      st.section = undefined;
      st.sectionIgnored = true;
    }
    return undefined;
  }
  if (options.classifySection && st.section === undefined) {
    if (!st.sectionIgnored) options.onWarning({ line: at, message: 'Assignment outside of section. Ignoring.' });
    return undefined;
  }
  const eq = text.indexOf('=', p);
  if (eq < 0 || eq >= e) {
    options.onWarning({ line: at, message: "Missing '=', ignoring line." });
    return undefined;
  }
  if (eq === p) {
    options.onWarning({ line: at, message: "Missing key name before '=', ignoring line." });
    return undefined;
  }
  let k = eq;
  while (k > p && isWs(text.charCodeAt(k - 1))) k--;
  let v = eq + 1;
  while (v < e && isWs(text.charCodeAt(v))) v++;
  const r = options.onAssignment({
    section: st.section ?? '',
    key: text.slice(p, k),
    value: text.slice(v, e),
    line: at,
  });
  return r ?? undefined;
}

/** parseCleanLine() on a whole string, stripped here (the general path and continuation lines). */
function parseLineString(raw: string, at: number, st: LineState, options: SyntaxOptions): SyntaxFatal | undefined {
  const l = stripWs(raw);
  return l === '' ? undefined : parseCleanLine(l, 0, l.length, at, st, options);
}

/**
 * The text of a file the fast line splitter can take as is, else undefined: shorter than
 * LONG_LINE_MAX (no line or continuation can be too long, counted in bytes or characters), UTF-8
 * clean (bytes) or well-formed (a string), and no terminator other than "\n" (no CR, no NUL) and no
 * byte order mark other than at the very start. Anything else takes the general splitter, which
 * handles each of these exactly like read_line_full()/config_parse(); on the texts the fast one
 * accepts both give the same lines (tested against each other).
 */
export function fastText(input: string | Uint8Array): string | undefined {
  if (input.length >= LONG_LINE_MAX) return undefined;
  if (typeof input === 'string') {
    if (LONE_SURROGATE.test(input)) return undefined;
    return fastChars(input) ? input : undefined;
  }
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.length);
  return fastBytes(buf, buf.length);
}

/** No terminator but "\n", no byte order mark after the start (string scans: native, one call each). */
function fastChars(text: string): boolean {
  return text.indexOf('\r') < 0 && text.indexOf('\0') < 0 && text.indexOf('\uFEFF', 1) < 0;
}

/** fastText() of `buf[0, n)`: its text, or undefined for the general splitter. */
function fastBytes(buf: Buffer, n: number): string | undefined {
  if (n >= LONG_LINE_MAX) return undefined;
  const text = buf.toString('utf8', 0, n);
  // Invalid UTF-8 decodes to U+FFFD (which valid UTF-8 may also hold: only then ask isUtf8()).
  if (text.indexOf('\uFFFD') >= 0 && !isUtf8(buf.subarray(0, n))) return undefined;
  return fastChars(text) ? text : undefined;
}

/**
 * What a file read into `buf[0, n)` is handed to parseSyntax() as: its text when the fast splitter
 * takes it (parseSyntax() then gives exactly what it gives for the bytes), else a copy of the bytes
 * (the general splitter needs them). `buf` may be reused once this returns.
 */
export function unitFileInput(buf: Buffer, n: number): string | Buffer {
  return fastBytes(buf, n) ?? Buffer.from(buf.subarray(0, n));
}

/** The line layer over a text fastText() accepted: one indexOf per line, no per-character callback. */
function parseFast(text: string, options: SyntaxOptions): SyntaxResult {
  const st: LineState = { section: undefined, sectionIgnored: false };
  const length = text.length;
  let line = 0;
  let continuation: string[] | undefined;
  let pos = 0;
  while (pos < length) {
    const start = pos;
    let end = text.indexOf('\n', pos);
    if (end < 0) end = length;
    pos = end + 1;
    line++;
    // Comment check on the raw line, before the byte order mark is stripped (as the general path).
    let p = start;
    let c = 0;
    while (p < end && ((c = text.charCodeAt(p)) === 0x20 || c === 0x09)) p++;
    if (p < end && (c === 0x23 || c === 0x3b)) continue;
    // The only BOM fastText() lets through is at offset 0.
    const s = start === 0 && length > 0 && text.charCodeAt(0) === 0xfeff ? 1 : start;
    if (continuation === undefined && text.charCodeAt(end - 1) !== 0x5c) {
      // The common line: no continuation before or after it, parsed in place.
      if (s !== start) {
        p = s;
        while (p < end && isWs(text.charCodeAt(p))) p++;
      }
      let e = end;
      while (e > p && isWs(text.charCodeAt(e - 1))) e--;
      if (p === e) continue;
      const fatal = parseCleanLine(text, p, e, line, st, options);
      if (fatal) return { fatal, lines: line };
      continue;
    }
    // The pieces of a continued line are joined once, at its end: joining them line by line copied
    // the whole text so far at every line (100,000 continued lines took minutes). A continuation
    // ends in the space that replaced its backslash, so a trailing run of backslashes lies within
    // this physical line.
    const piece = text.slice(s, end);
    let n = 0;
    for (let i = piece.length - 1; i >= 0 && piece.charCodeAt(i) === 0x5c; i--) n++;
    if (n % 2 === 1) {
      (continuation ??= []).push(piece.slice(0, -1), ' ');
      continue;
    }
    const joined = continuation === undefined ? piece : continuation.join('') + piece;
    continuation = undefined;
    const fatal = parseLineString(joined, line, st, options);
    if (fatal) return { fatal, lines: line };
  }
  if (continuation !== undefined) {
    const fatal = parseLineString(continuation.join(''), line + 1, st, options);
    if (fatal) return { fatal, lines: line };
  }
  return { lines: line };
}

/**
 * Runs the line layer over a unit/config file. `input` may be a Buffer (needed to see invalid
 * UTF-8 and NUL terminators as systemd does) or a string.
 */
export function parseSyntax(input: string | Uint8Array, options: SyntaxOptions): SyntaxResult {
  const fast = fastText(input);
  if (fast !== undefined) return parseFast(fast, options);
  return parseGeneral(input, options);
}

/** The general line layer: every terminator, invalid UTF-8, NUL, BOMs anywhere, over-long lines. */
export function parseGeneral(input: string | Uint8Array, options: SyntaxOptions): SyntaxResult {
  const isBytes = typeof input !== 'string';
  const text = isBytes ? '' : input;
  const length = input.length;
  const codeAt = isBytes ? (i: number) => (input as Uint8Array)[i] as number : (i: number) => text.charCodeAt(i);
  const decoder = new TextDecoder('utf-8', { fatal: false });

  let line = 0;
  let continuation: string[] | undefined;
  let contLength = 0;
  let continuationInvalid = false;
  let refuseBom = false;
  const st: LineState = { section: undefined, sectionIgnored: false };

  const parseLogical = (
    raw: string,
    invalidUtf8: boolean,
    rawBytes: Uint8Array | undefined,
    at: number,
  ): SyntaxFatal | undefined => {
    const l = stripWs(raw);
    if (l === '') return undefined;
    if (invalidUtf8 || LONE_SURROGATE.test(l)) {
      const shown = rawBytes
        ? stripWs(escapeInvalidUtf8(rawBytes))
        : l.replace(new RegExp(LONE_SURROGATE, 'g'), '\uFFFD');
      return { line: at, errno: 'EINVAL', message: `String is not UTF-8 clean, ignoring assignment: ${shown}` };
    }
    return parseCleanLine(l, 0, l.length, at, st, options);
  };

  let contBytes: Uint8Array[] | undefined;
  for (const [start, end] of physicalLines(codeAt, length)) {
    if (end - start >= LONG_LINE_MAX) {
      return { fatal: { line: line + 1, errno: 'ENOBUFS', message: 'Line too long' }, lines: line + 1 };
    }
    line++;
    // Comment check happens on the raw line, before the BOM is stripped.
    let p = start;
    while (p < end && isWs(codeAt(p))) p++;
    if (p < end && (codeAt(p) === 0x23 || codeAt(p) === 0x3b)) continue;

    let s = start;
    if (!refuseBom) {
      if (
        isBytes
          ? end - s >= 3 && codeAt(s) === 0xef && codeAt(s + 1) === 0xbb && codeAt(s + 2) === 0xbf
          : codeAt(s) === 0xfeff
      ) {
        s += isBytes ? 3 : 1;
        refuseBom = true;
      }
    }
    let l: string;
    let invalid = false;
    let bytes: Uint8Array | undefined;
    if (isBytes) {
      bytes = (input as Uint8Array).subarray(s, end);
      invalid = !isUtf8(bytes);
      l = decoder.decode(bytes);
    } else {
      l = text.slice(s, end);
    }

    if (continuation !== undefined) {
      if (contLength + l.length > LONG_LINE_MAX) {
        return { fatal: { line, errno: 'ENOBUFS', message: 'Continuation line too long' }, lines: line };
      }
      continuationInvalid ||= invalid;
      if (bytes && contBytes) contBytes.push(bytes);
    } else {
      continuationInvalid = invalid;
      contBytes = bytes ? [bytes] : undefined;
    }
    // An odd run of trailing backslashes continues the line; the last backslash becomes a space.
    // The run lies within this physical line (a continuation ends in that space); the pieces are
    // joined once, at the end of the logical line (joining line by line was quadratic).
    let n = 0;
    for (let i = l.length - 1; i >= 0 && l.charCodeAt(i) === 0x5c; i--) n++;
    if (n % 2 === 1) {
      (continuation ??= []).push(l.slice(0, -1), ' ');
      contLength += l.length;
      continue;
    }
    const joined = continuation === undefined ? l : continuation.join('') + l;
    const all = contBytes && continuationInvalid ? Buffer.concat(contBytes) : undefined;
    continuation = undefined;
    contLength = 0;
    const fatal = parseLogical(joined, continuationInvalid, all, line);
    if (fatal) return { fatal, lines: line };
  }
  if (continuation !== undefined) {
    const all = contBytes && continuationInvalid ? Buffer.concat(contBytes) : undefined;
    const fatal = parseLogical(continuation.join(''), continuationInvalid, all, line + 1);
    if (fatal) return { fatal, lines: line };
  }
  return { lines: line };
}
