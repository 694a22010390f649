/**
 * `--ignore` globs, with .gitignore's two shapes: a pattern without `/` (`node_modules`, `*.log`)
 * matches a file or directory name at any depth; a pattern with `/` (`src/gen/**`, `/dist`) matches
 * the path relative to the watched root. A matched directory excludes everything below it.
 * Syntax: `*` (within one name), `**` (any number of names), `?`, `[abc]`, `[!a-z]`, `{a,b}`.
 */

/** Translates one glob to an anchored RegExp over `/`-separated paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let i = 0;
  let braces = 0;
  while (i < glob.length) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more directories; a trailing or lone `**` matches anything.
        const slash = glob[i + 2] === '/';
        re += slash ? '(?:.*/)?' : '.*';
        i += slash ? 3 : 2;
        continue;
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
      } else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '{') {
      braces++;
      re += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      re += ')';
    } else if (c === ',' && braces > 0) {
      re += '|';
    } else if (c === '\\' && i + 1 < glob.length) {
      i++;
      re += (glob[i] as string).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
    i++;
  }
  return new RegExp(`^${re}$`);
}

export interface IgnoreMatcher {
  /** Whether `relative` (a `/`-separated path below the watched root) or one of its parents is ignored. */
  (relative: string): boolean;
}

/** Builds one predicate from many globs. */
export function ignoreMatcher(globs: readonly string[]): IgnoreMatcher {
  const byName: RegExp[] = [];
  const byPath: RegExp[] = [];
  for (const raw of globs) {
    let g = raw.trim();
    if (g === '') continue;
    if (g.startsWith('./')) g = g.slice(2);
    g = g.replace(/\/+$/, '');
    const anchored = g.includes('/');
    // `dir/**` ignores the directory itself too: its contents are all ignored, so it needs no watch.
    while (g.endsWith('/**')) g = g.slice(0, -3);
    if (g === '**' || g === '') return () => true;
    if (anchored) byPath.push(globToRegExp(g.replace(/^\/+/, '')));
    else byName.push(globToRegExp(g));
  }
  return (relative: string): boolean => {
    const parts = relative.split('/').filter((p) => p !== '' && p !== '.');
    for (let n = 1; n <= parts.length; n++) {
      const name = parts[n - 1] as string;
      if (byName.some((re) => re.test(name))) return true;
      if (byPath.length > 0) {
        const prefix = parts.slice(0, n).join('/');
        if (byPath.some((re) => re.test(prefix))) return true;
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
