#!/usr/bin/env node
// @mptcp/native's install step. It never fails the install: MPTCP is an optimisation, and the package
// falls back to plain TCP when the addon is missing (mptcpSupport() reports available: false, reason
// 'addon-unavailable'). In order:
//   1. the prebuild for this platform (prebuilds/<platform>-<arch>/) or an existing build/Release loads → done;
//   2. otherwise, on Linux with python3, make and a C++ compiler, build from source with node-gyp;
//   3. otherwise install anyway and print what is missing and how to build later.
// npm_config_build_from_source=true (npm install --build-from-source) skips step 1.
// `node scripts/install.cjs --build` (the package's build:addon script) is the development build: it always
// compiles into build/Release (which the loader prefers over the prebuild) and fails when the build fails.
'use strict';

const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const target = `${process.platform}-${process.arch}`;

function warn(lines) {
  const text = ['', 'WARNING: the native addon is not installed for ' + target + '.', ...lines, ''];
  process.stderr.write(text.map((l) => (l ? `@mptcp/native: ${l}` : '')).join('\n') + '\n');
}

function loads() {
  try {
    require('node-gyp-build')(root);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: String(err && err.message ? err.message : err).split('\n')[0] };
  }
}

function onPath(cmd) {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  return dirs.some((d) => existsSync(path.join(d, cmd)));
}

/** The tools a node-gyp build needs that are missing here (empty when a build can be tried). */
function missingTools() {
  const missing = [];
  const cxx = process.env.CXX ? process.env.CXX.split(/\s+/)[0] : undefined;
  if (cxx ? !(path.isAbsolute(cxx) ? existsSync(cxx) : onPath(cxx)) : !['c++', 'g++', 'clang++'].some(onPath)) {
    missing.push('a C++ compiler (g++ or clang++)');
  }
  if (!onPath('make')) missing.push('make');
  if (!process.env.PYTHON && !process.env.npm_config_python && !onPath('python3') && !onPath('python')) {
    missing.push('python3');
  }
  return missing;
}

/** node-gyp as npm/pnpm provide it to install scripts, else from PATH or a local install. */
function nodeGypCommand() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, [fromNpm]];
  try {
    return [process.execPath, [require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] })]];
  } catch {
    return onPath('node-gyp') ? ['node-gyp', []] : undefined;
  }
}

/**
 * The headers of the running Node when they are installed beside it (Debian, NodeSource and the
 * nodejs.org tarballs ship include/node/), so node-gyp does not download them.
 */
function localNodeDir() {
  if (process.env.npm_config_nodedir) return undefined;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const header = path.join(prefix, 'include', 'node', 'node_version.h');
  if (!existsSync(header) || !existsSync(path.join(prefix, 'include', 'node', 'common.gypi'))) return undefined;
  const text = require('node:fs').readFileSync(header, 'utf8');
  const v = ['MAJOR', 'MINOR', 'PATCH'].map(
    (k) => (new RegExp(`#define NODE_${k}_VERSION (\\d+)`).exec(text) || [])[1],
  );
  return `v${v.join('.')}` === process.version ? prefix : undefined;
}

const fallback = [
  'It still works: listen()/connect() use plain TCP and mptcpSupport() reports',
  "{ available: false, reason: 'addon-unavailable' }.",
  'To get MPTCP, install python3, make and g++ and run: npm rebuild @mptcp/native',
];

function main() {
  const dev = process.argv.includes('--build');
  const fromSource = dev || /^(true|1)$/i.test(process.env.npm_config_build_from_source || '');
  if (!fromSource) {
    const first = loads();
    if (first.ok) return;
    if (process.platform !== 'linux') {
      warn([`MPTCP sockets need Linux; this is ${process.platform}.`, ...fallback.slice(0, 2)]);
      return;
    }
  }
  const missing = missingTools();
  const gyp = nodeGypCommand();
  if (missing.length > 0 || !gyp) {
    if (dev) throw new Error(`cannot build: missing ${[...missing, ...(gyp ? [] : ['node-gyp'])].join(', ')}`);
    warn([
      `No prebuilt addon loads for ${target}, and building it from source needs ` +
        [...missing, ...(gyp ? [] : ['node-gyp'])].join(', ') +
        ', which this machine lacks.',
      ...fallback,
    ]);
    return;
  }
  if (!dev)
    process.stderr.write(`@mptcp/native: no usable prebuild for ${target}; building from source with node-gyp\n`);
  const [cmd, args] = gyp;
  const nodedir = localNodeDir();
  const r = spawnSync(cmd, [...args, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], {
    cwd: root,
    stdio: 'inherit',
  });
  if (r.status === 0 && loads().ok) return;
  if (dev) process.exit(r.status || 1);
  warn([
    `Building from source failed (node-gyp ${r.error ? r.error.message : `exit ${r.status}`}; output above).`,
    ...fallback,
  ]);
}

main();
