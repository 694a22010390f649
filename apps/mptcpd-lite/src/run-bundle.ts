/**
 * Whether `run` can load dist/run.bundle.js. Node's ESM loader costs about 1 ms of CPU per module
 * (resolve, read, compile, link); the daemon needs ~120 of them, so one bundled file starts
 * ~0.1 s sooner. The bundle is a build product of dist files: when one of them is newer (a package
 * was rebuilt with tsc, the bundle was not), the modules are loaded one by one as before, so a
 * stale bundle never runs. MPTCPD_LITE_BUNDLE=0 always loads the modules.
 */
import { readFileSync, statSync } from 'node:fs';

/** What scripts/bundle-run.mjs writes next to the bundle. */
export interface BundleManifest {
  /** The workspace dist files the bundle was built from, relative to this directory. */
  inputs: string[];
}

export const RUN_BUNDLE = './run.bundle.js';

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
