/**
 * fnmatch(3) as glibc answers it in the C locale (posix/fnmatch_loop.c), which is what systemd 257's
 * PID 1 runs in: ConditionHost= (FNM_CASEFOLD), ConditionKernelVersion=/ConditionOSRelease=/… `$=`
 * and `!$=` (no flags, version_or_fnmatch_compare()), and each component of ConditionPathExistsGlob=
 * (glob(3): FNM_PERIOD).
 *
 * The C locale makes pattern and string bytes (UTF-8 here: `?` matches one byte), the classes ASCII and
 * a range a comparison of byte values. Bracket expressions as glibc reads them: `!` or `^` negates, a
 * `]` first in the list is a member, `\` escapes, `a-z` ranges (bounds folded with FNM_CASEFOLD, a
 * bound above the other matches nothing), the 12 classes `[:alpha:]`… (an unknown class name fails the
 * whole match; with FNM_CASEFOLD a class still tests the unfolded byte), `[=c=]` and `[.c.]` of one
 * character. A `[` without its `]` is a literal `[`. glibc reports an error only for FNM_EXTMATCH patterns, which systemd never passes: the
 * answer is a boolean.
 */

export interface FnmatchFlags {
  /** FNM_CASEFOLD: ASCII letters compare without case. */
  casefold?: boolean;
  /** FNM_PERIOD: a leading `.` is matched only by a literal `.` (not by `*`, `?` or a bracket). */
  period?: boolean;
}

/** Whether `string` matches `pattern` (fnmatch() == 0). */
export function fnmatch(pattern: string, string: string, flags: FnmatchFlags = {}): boolean {
  return fnmatchBytes(Buffer.from(pattern, 'utf8'), Buffer.from(string, 'utf8'), flags);
}

/** fnmatch() of bytes, as the C function sees them: a file name that is not UTF-8 (glob's readdir()). */
export function fnmatchBytes(pattern: Uint8Array, string: Uint8Array, flags: FnmatchFlags = {}): boolean {
  const p = cString(pattern, true);
  const s = cString(string, false);
  return new Matcher(p, s, flags.casefold === true).match(0, 0, flags.period === true, undefined);
}

/** The C string's bytes (up to a NUL, as strlen() would see it); the pattern gets its NUL at the end. */
function cString(bytes: Uint8Array, terminated: boolean): Uint8Array {
  const nul = bytes.indexOf(0);
  const len = nul < 0 ? bytes.length : nul;
  const out = new Uint8Array(len + (terminated ? 1 : 0));
  out.set(bytes.subarray(0, len));
  return out;
}

const NUL = 0;
const STAR = 0x2a;
const QUESTION = 0x3f;
const BACKSLASH = 0x5c;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const BANG = 0x21;
const CARET = 0x5e;
const COLON = 0x3a;
const EQUALS = 0x3d;
const DOT = 0x2e;
const DASH = 0x2d;
const LOWER_A = 0x61;
const LOWER_Z = 0x7a;

/** glibc's CHAR_CLASS_MAX_LENGTH: a longer `[:name:]` makes the pattern fail. */
const CHAR_CLASS_MAX_LENGTH = 256;

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isUpper = (c: number): boolean => c >= 0x41 && c <= 0x5a;
const isLower = (c: number): boolean => c >= LOWER_A && c <= LOWER_Z;
const isAlpha = (c: number): boolean => isUpper(c) || isLower(c);
const isGraph = (c: number): boolean => c >= 0x21 && c <= 0x7e;

/** The C locale's classes (wctype() names). */
const CLASSES: ReadonlyMap<string, (c: number) => boolean> = new Map([
  ['alnum', (c: number) => isAlpha(c) || isDigit(c)],
  ['alpha', isAlpha],
  ['blank', (c: number) => c === 0x20 || c === 0x09],
  ['cntrl', (c: number) => c < 0x20 || c === 0x7f],
  ['digit', isDigit],
  ['graph', isGraph],
  ['lower', isLower],
  ['print', (c: number) => c >= 0x20 && c <= 0x7e],
  ['punct', (c: number) => isGraph(c) && !isAlpha(c) && !isDigit(c)],
  ['space', (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d)],
  ['upper', isUpper],
  ['xdigit', (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= LOWER_A && c <= 0x66)],
]);

/** Where a recursive match stopped at the next `*` (glibc's `struct STRUCT ends`). */
interface Ends {
  p: number;
  n: number;
  noLeadingPeriod: boolean;
}

