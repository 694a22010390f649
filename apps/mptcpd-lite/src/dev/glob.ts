/**
 * `--ignore` globs, with .gitignore's two shapes: a pattern without `/` (`node_modules`, `*.log`)
 * matches a file or directory name at any depth; a pattern with `/` (`src/gen/**`, `/dist`) matches
 * the path relative to the watched root. A matched directory excludes everything below it.
 * Syntax: `{a,b}` first (expandBraces(), as glob(3)'s GLOB_BRACE), then each `/`-separated part is
 * one name matched by fnmatch(3) (@mptcp/activation's fnmatch(), the same that ConditionHost= and
 * ConditionPathExistsGlob= use): `*`, `?`, `[abc]`, `[!a-z]`, `[]x]` (a `]` first is a member),
 * `[[:digit:]]`, `\` escapes. A part that is `**` matches any number of names (`a/**` /
 * `**` at the end: one or more); `**` inside a part is a `*`, as in .gitignore.
 */
import { expandBraces, fnmatch } from '@mptcp/activation';

/** A compiled glob: whether a `/`-separated path (its names) matches. */
export interface GlobMatcher {
  (path: string): boolean;
  /** The same for a path already split into its names. */
  names(names: readonly string[]): boolean;
}

/** Compiles one glob for `/`-separated paths. */
export function globMatcher(glob: string): GlobMatcher {
  const alternatives = expandBraces(glob).map((g) => g.split('/'));
  const names = (path: readonly string[]): boolean => alternatives.some((parts) => matchParts(parts, path));
  return Object.assign((path: string) => names(path.split('/')), { names });
}

/** Whether the glob's parts match the path's names (`**` any number of them; memoized). */
function matchParts(parts: readonly string[], names: readonly string[]): boolean {
  const seen = new Set<number>();
  const from = (i: number, j: number): boolean => {
    if (i === parts.length) return j === names.length;
    const key = i * (names.length + 1) + j;
    if (seen.has(key)) return false;
    seen.add(key);
    const part = parts[i] as string;
    if (part === '**') {
      // `**/` zero or more names; a trailing `**` everything below (one or more).
      for (let k = i === parts.length - 1 ? j + 1 : j; k <= names.length; k++) if (from(i + 1, k)) return true;
      return false;
    }
    return j < names.length && fnmatch(part, names[j] as string) && from(i + 1, j + 1);
  };
  return from(0, 0);
}

export interface IgnoreMatcher {
  /** Whether `relative` (a `/`-separated path below the watched root) or one of its parents is ignored. */
  (relative: string): boolean;
}

/** Builds one predicate from many globs. */
export function ignoreMatcher(globs: readonly string[]): IgnoreMatcher {
  const byName: GlobMatcher[] = [];
  const byPath: GlobMatcher[] = [];
  for (const raw of globs) {
    let g = raw.trim();
    if (g === '') continue;
    if (g.startsWith('./')) g = g.slice(2);
    g = g.replace(/\/+$/, '');
    const anchored = g.includes('/');
    // `dir/**` ignores the directory itself too: its contents are all ignored, so it needs no watch.
    while (g.endsWith('/**')) g = g.slice(0, -3);
    if (g === '**' || g === '') return () => true;
    if (anchored) byPath.push(globMatcher(g.replace(/^\/+/, '')));
    else byName.push(globMatcher(g));
  }
  return (relative: string): boolean => {
    const parts = relative.split('/').filter((p) => p !== '' && p !== '.');
    for (let n = 1; n <= parts.length; n++) {
      const name = parts[n - 1] as string;
      if (byName.some((m) => m.names([name]))) return true;
      if (byPath.length > 0) {
        const prefix = parts.slice(0, n);
        if (byPath.some((m) => m.names(prefix))) return true;
      }
    }
    return false;
  };
}

/**
 * Ignored unless told otherwise: dependencies, VCS data, editors' scratch files (vim's swap
 * files and its `4913` write test, emacs lock files, backup files ending in `~`) and log files (an
 * app that logs into its own tree would otherwise restart itself forever).
 */
export const DEFAULT_IGNORES: readonly string[] = [
  'node_modules',
  '.git',
  '*.swp',
  '*.swx',
  '*~',
  '.#*',
  '4913',
  '*.log',
];
