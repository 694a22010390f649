/**
 * What a user gets from npm: every publishable package packed (`pnpm pack`, as `pnpm publish` would),
 * installed from the tarballs with plain npm into a fresh project whose PATH has no compiler, then used
 * the ways a user would: ESM import, CJS require, TypeScript (--strict, node16 and bundler resolution),
 * `npx mptcpd-lite --version`, and an MPTCP echo through the installed @mptcp/native. A second project
 * gets @mptcp/native WITHOUT prebuilds: the install must still succeed (with a warning) and the package
 * must fall back to TCP.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  danglingSourceMaps,
  formatTable,
  pack,
  publishablePackages,
  type Manifest,
  type PackedPackage,
} from './helpers/packages.js';
import { bareBin, createProject, type Project } from './helpers/project.js';

const onCI = process.env['CI'] === 'true';
const work = mkdtempSync(path.join(os.tmpdir(), 'mptcp-consumer-'));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
let packed: PackedPackage[] = [];
let project: Project;
let bin: string;

function byName(name: string): PackedPackage {
  const p = packed.find((x) => x.name === name);
  if (!p) throw new Error(`${name} was not packed`);
  return p;
}

function mptcpAvailable(): string | undefined {
  try {
    const fd = execFileSync(
      'python3',
      ['-c', 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262); print("ok")'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    return fd.trim() === 'ok' ? undefined : 'MPTCP socket() failed';
  } catch (err) {
    return `MPTCP unavailable: ${(err as Error).message.split('\n')[0]}`;
  }
}

beforeAll(() => {
  packed = publishablePackages().map((p) => pack(p, path.join(work, 'tarballs')));
  console.log(`\n${formatTable(packed)}\n`);
  bin = bareBin(work);
  project = createProject(path.join(work, 'app'), bin, { type: 'module' });
  // @types/node is what any TypeScript user of node:net has; typescript itself comes from the workspace.
  project.ok('npm', [
    'install',
    '--no-audit',
    '--no-fund',
    '--foreground-scripts',
    ...packed.map((p) => p.tarball),
    '@types/node@^20',
  ]);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('tarballs', () => {
  it('every publishable package is packed', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(
      expect.arrayContaining(['@mptcp/activation', '@mptcp/constants', '@mptcp/native', '@mptcp/unit', 'mptcpd-lite']),
    );
  });

  it('package.json carries versions, never workspace:, and the publishing metadata', () => {
    for (const p of packed) {
      const text = readFileSync(path.join(p.unpacked, 'package', 'package.json'), 'utf8');
      expect(text, p.name).not.toContain('workspace:');
      const m = JSON.parse(text) as Manifest;
      expect(m.version).toBe(p.version);
      expect(m['license']).toBe('MIT');
      expect(m['private'], p.name).toBeUndefined();
      expect(m['repository'], p.name).toMatchObject({ type: 'git' });
      expect(m['publishConfig'], p.name).toEqual({ access: 'public' });
      for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
        const local = packed.find((x) => x.name === dep);
        if (local) expect(range, `${p.name} -> ${dep}`).toBe(`^${local.version}`);
      }
    }
  });

  it('ships LICENSE and README, no build or dev leftovers', () => {
    for (const p of packed) {
      expect(p.files, p.name).toContain('LICENSE');
      expect(p.files, p.name).toContain('README.md');
      const leftovers = p.files.filter((f) =>
        /(^|\/)\.tsbuildinfo$|(^|\/)demo\.(js|d\.ts)(\.map)?$|^bench\/|^scripts\/(?!install\.cjs$)|^test\/|\.test\.[jt]s$|^build\/|^\.turbo\//.test(
          f,
        ),
      );
      expect(leftovers, p.name).toEqual([]);
    }
  });

  it('source maps point at sources that are in the tarball', () => {
    for (const p of packed) expect(danglingSourceMaps(p), p.name).toEqual([]);
  });

  it('@mptcp/native ships the x64 and arm64 prebuilds, its sources and the install script', () => {
    const files = byName('@mptcp/native').files;
    expect(files.some((f) => f.startsWith('prebuilds/linux-x64/') && f.endsWith('.node'))).toBe(true);
    expect(files.some((f) => f.startsWith('prebuilds/linux-arm64/') && f.endsWith('.node'))).toBe(true);
    expect(files).toEqual(expect.arrayContaining(['binding.gyp', 'scripts/install.cjs', 'src/addon.cc']));
    const m = JSON.parse(
      readFileSync(path.join(byName('@mptcp/native').unpacked, 'package', 'package.json'), 'utf8'),
    ) as Manifest;
    expect(Object.keys(m.dependencies ?? {})).toEqual(expect.arrayContaining(['node-addon-api', 'node-gyp-build']));
  });
});

describe('installed with npm, no compiler on PATH', () => {
  it('the PATH really has no compiler', () => {
    for (const tool of ['cc', 'gcc', 'g++', 'c++', 'clang', 'make', 'python3', 'pnpm']) {
      expect(project.run('sh', ['-c', `command -v ${tool}`]).status, tool).not.toBe(0);
    }
  });

  it('ESM: every package imports', () => {
    for (const p of packed) {
      const entries = Object.keys((p.manifest['exports'] as Record<string, unknown> | undefined) ?? { '.': 1 }).filter(
        (e) => e !== './package.json' && !e.includes('*'),
      );
      for (const e of entries) {
        const spec = e === '.' ? p.name : `${p.name}/${e.slice(2)}`;
        if (p.manifest.bin && e === '.') continue; // an app without a library entry
        const out = project.ok('node', [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(spec)}); console.log(Object.keys(m).length)`,
        ]);
        // A side-effect entry (@mptcp/native/register) may export nothing; a package's main entry must not.
        if (e === '.') expect(Number(out.trim()), spec).toBeGreaterThan(0);
      }
    }
  });

  it('ESM: the installed @mptcp/native loads its prebuild', () => {
    const out = project.ok('node', [
      '--input-type=module',
      '-e',
      "import { bindingAvailable } from '@mptcp/native'; console.log(bindingAvailable())",
    ]);
    expect(out.trim()).toBe('true');
  });

  it('CJS: require() of every library package', () => {
    const failures: string[] = [];
    for (const p of packed.filter((x) => !x.manifest.bin)) {
      const r = project.run('node', [
        '-e',
        `const m = require(${JSON.stringify(p.name)}); console.log(Object.keys(m).length)`,
      ]);
      if (r.status !== 0 || !(Number(r.stdout.trim()) > 0))
        failures.push(`${p.name}: ${(r.stderr.split('\n').find((l) => /Error|error/.test(l)) ?? r.stderr).trim()}`);
    }
    expect(failures).toEqual([]);
  });

  it.each([
    ['node16', { module: 'node16', moduleResolution: 'node16' }],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ])('TypeScript --strict, moduleResolution %s: the types are real (a misuse is an error)', (name, options) => {
    const src = path.join(project.dir, `ts-${name}`);
    mkdirSync(src, { recursive: true });
    writeFileSync(
      path.join(src, 'index.ts'),
      [
        "import { connect, isMptcp, listen, mptcpSupport, type MptcpSupport } from '@mptcp/native';",
        "import { IPPROTO_MPTCP } from '@mptcp/constants';",
        "import * as unit from '@mptcp/unit';",
        "import * as activation from '@mptcp/activation';",
        "import { listenFds } from '@mptcp/activation/listen-fds';",
        'const support: MptcpSupport = mptcpSupport();',
        'const protocol: number = IPPROTO_MPTCP;',
        "const server = listen({ host: '127.0.0.1', port: 0, mptcp: 'prefer' }, (c) => c.end());",
        "const client = connect({ host: '127.0.0.1', port: 1, mptcp: 'prefer' });",
        'const mp: boolean = isMptcp(client);',
        'const fds = listenFds();',
        '// @ts-expect-error the mode is a union of string literals, not any string',
        "listen({ host: '127.0.0.1', port: 0, mptcp: 'sometimes' });",
        'export { support, protocol, server, mp, fds, unit, activation };',
        '',
      ].join('\n'),
    );
    writeFileSync(
      path.join(src, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          ...options,
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['index.ts'],
      }),
    );
    const r = project.run('node', [tsc, '-p', src]);
    expect(r.stdout + r.stderr, `tsc ${name}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('npx mptcpd-lite --version prints the packed version', () => {
    const out = project.ok('npx', ['--no-install', 'mptcpd-lite', '--version']);
    expect(out.trim()).toContain(byName('mptcpd-lite').version);
  });

  it('an MPTCP echo through the installed packages', (ctx) => {
    const why = mptcpAvailable();
    if (why) {
      if (onCI) throw new Error(`required capability missing on CI: ${why}`);
      console.warn(`skipping: ${why}`);
      ctx.skip();
    }
    const script = `
      import { connect, isMptcp, listen } from '@mptcp/native';
      const server = listen({ host: '127.0.0.1', port: 0, mptcp: 'require' }, (c) => c.pipe(c));
      server.on('listening', () => {
        const s = connect({ host: '127.0.0.1', port: server.address().port, mptcp: 'require' }, () => s.end('hello over MPTCP\\n'));
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('end', () => { console.log(JSON.stringify({ got, client: isMptcp(s) })); server.close(); });
      });`;
    const out = project.ok('node', ['--input-type=module', '-e', script]);
    expect(JSON.parse(out)).toEqual({ got: 'hello over MPTCP\n', client: true });
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('the installed mptcpd-lite', () => {
  it('runs its example units as shipped: MPTCP echo (Accept=yes) and the Node HTTP service (%Y path)', async (ctx) => {
    const why = mptcpAvailable();
    if (why) {
      if (onCI) throw new Error(`required capability missing on CI: ${why}`);
      console.warn(`skipping: ${why}`);
      ctx.skip();
    }
    // Only the ports change, through drop-ins in a directory searched first; the units are the shipped files.
    const over = path.join(work, 'units-override');
    const ports = { echo: await freePort(), http: await freePort() };
    for (const [unit, port] of Object.entries(ports)) {
      mkdirSync(path.join(over, `${unit}.socket.d`), { recursive: true });
      writeFileSync(
        path.join(over, `${unit}.socket.d`, 'port.conf'),
        `[Socket]\nListenStream=\nListenStream=127.0.0.1:${port}\n`,
      );
    }
    const shipped = path.join(project.dir, 'node_modules', 'mptcpd-lite', 'examples', 'units');
    const control = path.join(work, 'control.sock');
    // The installed bin itself (not through npx, so that SIGTERM reaches the daemon).
    const bin = path.join(project.dir, 'node_modules', '.bin', 'mptcpd-lite');
    const daemon = spawn(bin, ['run', '--units', over, shipped, '--control', control], {
      cwd: project.dir,
      env: { ...process.env, PATH: project.path },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    daemon.stderr.on('data', (d: Buffer) => (log += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        daemon.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('"event":"ready"')) resolve();
        });
        daemon.once('exit', (code) => reject(new Error(`mptcpd-lite run exited ${code} before ready\n${log}`)));
      });
      const echo = project.ok(
        'npx',
        ['--no-install', 'mptcpd-lite', 'connect', `127.0.0.1:${ports.echo}`, '--mptcp', 'require'],
        { input: 'hello\n' },
      );
      expect(echo).toBe('hello\n');
      const http = project.ok(
        'npx',
        ['--no-install', 'mptcpd-lite', 'connect', `127.0.0.1:${ports.http}`, '--mptcp', 'require'],
        {
          input: 'GET / HTTP/1.0\r\n\r\n',
        },
      );
      expect(http, log).toMatch(/^HTTP\/1\.1 200/);
      expect(http).toContain('"greeting":"hello-from-mptcpd-lite"');
    } finally {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        const exited = new Promise((resolve) => daemon.once('exit', resolve));
        daemon.kill('SIGTERM');
        await exited;
      }
    }
  });
});

describe('@mptcp/native without a matching prebuild and without a compiler', () => {
  it('installs anyway with a clear warning, and falls back to plain TCP', () => {
    // The same tarball minus prebuilds/: what a user on an unsupported platform gets.
    const native = byName('@mptcp/native');
    const stripped = path.join(work, 'stripped');
    cpSync(path.join(native.unpacked, 'package'), path.join(stripped, 'package'), { recursive: true });
    rmSync(path.join(stripped, 'package', 'prebuilds'), { recursive: true });
    const tarball = path.join(work, 'mptcp-native-noprebuild.tgz');
    execFileSync('tar', ['-czf', tarball, '-C', stripped, 'package']);
    const other = createProject(path.join(work, 'app-noprebuild'), bin, { type: 'module' });
    const install = other.run('npm', [
      'install',
      '--no-audit',
      '--no-fund',
      '--foreground-scripts',
      byName('@mptcp/constants').tarball,
      tarball,
    ]);
    expect(install.status, install.stderr).toBe(0);
    const log = install.stdout + install.stderr;
    expect(log).toContain('@mptcp/native: WARNING: the native addon is not installed');
    expect(log).toMatch(/needs a C\+\+ compiler/);
    expect(log).toContain('npm rebuild @mptcp/native');
    const out = other.ok('node', [
      '--input-type=module',
      '-e',
      `import { listen, connect, mptcpSupport, isMptcp } from '@mptcp/native';
       console.log(JSON.stringify(mptcpSupport()));
       const server = listen({ host: '127.0.0.1', port: 0, mptcp: 'prefer' }, (c) => c.pipe(c));
       server.on('listening', () => {
         const s = connect({ host: '127.0.0.1', port: server.address().port, mptcp: 'prefer' }, () => s.end('tcp\\n'));
         let got = '';
         s.on('data', (d) => (got += d));
         s.on('end', () => { console.log(JSON.stringify({ got, mptcp: isMptcp(s) })); server.close(); });
       });`,
    ]);
    const [support, echo] = out.trim().split('\n');
    expect(JSON.parse(support ?? '')).toEqual({ available: false, reason: 'addon-unavailable' });
    expect(JSON.parse(echo ?? '')).toEqual({ got: 'tcp\n', mptcp: false });
  });
});