/** A bracket expression's outcome: go on after it at `p`, fail the match, or read its `[` as a literal. */
type Bracket = { kind: 'matched'; p: number } | { kind: 'fail' } | { kind: 'literal' };

class Matcher {
  constructor(
    /** The pattern's bytes, NUL-terminated. */
    private readonly pat: Uint8Array,
    private readonly str: Uint8Array,
    private readonly casefold: boolean,
  ) {}

  private fold(c: number): number {
    return this.casefold && isUpper(c) ? c + 0x20 : c;
  }

  private at(i: number): number {
    return this.pat[i] ?? NUL;
  }

  /** FCT(): the pattern from `p` against the string from `n`. */
  match(p: number, n: number, noLeadingPeriod: boolean, ends: Ends | undefined): boolean {
    const s = this.str;
    const end = s.length;
    let nlp = noLeadingPeriod;
    let c: number;
    while ((c = this.at(p++)) !== NUL) {
      c = this.fold(c);
      switch (c) {
        case QUESTION:
          if (n === end || (s[n] === DOT && nlp)) return false;
          break;
        case BACKSLASH:
          c = this.at(p++);
          if (c === NUL) return false; // a trailing `\` loses
          if (n === end || this.fold(s[n] as number) !== this.fold(c)) return false;
          break;
        case STAR: {
          if (ends) {
            ends.p = p - 1;
            ends.n = n;
            ends.noLeadingPeriod = nlp;
            return true;
          }
          if (n !== end && s[n] === DOT && nlp) return false;
          for (c = this.at(p++); c === QUESTION || c === STAR; c = this.at(p++)) {
            if (c === QUESTION) {
              if (n === end) return false;
              n++;
            }
          }
          if (c === NUL) return true;
          const rest: Ends = { p: -1, n: 0, noLeadingPeriod: false };
          let found = false;
          if (c === LBRACKET) {
            for (--p; n < end; ++n, nlp = false)
              if (this.match(p, n, nlp, rest)) {
                found = true;
                break;
              }
          } else {
            if (c === BACKSLASH) c = this.at(p);
            c = this.fold(c);
            for (--p; n < end; ++n, nlp = false)
              if (this.fold(s[n] as number) === c && this.match(p, n, nlp, rest)) {
                found = true;
                break;
              }
          }
          if (!found) return false;
          if (rest.p < 0) return true;
          // The rest matched up to its next `*`: go on from there (only the last `*` backtracks).
          p = rest.p;
          n = rest.n;
          nlp = rest.noLeadingPeriod;
          continue;
        }
        case LBRACKET: {
          if (n === end || (s[n] === DOT && nlp)) return false;
          const b = this.bracket(p, s[n] as number);
          if (b.kind === 'fail') return false;
          if (b.kind === 'matched') p = b.p;
          else if (s[n] !== LBRACKET) return false; // unterminated: a literal `[`, then the rest again
          break;
        }
        default:
          if (n === end || c !== this.fold(s[n] as number)) return false;
      }
      nlp = false;
      ++n;
    }
    return n === end;
  }

