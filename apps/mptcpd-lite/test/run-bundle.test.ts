import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startProcess } from './helpers/cli.js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  RUN_BUNDLE,
  RUN_BUNDLE_CACHE,
  cacheStamp,
  loadRunBundle,
  readCodeCache,
  runBundle,
} from '../src/run-bundle.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A dist/ with a bundle built at `bundleAt` (s) from inputs last written at the given times. */
function fakeDist(bundleAt: number, inputs: Record<string, number | null>): URL {
  const root = mkdtempSync(join(tmpdir(), 'run-bundle-'));
  dirs.push(root);
  const dist = join(root, 'dist');
  mkdirSync(join(root, 'pkg', 'dist'), { recursive: true });
  mkdirSync(dist);
  for (const [f, at] of Object.entries(inputs)) {
    if (at === null) continue;
    writeFileSync(join(dist, f), '');
    utimesSync(join(dist, f), at, at);
  }
  writeFileSync(join(dist, 'run.bundle.json'), JSON.stringify({ inputs: Object.keys(inputs) }));
  writeFileSync(join(dist, 'run.bundle.cjs'), '');
  utimesSync(join(dist, 'run.bundle.cjs'), bundleAt, bundleAt);
  return pathToFileURL(`${dist}/`);
}

describe('runBundle', () => {
  it('uses a bundle that is at least as new as each of its inputs', () => {
    const dir = fakeDist(2000, { './a.js': 1000, '../pkg/dist/b.js': 2000 });
    expect(runBundle({}, dir)).toBe(RUN_BUNDLE);
  });

  it('does not use a bundle older than one of its inputs (a package rebuilt without the bundle)', () => {
    const dir = fakeDist(2000, { './a.js': 1000, '../pkg/dist/b.js': 2001 });
    expect(runBundle({}, dir)).toBeUndefined();
  });

  it('an input that is not there cannot be newer', () => {
    const dir = fakeDist(2000, { './a.js': 1000, './gone.js': null });
    expect(runBundle({}, dir)).toBe(RUN_BUNDLE);
  });

  it('MPTCPD_LITE_BUNDLE=0 loads the modules one by one', () => {
    const dir = fakeDist(2000, { './a.js': 1000 });
    expect(runBundle({ MPTCPD_LITE_BUNDLE: '0' }, dir)).toBeUndefined();
  });

  it('without a manifest there is no bundle', () => {
    const dir = fakeDist(2000, { './a.js': 1000 });
    rmSync(new URL('./run.bundle.json', dir));
    expect(runBundle({}, dir)).toBeUndefined();
  });
});

/** What the fake bundles below saw: each load, and the afterReady callbacks they were given. */
interface FakeBundleLog {
  loads: { bundleUrl: string; filename: string; dirname: string; requireWorks: boolean; strict: boolean }[];
  ready: (() => void)[];
}
const LOG_KEY = '__mptcpdLiteRunBundleTest';
const FAKE_BUNDLE = `"use strict";
const log = globalThis.${LOG_KEY};
log.loads.push({ bundleUrl: __bundleUrl, filename: __filename, dirname: __dirname,
  requireWorks: typeof require('node:path').join === 'function', strict: this === undefined });
function work(n) { let s = 0; for (let i = 0; i < n; i++) s += i; return s; }
work(10);
module.exports.afterReady = (fn) => log.ready.push(fn);
`;

/** A dist/ holding FAKE_BUNDLE (with `tail` appended) as the bundle. */
function fakeBundleDist(tail = ''): { dir: URL; dist: string } {
  const root = mkdtempSync(join(tmpdir(), 'run-bundle-cache-'));
  dirs.push(root);
  writeFileSync(join(root, 'run.bundle.cjs'), FAKE_BUNDLE + tail);
  return { dir: pathToFileURL(`${root}/`), dist: root };
}

