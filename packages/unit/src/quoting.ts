/**
 * extract_first_word() and cunescape_one() (src/basic/extract-word.c, escape.c): the word splitter
 * behind Exec*=, Environment= and the list settings.
 */

export interface ExtractFlags {
  unquote?: boolean;
  cunescape?: boolean;
  /** Keep `\` + char verbatim for unknown escapes (EXTRACT_UNESCAPE_RELAX). */
  unescapeRelax?: boolean;
  /** Tolerate unbalanced quotes / trailing backslash (EXTRACT_RELAX). */
  relax?: boolean;
  /** A backslash is an ordinary character (EXTRACT_RETAIN_ESCAPE). */
  retainEscape?: boolean;
}

export type ExtractResult = { ok: true; word: string | undefined; rest: number } | { ok: false; error: 'EINVAL' };

const WS = ' \t\n\r';

/** cunescape_one(): returns [consumed chars, decoded string] or undefined. */
export function cunescapeOne(s: string, i: number): [number, string] | undefined {
  const c = s[i];
  const hex = (k: number) =>
    s[k] !== undefined && /[0-9a-fA-F]/.test(s[k] as string) ? Number.parseInt(s[k] as string, 16) : -1;
  switch (c) {
    case 'a':
      return [1, '\x07'];
    case 'b':
      return [1, '\b'];
    case 'f':
      return [1, '\f'];
    case 'n':
      return [1, '\n'];
    case 'r':
      return [1, '\r'];
    case 't':
      return [1, '\t'];
    case 'v':
      return [1, '\v'];
    case '\\':
      return [1, '\\'];
    case '"':
      return [1, '"'];
    case "'":
      return [1, "'"];
    case 's':
      return [1, ' '];
    case 'x': {
      const a = hex(i + 1);
      const b = hex(i + 2);
      if (a < 0 || b < 0 || (a === 0 && b === 0)) return undefined;
      return [3, String.fromCharCode((a << 4) | b)];
    }
    case 'u':
    case 'U': {
      const n = c === 'u' ? 4 : 8;
      let v = 0;
      for (let k = 1; k <= n; k++) {
        const d = hex(i + k);
        if (d < 0) return undefined;
        v = v * 16 + d;
      }
      if (v === 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return undefined;
      return [n + 1, String.fromCodePoint(v)];
    }
    default: {
      if (c !== undefined && c >= '0' && c <= '7') {
        const d = [s[i], s[i + 1], s[i + 2]].map((x) =>
          x !== undefined && x >= '0' && x <= '7' ? x.charCodeAt(0) - 48 : -1,
        );
        if (d.some((x) => x < 0)) return undefined;
        const m = ((d[0] as number) << 6) | ((d[1] as number) << 3) | (d[2] as number);
        if (m === 0 || m > 255) return undefined;
        return [3, String.fromCharCode(m)];
      }
      return undefined;
    }
  }
}

/**
 * extract_first_word(&p, …, WHITESPACE, flags) starting at `start`. `word` is undefined when only
 * separators were left; `rest` is where parsing continues (s.length at the end).
 */
export function extractFirstWord(
  s: string,
  start: number,
  flags: ExtractFlags,
  separators: string = WS,
): ExtractResult {
  let p = start;
  while (p < s.length && separators.includes(s[p] as string)) p++;
  if (p >= s.length) return { ok: true, word: undefined, rest: s.length };
  // The plain run before the first character the loop below treats specially (a separator, a
  // backslash unless retained, a quote when unquoting) is taken in one slice, not a character at a
  // time; the loop then goes on from there exactly as it would have.
  let q = p;
  const escapes = !flags.retainEscape;
  const quotes = flags.unquote === true;
  while (q < s.length) {
    const c = s.charCodeAt(q);
    if ((c === 0x5c && escapes) || ((c === 0x22 || c === 0x27) && quotes)) break;
    if (separators === WS ? c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d : separators.includes(s[q] as string))
      break;
    q++;
  }
  let word = s.slice(p, q);
  p = q;
  let quote: string | undefined;
  for (;;) {
    if (p >= s.length) {
      if (quote !== undefined && !flags.relax) return { ok: false, error: 'EINVAL' };
      return { ok: true, word, rest: s.length };
    }
    const c = s[p] as string;
    if (c === '\\' && !flags.retainEscape) {
      p++;
      if (p >= s.length) {
        if (flags.unescapeRelax && (quote === undefined || flags.relax))
          return { ok: true, word: word + '\\', rest: s.length };
        if (flags.relax) return { ok: true, word, rest: s.length };
        return { ok: false, error: 'EINVAL' };
      }
      if (flags.cunescape) {
        const r = cunescapeOne(s, p);
        if (r) {
          word += r[1];
          p += r[0];
        } else if (flags.unescapeRelax) {
          word += '\\' + (s[p] as string);
          p++;
        } else return { ok: false, error: 'EINVAL' };
      } else {
        word += s[p] as string;
        p++;
      }
      continue;
    }
    if (quote !== undefined) {
      if (c === quote) {
        quote = undefined;
        if (!flags.unquote) word += c;
      } else word += c;
      p++;
      continue;
    }
    if ((c === "'" || c === '"') && flags.unquote) {
      quote = c;
      p++;
      continue;
    }
    if (separators.includes(c)) {
      while (p < s.length && separators.includes(s[p] as string)) p++;
      return { ok: true, word, rest: p };
    }
    word += c;
    p++;
  }
}

/** Splits a whole string into words (strv_split_full), or undefined on a syntax error. */
export function splitWords(s: string, flags: ExtractFlags): string[] | undefined {
  const out: string[] = [];
  let p = 0;
  for (;;) {
    const r = extractFirstWord(s, p, flags);
    if (!r.ok) return undefined;
    if (r.word === undefined) return out;
    out.push(r.word);
    p = r.rest;
    if (p >= s.length) return out;
  }
}

/** Quotes a word so that extract_first_word(UNQUOTE|CUNESCAPE) gives it back (for the printers). */
export function quoteWord(w: string): string {
  if (w !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) return w;
  let out = '"';
  for (const ch of w) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}
