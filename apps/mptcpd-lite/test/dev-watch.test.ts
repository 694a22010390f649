/**
 * The parts of `dev` that need no app: --ignore globs, the recursive watcher on a real tree
 * (inotify), and readiness as seen in /proc for a real listener.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_IGNORES, globMatcher, ignoreMatcher } from '../src/dev/glob.js';
import { socketInode, treeWaitsOnSocket, waitForListener } from '../src/dev/readiness.js';
import { TreeWatcher } from '../src/dev/watcher.js';
import { tempDir } from './helpers/units.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('dev --ignore globs', () => {
  const defaults = ignoreMatcher([
    ...DEFAULT_IGNORES,
    '*.log',
    'src/gen/**',
    '/dist',
    'tmp/',
    'cache/**',
    '**/fixtures',
  ]);
  it.each([
    ['node_modules', true],
    ['node_modules/x/index.js', true],
    ['packages/a/node_modules/b.js', true],
    ['.git/HEAD', true],
    ['src/.app.js.swp', true],
    ['src/app.js~', true],
    ['src/.#app.js', true],
    ['4913', true],
    ['server.log', true],
    ['logs/today.log', true],
    ['src/gen/a.ts', true],
    ['src/gen/deep/b.ts', true],
    ['dist/index.js', true],
    ['tmp/x', true],
    ['src/gen', true],
    ['cache', true],
    ['cache/a/b', true],
    ['lib/cache/a', false],
    ['test/fixtures/a.json', true],
    ['fixtures', true],
    ['src/app.js', false],
    ['src/generate.ts', false],
    ['lib/dist.js', false],
    ['server.log.js', false],
    ['app.mjs', false],
  ])('%s ignored: %s', (p, ignored) => {
    expect(defaults(p)).toBe(ignored);
  });

  it('translates *, **, ?, [..], {a,b} and escapes', () => {
    expect(globMatcher('*.{js,mjs}')('a.mjs')).toBe(true);
    expect(globMatcher('*.{js,mjs}')('a.ts')).toBe(false);
    expect(globMatcher('a/**/b')('a/b')).toBe(true);
    expect(globMatcher('a/**/b')('a/x/y/b')).toBe(true);
    expect(globMatcher('a/*')('a/x/y')).toBe(false);
    expect(globMatcher('file?.[!0-9]s')('file1.ts')).toBe(true);
    expect(globMatcher('file?.[!0-9]s')('file1.5s')).toBe(false);
    expect(globMatcher('a\\*b')('a*b')).toBe(true);
    expect(globMatcher('a\\*b')('axb')).toBe(false);
    expect(globMatcher('(x)+.js')('(x)+.js')).toBe(true);
  });
});

