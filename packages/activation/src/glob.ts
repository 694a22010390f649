/**
 * glob(3) as systemd 257's ConditionPathExistsGlob= runs it: glob_exists() → safe_glob() in
 * src/basic/glob-util.c, which is glibc's glob() (posix/glob.c, 2.41) with GLOB_NOSORT|GLOB_BRACE and
 * GLOB_ALTDIRFUNC whose gl_readdir is readdir_no_dot(): `.` and `..` are never read from a
 * directory, so `/dir/.*` finds only the directory's hidden files (false for an empty one), while
 * a component without wildcards (`/dir/.`, `/dir/..`) is looked up and exists.
 *
 * What glibc does, and so does this port:
 * - `{a,b}` expands first, left to right, each alternative globbed again (nested braces too); a `{`
 *   without its `}` turns brace expansion off for the whole pattern; `\{` is not a brace.
 * - The pattern splits at its last `/`. A directory part with `*`, `?` or `[` is globbed for
 *   directories only (a symlink to one counts); otherwise its `\` escapes are removed and it is used
 *   as it is. A last component without wildcards or `\` is lstat()ed (a dangling symlink exists);
 *   else each directory entry is matched by fnmatch() with FNM_PERIOD (a leading `.` only by a
 *   literal `.`), and the entry is not checked further.
 * - A pattern ending in `/` wants directories, but only where a component is matched by readdir():
 *   `/file/` exists when `file` does (the last component is only lstat()ed), `/fil[e]/` does not.
 * - Paths are bytes: a name that is not UTF-8 is read and matched as the bytes it is.
 * Recorded from trixie's glibc by test/fixtures/glibc-glob/record.py.
 */
import { type Dir, lstatSync, opendirSync, statSync } from 'node:fs';
import { fnmatchBytes } from './fnmatch.js';

/** glob_exists(): whether the pattern finds any path (257's ConditionPathExistsGlob=). */
export function globExists(pattern: string): boolean {
  const found = search(cPattern(pattern), { brace: true, mark: false, onlyDir: false });
  const first = found.next();
  found.return(undefined);
  return first.done !== true;
}

/** The paths glob() returns for the pattern, in readdir() order (GLOB_NOSORT), as 257 passes it. */
export function glob(pattern: string): Buffer[] {
  return [...search(cPattern(pattern), { brace: true, mark: false, onlyDir: false })];
}

/** glibc's GLOB_BRACE, GLOB_MARK (a `/` after each directory found) and GLOB_ONLYDIR. */
interface Flags {
  brace: boolean;
  mark: boolean;
  onlyDir: boolean;
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const COMMA = 0x2c;
const STAR = 0x2a;
const QUESTION = 0x3f;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

/** __glob_pattern_type()'s answer. */
const SPECIAL = 1;
const HAS_BACKSLASH = 2;
const BRACKET = 4;

/** The pattern as the C string 257 passes (up to a NUL). */
function cPattern(pattern: string): Buffer {
  const bytes = Buffer.from(pattern, 'utf8');
  const nul = bytes.indexOf(0);
  return nul < 0 ? bytes : bytes.subarray(0, nul);
}

/** __glob_pattern_type(): `*`/`?`, or `[` followed later by `]`, make it SPECIAL; else its `\` and `[`. */
function patternType(p: Buffer): number {
  let ret = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === QUESTION || c === STAR) return SPECIAL;
    if (c === BACKSLASH) {
      if (i + 1 < p.length) i++;
      ret |= HAS_BACKSLASH;
    } else if (c === LBRACKET) ret |= BRACKET;
    else if (c === RBRACKET && (ret & BRACKET) !== 0) return SPECIAL;
  }
  return ret;
}

/** next_brace_sub(): where the alternative from `i` ends (its `,` or `}`), or -1 when unterminated. */
function nextBraceSub(p: Buffer, from: number): number {
  let i = from;
  let depth = 0;
  while (i < p.length) {
    if (p[i] === BACKSLASH) {
      if (++i === p.length) break;
      ++i;
    } else {
      if (p[i] === RBRACE) {
        if (depth === 0) break;
        depth--;
      } else if (p[i] === COMMA && depth === 0) break;
      if (p[i++] === LBRACE) depth++;
    }
  }
  return i < p.length ? i : -1;
}

/**
 * GLOB_BRACE's expansion, as glibc's glob() does it before matching: `{a,b}` becomes each
 * alternative (nested braces too, left to right); `\{` and `\,` are not braces or commas; a `{`
 * without its `}` leaves the pattern as it is. The `\` escapes stay (for fnmatch()).
 */
export function expandBraces(pattern: string): string[] {
  const expand = (p: Buffer): Buffer[] => braceAlternatives(p)?.flatMap(expand) ?? [p];
  // Braces are ASCII: cutting at them keeps UTF-8 sequences whole.
  return expand(Buffer.from(pattern, 'utf8')).map((b) => b.toString('utf8'));
}

/** The patterns the first `{…}` stands for, each with the text around it; undefined without a valid one. */
function braceAlternatives(pattern: Buffer): Buffer[] | undefined {
  const begin = firstBrace(pattern);
  if (begin < 0) return undefined;
  let next = nextBraceSub(pattern, begin + 1);
  let rest = next;
  while (rest >= 0 && pattern[rest] !== RBRACE) rest = nextBraceSub(pattern, rest + 1);
  if (rest < 0) return undefined;
  const head = pattern.subarray(0, begin);
  const tail = pattern.subarray(rest + 1);
  const out: Buffer[] = [];
  for (let p = begin + 1; ;) {
    out.push(Buffer.concat([head, pattern.subarray(p, next), tail]));
    if (pattern[next] === RBRACE) return out;
    p = next + 1;
    next = nextBraceSub(pattern, p);
  }
}

