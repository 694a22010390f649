// After tsc: bundles dist/main-run.js (the `run` command, the daemon and the workspace packages it
// imports) into dist/run.bundle.js, with a source map that leads back to the TypeScript sources
// (esbuild follows each input's own map). dist/run.bundle.json lists the inputs so cli.js can tell
// a stale bundle (src/run-bundle.ts).
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = resolve(root, 'dist');
const outfile = resolve(dist, 'run.bundle.js');

const result = await build({
  absWorkingDir: root,
  entryPoints: [resolve(dist, 'main-run.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  // No keepNames: it wraps every function expression in a __name() call, closures created per unit
  // too (a start-up profile with 1,000 units spent more in __name than in opening the sockets).
  // Nothing reads Function#name; the map gives stack traces their source names.
  metafile: true,
  logLevel: 'warning',
  // commander is CommonJS: its require() calls of node builtins need a real require.
  banner: {
    js: "import { createRequire as __bundleRequire } from 'node:module';\nconst require = __bundleRequire(import.meta.url);",
  },
  plugins: [
    {
      // @mptcp/native finds its addon (build/, prebuilds/) from its own directory: in the bundle that
      // is where the package resolves from here, not the bundle's directory.
      name: 'native-package-root',
      setup(b) {
        b.onLoad({ filter: /[\\/]native[\\/]dist[\\/]package-root\.js$/ }, () => ({
          loader: 'js',
          contents:
            "import { createRequire } from 'node:module';\nimport { dirname } from 'node:path';\n" +
            "export const packageRoot = dirname(createRequire(import.meta.url).resolve('@mptcp/native/package.json'));\n",
        }));
      },
    },
  ],
});

const inputs = Object.keys(result.metafile.inputs)
  .map((f) => resolve(root, f))
  .filter((f) => !f.includes(`${'/'}node_modules${'/'}`) && f.endsWith('.js'))
  .map((f) => relative(dist, f))
  .map((f) => (f.startsWith('.') ? f : `./${f}`))
  .sort();
writeFileSync(resolve(dist, 'run.bundle.json'), `${JSON.stringify({ inputs }, null, 1)}\n`);
