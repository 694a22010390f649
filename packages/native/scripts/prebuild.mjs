#!/usr/bin/env node
// Makes the committed prebuild prebuilds/linux-<arch>/@mptcp+native.glibc.node with
// `prebuildify --napi --strip --tag-libc`, reproducibly: a pinned toolchain (Debian 12's GCC 12.2 and
// binutils 2.40, the Node 20 headers installed beside node, node-addon-api from the lockfile), build paths
// mapped away (-ffile-prefix-map), C locale, UTC, SOURCE_DATE_EPOCH. Two runs give the same bytes, in any
// checkout directory.
//
//   node scripts/prebuild.mjs [--arch x64|arm64] [--check]
//
// --arch arm64 cross-compiles with Debian's g++-aarch64-linux-gnu (apt-get install g++-aarch64-linux-gnu);
// test it with scripts/smoke-arm64.sh. --check builds into a scratch directory and exits 1 when the bytes
// differ from the committed file (nothing is written). The build runs in a scratch copy of the sources, so
// the package's own build/ (a development build made by `build:addon`) is left alone.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(path.join(root, 'package.json'));

/** The toolchain the committed prebuilds were made with. A different one may give other bytes. */
const PINNED = {
  gcc: '12.2.0', // Debian 12 (bookworm) gcc-12 12.2.0-14
  nodeMajor: 20, // headers (node_api.h) and common.gypi of the Node that runs this script
};
const TOOLS = {
  x64: { prefix: '' },
  arm64: { prefix: 'aarch64-linux-gnu-' },
};

function arg(name) {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
}
const arch = arg('--arch') ?? process.arch;
const check = process.argv.includes('--check');
const tools = TOOLS[arch];
if (!tools) {
  console.error(`prebuild: unsupported --arch ${arch} (supported: ${Object.keys(TOOLS).join(', ')})`);
  process.exit(2);
}
const cc = `${tools.prefix}gcc`;
const cxx = `${tools.prefix}g++`;
const strip = `${tools.prefix}strip`;

function version(cmd) {
  try {
    return execFileSync(cmd, ['-dumpfullversion'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

const gcc = version(cxx);
if (gcc === undefined) {
  console.error(`prebuild: ${cxx} not found (apt-get install ${arch === 'x64' ? 'g++' : 'g++-aarch64-linux-gnu'})`);
  process.exit(2);
}
const nodeMajor = Number(process.versions.node.split('.')[0]);
const pinnedOk = gcc === PINNED.gcc && nodeMajor === PINNED.nodeMajor;
if (!pinnedOk && !process.argv.includes('--any-toolchain')) {
  console.error(
    `prebuild: toolchain is ${cxx} ${gcc}, node ${process.versions.node}; the prebuilds are pinned to gcc ` +
      `${PINNED.gcc} and node ${PINNED.nodeMajor}.x (Debian 12). Use that, or pass --any-toolchain (other bytes).`,
  );
  process.exit(2);
}

// Node's headers, installed beside node (no download from nodejs.org).
const nodeDir = path.resolve(path.dirname(process.execPath), '..');
if (!existsSync(path.join(nodeDir, 'include', 'node', 'node_api.h'))) {
  console.error(`prebuild: no Node headers under ${nodeDir}/include/node (install the nodejs package's headers)`);
  process.exit(2);
}

// A scratch copy of exactly what the addon is built from.
const scratch = mkdtempSync(path.join(os.tmpdir(), `mptcp-native-prebuild-${arch}-`));
try {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version }) + '\n');
  copyFileSync(path.join(root, 'binding.gyp'), path.join(scratch, 'binding.gyp'));
  mkdirSync(path.join(scratch, 'src'));
  for (const f of readdirSync(path.join(root, 'src'))
    .filter((f) => /\.(cc|h)$/.test(f))
    .sort()) {
    copyFileSync(path.join(root, 'src', f), path.join(scratch, 'src', f));
  }
  // binding.gyp asks node for require('node-addon-api').include_dir.
  symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
  const addonApi = path.dirname(require.resolve('node-addon-api/package.json'));
  const addonApiVersion = JSON.parse(readFileSync(path.join(addonApi, 'package.json'), 'utf8')).version;

  const maps = [`${scratch}=.`, `${addonApi}=node-addon-api`, `${nodeDir}/include/node=node`]
    .map((m) => `-ffile-prefix-map=${m}`)
    .join(' ');
  const env = {
    ...process.env,
    LC_ALL: 'C',
    TZ: 'UTC',
    SOURCE_DATE_EPOCH: '0',
    npm_config_nodedir: nodeDir,
    CC: cc,
    CXX: cxx,
    LINK: cxx,
    AR: `${tools.prefix}ar`,
    CFLAGS: maps,
    CXXFLAGS: maps,
    LDFLAGS: '-Wl,--build-id=sha1',
  };
  const prebuildify = path.join(path.dirname(require.resolve('prebuildify/package.json')), 'bin.js');
  const args = [
    prebuildify,
    '--napi',
    '--strip',
    '--tag-libc',
    `--arch=${arch}`,
    `--target=node@${process.versions.node}`,
    `--strip-bin=${strip}`,
  ];
  console.error(
    `prebuild: ${arch}: ${cxx} ${gcc}, node headers ${process.versions.node}, node-addon-api ${addonApiVersion}`,
  );
  const r = spawnSync(process.execPath, args, { cwd: scratch, env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error(`prebuild: prebuildify failed (exit ${r.status})`);
    process.exit(1);
  }
  const outDir = path.join(scratch, 'prebuilds', `linux-${arch}`);
  const [name] = readdirSync(outDir);
  if (!name) throw new Error(`prebuild: prebuildify wrote nothing to ${outDir}`);
  const built = readFileSync(path.join(outDir, name));
  const sha = createHash('sha256').update(built).digest('hex');
  const dest = path.join(root, 'prebuilds', `linux-${arch}`);
  if (check) {
    const committed = path.join(dest, name);
    const same = existsSync(committed) && createHash('sha256').update(readFileSync(committed)).digest('hex') === sha;
    console.log(
      `${same ? 'same' : 'DIFFERENT'}: prebuilds/linux-${arch}/${name} (built ${built.length} bytes, sha256 ${sha})`,
    );
    process.exitCode = same ? 0 : 1;
  } else {
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest, { recursive: true });
    cpSync(path.join(outDir, name), path.join(dest, name));
    console.log(`wrote prebuilds/linux-${arch}/${name}: ${built.length} bytes, sha256 ${sha}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