  /** `[`…`]` from `p` (after the `[`) against the byte `ch`. */
  private bracket(pInit: number, ch: number): Bracket {
    let p = pInit;
    const not = this.at(p) === BANG || this.at(p) === CARET;
    if (not) ++p;
    const fn = this.fold(ch);
    let c = this.at(p++);
    let matched = false;
    for (;;) {
      // normal: c is a member to compare (glibc's normal_bracket), then maybe a range's start.
      let normal = false;
      // ranged: c was read after a member that can start a range (`cold`).
      let ranged = false;
      let cold = 0;
      if (c === BACKSLASH) {
        if (this.at(p) === NUL) return { kind: 'fail' };
        c = this.fold(this.at(p));
        ++p;
        normal = true;
      } else if (c === LBRACKET && this.at(p) === COLON) {
        const start = p;
        let name = '';
        let member = false;
        for (;;) {
          if (name.length === CHAR_CLASS_MAX_LENGTH) return { kind: 'fail' };
          c = this.at(++p);
          if (c === COLON && this.at(p + 1) === RBRACKET) {
            p += 2;
            break;
          }
          if (c < LOWER_A || c >= LOWER_Z) {
            // Cannot be a class name: `[` is a member.
            p = start;
            c = LBRACKET;
            member = true;
            break;
          }
          name += String.fromCharCode(c);
        }
        if (member) normal = true;
        else {
          const test = CLASSES.get(name);
          if (!test) return { kind: 'fail' };
          if (test(ch)) {
            matched = true;
            break;
          }
          c = this.at(p++);
        }
      } else if (c === LBRACKET && this.at(p) === EQUALS) {
        const start = p;
        c = this.at(++p);
        const eq = c;
        if (c !== NUL) c = this.at(++p);
        if (eq === NUL || c !== EQUALS || this.at(p + 1) !== RBRACKET) {
          p = start;
          c = LBRACKET;
          normal = true;
        } else {
          p += 2;
          if (ch === eq) {
            matched = true;
            break;
          }
          c = this.at(p++);
        }
      } else if (c === NUL) {
        return { kind: 'literal' };
      } else if (c === LBRACKET && this.at(p) === DOT) {
        const start = p;
        const sym = this.collatingSymbol(p);
        if (sym === undefined) return { kind: 'fail' };
        p = sym.p;
        const isRange = this.at(p) === DASH && this.at(p + 1) !== NUL;
        if (!isRange && ch === this.at(start + 1)) {
          matched = true;
          break;
        }
        cold = this.at(start + 1);
        c = this.at(p++);
        ranged = true;
      } else {
        c = this.fold(c);
        normal = true;
      }
      if (normal) {
        const isRange = this.at(p) === DASH && this.at(p + 1) !== NUL && this.at(p + 1) !== RBRACKET;
        if (!isRange && c === fn) {
          matched = true;
          break;
        }
        cold = c;
        c = this.at(p++);
        ranged = true;
      }
      if (ranged && c === DASH && this.at(p) !== RBRACKET) {
        let cend = this.at(p++);
        if (cend === LBRACKET && this.at(p) === DOT) {
          const start = p;
          const sym = this.collatingSymbol(p);
          if (sym === undefined) return { kind: 'fail' };
          p = sym.p;
          cend = this.at(start + 1);
        } else {
          if (cend === BACKSLASH) cend = this.at(p++);
          if (cend === NUL) return { kind: 'fail' };
          cend = this.fold(cend);
        }
        if (cold <= fn && fn <= cend) {
          matched = true;
          break;
        }
        c = this.at(p++);
      }
      if (c === RBRACKET) break;
    }
    if (!matched) return not ? { kind: 'matched', p } : { kind: 'fail' };
    // Skip the rest of the list that matched already.
    for (;;) {
      c = this.at(p++);
      if (c === RBRACKET) break;
      if (c === NUL) return { kind: 'literal' };
      if (c === BACKSLASH) {
        if (this.at(p) === NUL) return { kind: 'fail' };
        ++p;
      } else if (c === LBRACKET && this.at(p) === COLON) {
        const start = p;
        let len = 0;
        for (;;) {
          c = this.at(++p);
          if (++len === CHAR_CLASS_MAX_LENGTH) return { kind: 'fail' };
          if (this.at(p) === COLON && this.at(p + 1) === RBRACKET) break;
          if (c < LOWER_A || c >= LOWER_Z) {
            p = start - 2;
            break;
          }
        }
        p += 2;
      } else if (c === LBRACKET && this.at(p) === EQUALS) {
        c = this.at(++p);
        if (c === NUL) return { kind: 'fail' };
        c = this.at(++p);
        if (c !== EQUALS || this.at(p + 1) !== RBRACKET) return { kind: 'fail' };
        p += 2;
      } else if (c === LBRACKET && this.at(p) === DOT) {
        for (;;) {
          c = this.at(++p);
          if (c === NUL) return { kind: 'fail' };
          if (c === DOT && this.at(p + 1) === RBRACKET) break;
        }
        p += 2;
      }
    }
    return not ? { kind: 'fail' } : { kind: 'matched', p };
  }

  /**
   * `[.c.]` from `p` (at its `.`): where it ends; undefined when unterminated or not one character
   * (the C locale names no multi-character collating elements).
   */
  private collatingSymbol(start: number): { p: number } | undefined {
    let p = start;
    let len = 0;
    for (;;) {
      const c = this.at(++p);
      if (c === DOT && this.at(p + 1) === RBRACKET) return len === 1 ? { p: p + 2 } : undefined;
      if (c === NUL) return undefined;
      ++len;
    }
  }
}
