import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RUN_BUNDLE, runBundle } from '../src/run-bundle.js';

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
  writeFileSync(join(dist, 'run.bundle.js'), '');
  utimesSync(join(dist, 'run.bundle.js'), bundleAt, bundleAt);
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

// The built bundle (npm run build) maps back to the TypeScript sources of the app and its packages.
const builtMap = new URL('../dist/run.bundle.js.map', import.meta.url);
describe.skipIf(!existsSync(builtMap))('dist/run.bundle.js', () => {
  it('has a source map whose sources are the TypeScript files', () => {
    const map = JSON.parse(readFileSync(builtMap, 'utf8')) as { sources: string[]; sourcesContent: string[] };
    // package-root.js is the one file the bundle replaces and native-subset: the one module it makes
    // (scripts/bundle-run.mjs); a types-only module compiles to an empty `export {};`: none has code
    // to map.
    const ours = map.sources.filter(
      (s, i) =>
        !s.includes('node_modules') &&
        !s.endsWith('native/dist/package-root.js') &&
        !s.startsWith('native-subset:') &&
        !/^export \{\};\s*(\/\/# sourceMappingURL=\S+\s*)?$/.test(map.sourcesContent[i] ?? ''),
    );
    expect(ours.length).toBeGreaterThan(50);
    for (const s of ours) expect(s).toMatch(/\.ts$/);
    expect(ours.some((s) => s === '../src/daemon/daemon.ts')).toBe(true);
    expect(ours.some((s) => s.endsWith('packages/unit/src/loader.ts'))).toBe(true);
  });

  it("loads no HTTP module at start (@mptcp/native's agents left out, --metrics loads node:http itself)", () => {
    const bundle = readFileSync(new URL('../dist/run.bundle.js', import.meta.url), 'utf8');
    const builtins = new Set([...bundle.matchAll(/from\s*"node:([\w/]+)"/g)].map((m) => m[1]));
    expect(builtins.has('fs')).toBe(true);
    for (const heavy of ['http', 'http2', 'https', 'tls']) expect(builtins.has(heavy)).toBe(false);
  });
});
