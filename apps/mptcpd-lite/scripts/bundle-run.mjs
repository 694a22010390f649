// After tsc: bundles dist/main-run.js (the `run` command, the daemon and the workspace packages it
// imports) into dist/run.bundle.cjs, with a source map that leads back to the TypeScript sources
// (esbuild follows each input's own map). dist/run.bundle.json lists the inputs so cli.js can tell
// a stale bundle (src/run-bundle.ts). CommonJS, so that cli.js can compile it with a V8 code cache
// (dist/run.bundle.cache, written by the first daemon start; a new build removes the old one).
import { build } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = resolve(root, 'dist');
const outfile = resolve(dist, 'run.bundle.cjs');

// @mptcp/native finds its addon (build/, prebuilds/) from its own directory: in a bundle that is
// where the package resolves from here, not the bundle's directory. Both bundles load the addon
// (the launcher sets the daemon's V8 flags through it).
const nativePackageRoot = {
  name: 'native-package-root',
  setup(b) {
    b.onLoad({ filter: /[\\/]native[\\/]dist[\\/]package-root\.js$/ }, () => ({
      loader: 'js',
      contents:
        "import { createRequire } from 'node:module';\nimport { dirname } from 'node:path';\n" +
        "export const packageRoot = dirname(createRequire(import.meta.url).resolve('@mptcp/native/package.json'));\n",
    }));
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: [resolve(dist, 'main-run.js')],
  outfile,
  bundle: true,
  platform: 'node',
  // Run by run-bundle.ts as Node runs a CommonJS module (vm.Script, for its code cache); its wrapper
  // passes the bundle's URL as __bundleUrl, which stands for import.meta.url.
  format: 'cjs',
  define: { 'import.meta.url': '__bundleUrl' },
  // import() of a builtin (node:http for --metrics) becomes require(): a vm.Script has no ESM loader.
  supported: { 'dynamic-import': false },
  target: 'node20',
  sourcemap: 'linked',
  // No keepNames: it wraps every function expression in a __name() call, closures created per unit
  // too (a start-up profile with 1,000 units spent more in __name than in opening the sockets).
  // Nothing reads Function#name; the map gives stack traces their source names.
  metafile: true,
  // Whitespace and syntax only (names are kept, the map still leads back to the sources): V8 parses
  // a third less text at every start (`run --help`: 160 → 140 ms CPU).
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
  plugins: [
    {
      // The workspace packages have no module-level side effects (native's register.js, the one
      // that has, is not imported here), but only @mptcp/activation says so in its package.json.
      // Marking their files side-effect free lets esbuild drop the modules the daemon never calls,
      // with their node:http/http2/https/tls imports (~30 ms of Node's module loading per start).
      name: 'workspace-side-effect-free',
      setup(b) {
        b.onResolve({ filter: /^(\.\.?\/|@mptcp\/)/ }, async (args) => {
          if (args.pluginData?.sideEffectFree) return undefined;
          const r = await b.resolve(args.path, {
            kind: args.kind,
            importer: args.importer,
            resolveDir: args.resolveDir,
            pluginData: { sideEffectFree: true },
          });
          if (
            r.errors.length > 0 ||
            r.namespace !== 'file' ||
            !/[\\/]packages[\\/](native|constants|unit|activation)[\\/]dist[\\/]/.test(r.path)
          )
            return undefined;
          if (/[\\/]register\.js$/.test(r.path)) return undefined;
          return { path: r.path, sideEffects: false };
        });
      },
    },
    {
      // @mptcp/activation loads @mptcp/native with import() (native-binding.js), which would bundle
      // every module of it, with node:http/http2/https/tls (~12 ms and ~3 MB RSS per start, for
      // HTTP agents the daemon never uses). In the bundle that import() gets a module with only the
      // names native-binding.js reads (`mod.NAME`); if it ever uses the module otherwise, the whole
      // package is kept, as before.
      name: 'native-binding-subset',
      setup(b) {
        b.onResolve({ filter: /^@mptcp\/native$/ }, (args) =>
          args.kind === 'dynamic-import' && /[\\/]activation[\\/]dist[\\/]native-binding\.js$/.test(args.importer)
            ? { path: `${args.importer}#native-subset`, namespace: 'native-subset' }
            : undefined,
        );
        b.onLoad({ filter: /.*/, namespace: 'native-subset' }, (args) => {
          const importer = args.path.slice(0, -'#native-subset'.length);
          const source = readFileSync(importer, 'utf8');
          const names = [...new Set([...source.matchAll(/\bmod\.(\w+)/g)].map((m) => m[1]))].sort();
          // `mod` other than `mod.NAME`, `(mod) =>`, `adaptNative(mod)` and `adaptNative(mod: …)`.
          const other = source
            .replace(/\bmod\.\w+/g, '')
            .replace(/\(mod\)/g, '')
            .replace(/\bmod: /g, '')
            .match(/\bmod\b/);
          const contents = other
            ? "export * from '@mptcp/native';\n"
            : `export { ${names.join(', ')} } from '@mptcp/native';\n`;
          return { contents, loader: 'js', resolveDir: dirname(importer) };
        });
      },
    },
    {
      // commander requires node:child_process at load, for executable subcommands `run` never has;
      // with it come net, dgram and the stream modules (~1 MB of the idle daemon's RSS). In the
      // bundle commander gets a stand-in that loads the module at its first use.
      name: 'commander-lazy-child-process',
      setup(b) {
        b.onResolve({ filter: /^node:child_process$/ }, (args) =>
          /[\\/]commander[\\/]lib[\\/]command\.js$/.test(args.importer)
            ? { path: 'lazy-child-process', namespace: 'lazy-builtin' }
            : undefined,
        );
        b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, () => ({
          loader: 'js',
          contents:
            "let m;\nmodule.exports = new Proxy({}, { get: (_, key) => (m ??= require('node:child_process'))[key] });\n",
        }));
      },
    },
    nativePackageRoot,
  ],
});

// dist/cli.cjs, the bin (src/cli-launch.ts): the launcher as CommonJS, so that Node does not start its
// ES module loader for `run`. import.meta.url is this file's URL; main.js (the other commands) stays
// an ES module, imported from there.
await build({
  absWorkingDir: root,
  entryPoints: [resolve(dist, 'cli-launch.js')],
  outfile: resolve(dist, 'cli.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['./main.js'],
  plugins: [nativePackageRoot],
  define: { 'import.meta.url': '__launcherUrl' },
  banner: { js: "const __launcherUrl = require('node:url').pathToFileURL(__filename).href;" },
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: 'warning',
});

// The old bundle's code cache would be rejected anyway (another source); do not leave it behind.
rmSync(resolve(dist, 'run.bundle.cache'), { force: true });
rmSync(resolve(dist, 'run.bundle.js'), { force: true });
rmSync(resolve(dist, 'run.bundle.js.map'), { force: true });

const inputs = Object.keys(result.metafile.inputs)
  .map((f) => resolve(root, f))
  .filter((f) => !f.includes(`${'/'}node_modules${'/'}`) && f.endsWith('.js'))
  .map((f) => relative(dist, f))
  .map((f) => (f.startsWith('.') ? f : `./${f}`))
  .sort();
writeFileSync(resolve(dist, 'run.bundle.json'), `${JSON.stringify({ inputs }, null, 1)}\n`);
