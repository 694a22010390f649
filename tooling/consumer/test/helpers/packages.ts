/**
 * The publishable packages of the workspace, packed with `pnpm pack` (which turns `workspace:` ranges into
 * versions, as `pnpm publish` does) and unpacked for inspection.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  files?: string[];
  [key: string]: unknown;
}

export interface WorkspacePackage {
  name: string;
  version: string;
  dir: string;
  manifest: Manifest;
}

export interface PackedPackage extends WorkspacePackage {
  tarball: string;
  /** The tarball unpacked: <dir>/package/… */
  unpacked: string;
  bytes: number;
  unpackedBytes: number;
  files: string[];
}

function readManifest(file: string): Manifest {
  return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
}

/** Every non-private package under packages/ and apps/, in dependency-free order of discovery. */
export function publishablePackages(): WorkspacePackage[] {
  const out: WorkspacePackage[] = [];
  for (const group of ['packages', 'apps']) {
    for (const entry of readdirSync(path.join(repoRoot, group)).sort()) {
      const dir = path.join(repoRoot, group, entry);
      const file = path.join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = readManifest(file);
      if (manifest.private === true) continue;
      out.push({ name: manifest.name, version: manifest.version, dir, manifest });
    }
  }
  return out;
}

function walk(dir: string, base = dir): string[] {
  const files: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...walk(p, base));
    else files.push(path.relative(base, p));
  }
  return files.sort();
}

/** `pnpm pack` into `dest`, then unpack next to it. */
export function pack(pkg: WorkspacePackage, dest: string): PackedPackage {
  mkdirSync(dest, { recursive: true });
  const out = execFileSync('npx', ['-y', 'pnpm@10', 'pack', '--pack-destination', dest], {
    cwd: pkg.dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tarball = out
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .reverse()
    .find((l) => l.endsWith('.tgz'));
  if (!tarball || !existsSync(tarball)) throw new Error(`pnpm pack in ${pkg.dir} did not report a tarball:\n${out}`);
  const unpacked = path.join(dest, path.basename(tarball, '.tgz'));
  mkdirSync(unpacked, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
  const files = walk(path.join(unpacked, 'package'));
  const unpackedBytes = files.reduce((sum, f) => sum + statSync(path.join(unpacked, 'package', f)).size, 0);
  return { ...pkg, tarball, unpacked, bytes: statSync(tarball).size, unpackedBytes, files };
}

/** Source maps whose `sources` name a file that is not in the package. */
export function danglingSourceMaps(p: PackedPackage): string[] {
  const root = path.join(p.unpacked, 'package');
  const bad: string[] = [];
  for (const f of p.files.filter((f) => f.endsWith('.map'))) {
    const map = JSON.parse(readFileSync(path.join(root, f), 'utf8')) as {
      sources?: string[];
      sourceRoot?: string;
      sourcesContent?: (string | null)[];
    };
    for (const [i, s] of (map.sources ?? []).entries()) {
      // A source the map carries itself (sourcesContent, as in mptcpd-lite's run bundle, which holds
      // the other packages' code) needs no file: a debugger shows the embedded text.
      if (typeof map.sourcesContent?.[i] === 'string') continue;
      const target = path.resolve(path.dirname(path.join(root, f)), map.sourceRoot ?? '', s);
      if (!target.startsWith(root + path.sep) || !existsSync(target)) bad.push(`${f} -> ${s}`);
    }
  }
  return bad;
}

export function formatTable(rows: PackedPackage[]): string {
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} kB`;
  const lines = rows.map(
    (p) =>
      `${`${p.name}@${p.version}`.padEnd(26)} ${kb(p.bytes).padStart(10)} ${kb(p.unpackedBytes).padStart(11)} ${String(p.files.length).padStart(6)}`,
  );
  return [
    `${'package'.padEnd(26)} ${'tarball'.padStart(10)} ${'unpacked'.padStart(11)} ${'files'.padStart(6)}`,
    ...lines,
  ].join('\n');
}