describe('loadRunBundle and its code cache', () => {
  const g = globalThis as unknown as Record<string, FakeBundleLog | undefined>;
  afterEach(() => {
    delete g[LOG_KEY];
  });
  const fresh = (): FakeBundleLog => (g[LOG_KEY] = { loads: [], ready: [] });

  it('runs the bundle as a CommonJS module in strict mode, with its URL for import.meta.url', () => {
    const log = fresh();
    const { dir, dist } = fakeBundleDist();
    loadRunBundle(RUN_BUNDLE, {}, dir);
    expect(log.loads).toEqual([
      {
        bundleUrl: new URL(RUN_BUNDLE, dir).href,
        filename: join(dist, 'run.bundle.cjs'),
        dirname: `${dist}/`,
        requireWorks: true,
        strict: true,
      },
    ]);
  });

  it('writes the cache once ready when there is none, and uses it at the next start', () => {
    const log = fresh();
    const { dir, dist } = fakeBundleDist();
    const cacheFile = join(dist, 'run.bundle.cache');
    loadRunBundle(RUN_BUNDLE, {}, dir);
    expect(existsSync(cacheFile)).toBe(false);
    expect(log.ready).toHaveLength(1);
    log.ready[0]!();
    const stamp = cacheStamp(statSync(join(dist, 'run.bundle.cjs')));
    expect(readFileSync(cacheFile, 'latin1').startsWith(stamp)).toBe(true);
    expect(readCodeCache(cacheFile, stamp)?.length).toBeGreaterThan(0);
    // Second start: V8 accepts the cache, so nothing is registered to rewrite it.
    loadRunBundle(RUN_BUNDLE, {}, dir);
    expect(log.loads).toHaveLength(2);
    expect(log.ready).toHaveLength(1);
  });

  it('a cache written for another bundle (same length, other stamp) is not used and is rewritten', () => {
    const log = fresh();
    const { dir, dist } = fakeBundleDist('work(1);\n');
    const bundle = join(dist, 'run.bundle.cjs');
    loadRunBundle(RUN_BUNDLE, {}, dir);
    log.ready.splice(0)[0]!();
    // The same length, other code, other mtime: V8 alone would take the old bytecode.
    writeFileSync(bundle, FAKE_BUNDLE + 'work(2);\n');
    utimesSync(bundle, 5000, 5000);
    const stamp = cacheStamp(statSync(bundle));
    expect(readCodeCache(join(dist, RUN_BUNDLE_CACHE), stamp)).toBeUndefined();
    loadRunBundle(RUN_BUNDLE, {}, dir);
    expect(log.ready).toHaveLength(1);
    log.ready[0]!();
    expect(readCodeCache(join(dist, RUN_BUNDLE_CACHE), stamp)?.length).toBeGreaterThan(0);
  });

  it('V8 rejecting the data (corrupt or from another Node) means a rewrite, not a failure', () => {
    const log = fresh();
    const { dir, dist } = fakeBundleDist();
    const stamp = cacheStamp(statSync(join(dist, 'run.bundle.cjs')));
    writeFileSync(join(dist, RUN_BUNDLE_CACHE), Buffer.concat([Buffer.from(stamp, 'latin1'), Buffer.alloc(64, 7)]));
    loadRunBundle(RUN_BUNDLE, {}, dir);
    expect(log.loads).toHaveLength(1);
    expect(log.ready).toHaveLength(1);
  });

  it('MPTCPD_LITE_CODE_CACHE=0 neither reads nor writes a cache', () => {
    const log = fresh();
    const { dir, dist } = fakeBundleDist();
    loadRunBundle(RUN_BUNDLE, { MPTCPD_LITE_CODE_CACHE: '0' }, dir);
    expect(log.loads).toHaveLength(1);
    expect(log.ready).toHaveLength(0);
    expect(readdirSync(dist)).toEqual(['run.bundle.cjs']);
  });
});

