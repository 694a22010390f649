/**
 * Whether `run` can load dist/run.bundle.cjs, and loading it. Node's ESM loader costs about 1 ms of
 * CPU per module (resolve, read, compile, link); the daemon needs ~120 of them, so one bundled file
 * starts ~0.1 s sooner. The bundle is a build product of dist files: when one of them is newer (a
 * package was rebuilt with tsc, the bundle was not), the modules are loaded one by one as before, so a
 * stale bundle never runs. MPTCPD_LITE_BUNDLE=0 always loads the modules.
 *
 * The bundle is CommonJS so that it can be compiled with a V8 code cache (vm.Script `cachedData`; Node
 * 20 has no module.enableCompileCache): dist/run.bundle.cache holds the bytecode of every function
 * the daemon ran up to READY=1, written by the first start after a build (when dist/ is writable) and
 * checked against the bundle's size, mtime and inode, then by V8 itself (its version and flags). With
 * it, parsing the 0.4 MB bundle and compiling the functions start-up runs costs ~50 ms less CPU per
 * start. MPTCPD_LITE_CODE_CACHE=0 neither reads nor writes it.
 */
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/** What scripts/bundle-run.mjs writes next to the bundle. */
export interface BundleManifest {
  /** The workspace dist files the bundle was built from, relative to this directory. */
  inputs: string[];
}

export const RUN_BUNDLE = './run.bundle.cjs';
/** The code cache beside the bundle: a stamp line, then V8's data. */
export const RUN_BUNDLE_CACHE = './run.bundle.cache';

/**
 * The bundle's specifier (relative to `dir`, dist/ by default) when it is usable, else undefined:
 * no bundle or manifest, MPTCPD_LITE_BUNDLE=0, or an input newer than the bundle.
 */
export function runBundle(
  env: NodeJS.ProcessEnv = process.env,
  dir: URL = new URL('./', import.meta.url),
): string | undefined {
  if (env.MPTCPD_LITE_BUNDLE === '0') return undefined;
  try {
    const built = statSync(new URL(RUN_BUNDLE, dir)).mtimeMs;
    const manifest = JSON.parse(readFileSync(new URL('./run.bundle.json', dir), 'utf8')) as BundleManifest;
    for (const input of manifest.inputs) {
      // An input that is not there (an installed package lays dist out differently) cannot be newer.
      const st = statSync(new URL(input, dir), { throwIfNoEntry: false });
      if (st && st.mtimeMs > built) return undefined;
    }
    return RUN_BUNDLE;
  } catch {
    return undefined;
  }
}

/** What the bundle's entry (main-run.ts) exports. */
export interface RunBundleExports {
  /** Registers a callback run once the daemon is ready (after READY=1, before the compacting GC). */
  afterReady(fn: () => void): void;
}

/**
 * Which bundle a cache belongs to. V8 checks its own version and flags, but of the source only the
 * length: a rebuilt bundle of the same length would get the old bytecode. The build removes the cache
 * too (scripts/bundle-run.mjs); the stamp also covers a bundle replaced by other means.
 */
export function cacheStamp(st: Pick<Stats, 'size' | 'mtimeMs' | 'ino'>): string {
  return `mptcpd-lite code cache ${st.size} ${st.mtimeMs} ${st.ino}\n`;
}

/** V8's data in `file` when its stamp is `stamp`, else undefined (no file, another bundle). */
export function readCodeCache(file: string, stamp: string): Buffer | undefined {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    return undefined;
  }
  const head = Buffer.from(stamp, 'latin1');
  return data.length > head.length && data.subarray(0, head.length).equals(head)
    ? data.subarray(head.length)
    : undefined;
}

/** Writes `data` under `stamp` to `file` atomically (temporary file + rename); false when it cannot. */
export function writeCodeCache(file: string, stamp: string, data: Buffer): boolean {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, stamp, null, 'latin1');
      writeSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    return true;
  } catch {
    // dist/ is read-only (an installed package run by another user): run without a cache.
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was created
    }
    return false;
  }
}

/**
 * Runs the bundle `specifier` (from runBundle()) in this context, as Node runs a CommonJS module,
 * compiled with its code cache when there is a valid one; without one (first start after a build, or
 * V8 rejected it) the daemon writes one once it is ready.
 */
export function loadRunBundle(
  specifier: string,
  env: NodeJS.ProcessEnv = process.env,
  dir: URL = new URL('./', import.meta.url),
): RunBundleExports {
  const file = fileURLToPath(new URL(specifier, dir));
  const cacheFile = fileURLToPath(new URL(RUN_BUNDLE_CACHE, dir));
  const useCache = env.MPTCPD_LITE_CODE_CACHE !== '0';
  const stamp = cacheStamp(statSync(file));
  const cachedData = useCache ? readCodeCache(cacheFile, stamp) : undefined;
  // The parameters of Node's CommonJS wrapper, plus the bundle's import.meta.url (see bundle-run.mjs).
  const wrapped = `(function (exports, require, module, __filename, __dirname, __bundleUrl) {${readFileSync(file, 'utf8')}\n})`;
  const script = new Script(wrapped, { filename: file, cachedData });
  const module = { exports: {} as RunBundleExports };
  (
    script.runInThisContext() as (
      exports: object,
      require: NodeJS.Require,
      module: object,
      filename: string,
      dirname: string,
      bundleUrl: string,
    ) => void
  )(module.exports, createRequire(file), module, file, fileURLToPath(dir), new URL(specifier, dir).href);
  if (useCache && (cachedData === undefined || script.cachedDataRejected === true)) {
    // After ready: the cache then holds every function start-up compiled, not only the top level.
    module.exports.afterReady(() => writeCodeCache(cacheFile, stamp, script.createCachedData()));
  }
  return module.exports;
}