/** The first `{` that is not escaped, or -1. */
function firstBrace(p: Buffer): number {
  for (let i = 0; i < p.length; i++) {
    if (p[i] === BACKSLASH && i + 1 < p.length) i++;
    else if (p[i] === LBRACE) return i;
  }
  return -1;
}

/** Whether `s` ends in a `\` that is not itself escaped (an odd run of them). */
function endsInEscape(s: Buffer): boolean {
  let n = 0;
  while (n < s.length && s[s.length - 1 - n] === BACKSLASH) n++;
  return n % 2 === 1;
}

/** The pattern with each `\x` made `x` (a `\` at the end dropped). */
function unescape(s: Buffer): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === BACKSLASH) i++;
    if (i < s.length) out.push(s[i] as number);
  }
  return Buffer.from(out);
}

/** prefix_array(): `dir/name`, or `/name` under `/`. */
function prefix(dir: Buffer, name: Buffer): Buffer {
  return dir.length === 1 && dir[0] === SLASH
    ? Buffer.concat([dir, name])
    : Buffer.concat([dir, Buffer.of(SLASH), name]);
}

/** is_dir(): stat() (following symlinks) says directory. */
function isDir(path: Buffer): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    return false;
  }
}

function exists(path: Buffer): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/** __glob(): the paths the pattern finds, lazily (glob_exists() needs only the first). */
function* search(pattern: Buffer, given: Flags): Generator<Buffer, void, undefined> {
  const flags = { ...given };
  // POSIX: with a trailing slash only directories match.
  if (pattern.length > 0 && pattern[pattern.length - 1] === SLASH) flags.onlyDir = true;

  if (flags.brace) {
    const alternatives = braceAlternatives(pattern);
    if (alternatives) {
      for (const alt of alternatives) yield* search(alt, flags);
      return;
    }
    // No brace, or an invalid brace expression: no brace expansion at all.
    flags.brace = false;
  }

  const slash = pattern.lastIndexOf(SLASH);
  let dirname: Buffer;
  let filename: Buffer;
  if (slash < 0) {
    if (pattern.length === 0) return;
    dirname = Buffer.from('.');
    filename = pattern;
  } else if (slash === 0 || (slash === 1 && pattern[0] === BACKSLASH)) {
    dirname = Buffer.from('/');
    filename = pattern.subarray(slash + 1);
  } else {
    dirname = pattern.subarray(0, slash);
    filename = pattern.subarray(slash + 1);
    if (filename.length === 0 && dirname.length > 1) {
      // "pattern/": expand "pattern" with a slash after each directory.
      if (endsInEscape(dirname)) dirname = dirname.subarray(0, -1);
      yield* search(dirname, { ...flags, mark: true });
      return;
    }
  }
  const relative = slash < 0;

  const mark = (path: Buffer): Buffer => (flags.mark && isDir(path) ? Buffer.concat([path, Buffer.of(SLASH)]) : path);
  const meta = patternType(dirname);
  if ((meta & (SPECIAL | BRACKET)) !== 0) {
    if (endsInEscape(dirname)) dirname = dirname.subarray(0, -1);
    for (const dir of search(dirname, { brace: false, mark: false, onlyDir: true }))
      for (const name of inDir(filename, dir, flags)) yield mark(prefix(dir, name));
  } else {
    if ((meta & HAS_BACKSLASH) !== 0) dirname = unescape(dirname);
    for (const name of inDir(filename, dirname, flags)) yield mark(relative ? name : prefix(dirname, name));
  }
}

/** glob_in_dir(): the names in `directory` that the last component matches. */
function* inDir(pattern: Buffer, directory: Buffer, flags: Flags): Generator<Buffer, void, undefined> {
  if (patternType(pattern) === 0) {
    // Nothing to match: the name as written, if lstat() finds it.
    if (exists(Buffer.concat([directory, Buffer.of(SLASH), pattern]))) yield pattern;
    return;
  }
  let dir: Dir;
  try {
    // latin1: each byte of a name one character, so that its bytes come back exactly.
    dir = opendirSync(directory, { encoding: 'latin1' });
  } catch {
    return; // not a directory, gone, no permission: no match (no GLOB_ERR)
  }
  try {
    for (let e = readSync(dir); e !== null; e = readSync(dir)) {
      const name = Buffer.from(e.name, 'latin1');
      if (flags.onlyDir && !e.isDirectory()) {
        if (!e.isSymbolicLink()) continue;
        const base =
          directory[directory.length - 1] === SLASH ? directory : Buffer.concat([directory, Buffer.of(SLASH)]);
        if (!isDir(Buffer.concat([base, name]))) continue;
      }
      if (fnmatchBytes(pattern, name, { period: true })) yield name;
    }
  } finally {
    dir.closeSync();
  }
}

/** Dir.readSync(), a read error ending the directory (glibc's readdir() returning NULL). */
function readSync(dir: Dir): ReturnType<Dir['readSync']> {
  try {
    return dir.readSync();
  } catch {
    return null;
  }
}