/** A watcher on a fresh tree; batches are collected, and waited for by content. */
function watchTree(roots: (dir: string) => string[] = (d) => [d], extraIgnores: string[] = []) {
  const dir = tempDir('mdl-dev-watch-');
  mkdirSync(path.join(dir, 'src'));
  mkdirSync(path.join(dir, 'node_modules', 'dep'), { recursive: true });
  const batches: string[][] = [];
  const warnings: string[] = [];
  const waiters: Array<() => void> = [];
  const watcher = new TreeWatcher({
    roots: roots(dir),
    ignore: ignoreMatcher([...DEFAULT_IGNORES, ...extraIgnores]),
    delayMs: 30,
    onChange: (paths) => {
      batches.push(paths);
      for (const w of waiters.splice(0)) w();
    },
    onWarning: (w) => warnings.push(w),
  });
  cleanups.push(() => {
    watcher.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** Resolves once a batch delivered at index `from` or later names `p`. */
  const until = async (p: string, from = 0): Promise<void> => {
    while (!batches.slice(from).some((b) => b.includes(p))) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { dir, watcher, batches, warnings, until };
}

describe('dev watcher', () => {
  it('watches directories recursively without entering node_modules; reports changes in debounced batches', async () => {
    const t = watchTree();
    expect(t.watcher.start()).toBe(2); // the root and src, not node_modules
    writeFileSync(path.join(t.dir, 'node_modules', 'dep', 'index.js'), 'x');
    writeFileSync(path.join(t.dir, 'src', '.app.js.swp'), 'x');
    const app = path.join(t.dir, 'src', 'app.js');
    writeFileSync(app, 'v1');
    await t.until(app);
    // inotify delivers events in order: an ignored one would be in this batch or an earlier one.
    expect(t.batches.flat().filter((p) => p.includes('node_modules') || p.endsWith('.swp'))).toEqual([]);
    expect(t.warnings).toEqual([]);
  });

  it('picks up a directory created later, and forgets one removed', async () => {
    const t = watchTree();
    t.watcher.start();
    const sub = path.join(t.dir, 'src', 'routes');
    mkdirSync(sub);
    await t.until(sub);
    expect(t.watcher.size).toBe(3);
    const file = path.join(sub, 'users.js');
    writeFileSync(file, 'v1');
    await t.until(file);
    const before = t.batches.length;
    rmSync(sub, { recursive: true });
    // The removal is a change (reported on src), and routes' watch is dropped.
    await t.until(sub, before);
    expect(t.watcher.size).toBe(2);
  });

  it('a single watched file survives an editor save (write a temporary file, rename it over)', async () => {
    const t = watchTree((d) => [path.join(d, 'server.mjs')]);
    const file = path.join(t.dir, 'server.mjs');
    writeFileSync(file, 'v0');
    t.watcher.start();
    for (let v = 1; v <= 3; v++) {
      const before = t.batches.length;
      writeFileSync(`${file}.tmp`, `v${v}`);
      renameSync(`${file}.tmp`, file);
      await t.until(file, before);
    }
    // Only the watched file is reported, never its neighbours.
    expect(new Set(t.batches.flat())).toEqual(new Set([file]));
  });

  it('--ignore with a path pattern excludes that subtree only', async () => {
    const t = watchTree((d) => [d], ['src/gen/**']);
    mkdirSync(path.join(t.dir, 'src', 'gen'));
    mkdirSync(path.join(t.dir, 'lib', 'gen'), { recursive: true });
    expect(t.watcher.start()).toBe(4); // root, src, lib, lib/gen
    writeFileSync(path.join(t.dir, 'src', 'gen', 'x.js'), 'x');
    const kept = path.join(t.dir, 'lib', 'gen', 'y.js');
    writeFileSync(kept, 'y');
    await t.until(kept);
    expect(t.batches.flat().filter((p) => p.includes(`src${path.sep}gen`))).toEqual([]);
  });
});

describe('dev readiness (/proc)', () => {
  it('sees a child (and not before) once it polls the passed listening socket', async () => {
    const { createServer } = await import('node:net');
    // The listener is ours; the child inherits it as fd 3, as an app under dev would.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => server.close());
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    const inode = socketInode(fd);
    // The child waits for a line on stdin before it listens: until then it must not look ready.
    const child = spawn(
      process.execPath,
      [
        '-e',
        "process.stdin.once('data', () => require('net').createServer().listen({ fd: 3 }, () => console.log('listening')))",
      ],
      { stdio: ['pipe', 'pipe', 'inherit', fd] },
    );
    cleanups.push(() => child.kill('SIGKILL'));
    await new Promise((resolve) => child.once('spawn', resolve));
    const pid = child.pid as number;
    expect(treeWaitsOnSocket(pid, new Set([inode]))).toBe(false);
    const abort = new AbortController();
    const ready = waitForListener(pid, new Set([inode]), abort.signal);
    child.stdin?.write('go\n');
    const at = await ready;
    expect(typeof at).toBe('number');
    expect(treeWaitsOnSocket(pid, new Set([inode]))).toBe(true);
    // Another socket's inode is not it.
    expect(treeWaitsOnSocket(pid, new Set([inode + 1]))).toBe(false);
    // A wait that is aborted (the process exited) resolves with undefined.
    const never = new AbortController();
    const pending = waitForListener(pid, new Set([inode + 1]), never.signal);
    never.abort();
    expect(await pending).toBeUndefined();
  });
});