// The built bundle (npm run build) maps back to the TypeScript sources of the app and its packages.
const builtMap = new URL('../dist/run.bundle.cjs.map', import.meta.url);
describe.skipIf(!existsSync(builtMap))('dist/run.bundle.cjs', () => {
  it('has a source map whose sources are the TypeScript files', () => {
    const map = JSON.parse(readFileSync(builtMap, 'utf8')) as { sources: string[]; sourcesContent: string[] };
    // package-root.js is the one file the bundle replaces and native-subset: and lazy-builtin: the
    // modules it makes (scripts/bundle-run.mjs); a types-only module compiles to an empty
    // `export {};`: none has code to map.
    const ours = map.sources.filter(
      (s, i) =>
        !s.includes('node_modules') &&
        !s.endsWith('native/dist/package-root.js') &&
        !s.startsWith('native-subset:') &&
        !s.startsWith('lazy-builtin:') &&
        !/^export \{\};\s*(\/\/# sourceMappingURL=\S+\s*)?$/.test(map.sourcesContent[i] ?? ''),
    );
    expect(ours.length).toBeGreaterThan(50);
    for (const s of ours) expect(s).toMatch(/\.ts$/);
    expect(ours.some((s) => s === '../src/daemon/daemon.ts')).toBe(true);
    expect(ours.some((s) => s.endsWith('packages/unit/src/loader.ts'))).toBe(true);
  });

  it("loads no HTTP module at start (@mptcp/native's agents left out, --metrics loads node:http itself)", () => {
    const bundle = readFileSync(new URL('../dist/run.bundle.cjs', import.meta.url), 'utf8');
    // A lazy import('node:x') is compiled to Promise.resolve().then(() => __toESM(require("node:x"))).
    const builtins = new Set(
      [...bundle.matchAll(/(Promise\.resolve\(\)\.then\(\(\)=>__toESM\()?require\("node:([\w/]+)"\)/g)]
        .filter((m) => m[1] === undefined)
        .map((m) => m[2]),
    );
    expect(builtins.has('fs')).toBe(true);
    for (const heavy of ['http', 'http2', 'https', 'tls']) expect(builtins.has(heavy)).toBe(false);
  });

  it('the idle daemon has not loaded node:net, child_process, cluster, dgram, v8, crypto nor the stream modules', async () => {
    const root = mkdtempSync(join(tmpdir(), 'run-modules-'));
    dirs.push(root);
    const units = join(root, 'units');
    mkdirSync(units);
    writeFileSync(join(units, 'echo.socket'), '[Socket]\nListenStream=127.0.0.1:0\nAccept=yes\n');
    writeFileSync(join(units, 'echo@.service'), '[Service]\nExecStart=/bin/cat\nStandardInput=socket\n');
    // Loaded into the daemon: on SIGUSR2 it writes Node's list of loaded modules and says so.
    const hook = join(root, 'hook.cjs');
    const list = join(root, 'modules.json');
    writeFileSync(
      hook,
      `process.on('SIGUSR2', () => { require('node:fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(process.moduleLoadList)); process.stderr.write('MODULES WRITTEN\\n'); });\n`,
    );
    // The module list is the bundle's: a bundle older than its inputs (tsc run without the bundle
    // step) makes the daemon load its modules one by one, with commander's node:child_process.
    expect(
      runBundle(process.env, new URL('../dist/', import.meta.url)),
      'dist/run.bundle.cjs is stale: npm run build',
    ).toBe(RUN_BUNDLE);
    const cli = new URL('../dist/cli.cjs', import.meta.url).pathname;
    const daemon = startProcess(
      process.execPath,
      [cli, 'run', '--units', units, '--control', join(root, 'control.sock')],
      {
        env: { NODE_OPTIONS: `--require ${hook}`, NOTIFY_SOCKET: '' },
      },
    );
    try {
      await daemon.waitFor(/^\{"event":"ready"/, 60_000);
      daemon.kill('SIGUSR2');
      await daemon.waitFor(/^MODULES WRITTEN$/, 60_000);
      const loaded = new Set(JSON.parse(readFileSync(list, 'utf8')) as string[]);
      for (const m of [
        'net',
        'child_process',
        'cluster',
        'dgram',
        'v8',
        'stream',
        'internal/streams/readable',
        'crypto',
      ])
        expect(loaded.has(`NativeModule ${m}`), m).toBe(false);
      // What it does need is there (the check above is not vacuous).
      expect(loaded.has('NativeModule fs')).toBe(true);
    } finally {
      daemon.kill('SIGKILL');
      await daemon.exited;
    }
  }, 120_000);
});
