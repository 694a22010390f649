/**
 * The mount plan of namespace.ts against a made-up mount table (no kernel involved): systemd 257's
 * ordering and pruning of namespace.c (sort_and_drop_unused_mounts()) and which mounts become
 * read-only (make_read_only() with its deny list). The effect in a real namespace is compared with
 * 257's in namespace-257.test.ts.
 */
import { join } from 'node:path';
import { type ServiceUnit, loadUnitFile } from '@mptcp/unit';
import { describe, expect, it } from 'vitest';
import {
  type NamespaceSettings,
  mountPlan,
  namespaceEntries,
  namespaceSettings,
  needsMountNamespace,
  parseMountInfo,
  pathCompare,
} from '../src/namespace.js';
import { unitDir } from './helpers/run.js';

function serviceOf(text: string): ServiceUnit {
  const dir = unitDir({ 'x.service': text });
  const r = loadUnitFile(join(dir, 'x.service'), { searchPaths: [dir] });
  if (!r.unit || r.unit.kind !== 'service') throw new Error(`x.service did not load: ${JSON.stringify(r.diagnostics)}`);
  return r.unit;
}

/** A mountinfo text with these mount points (fstype tmpfs, autofs for `*name`). */
function mountInfo(...points: string[]): string {
  return points
    .map((p, i) => {
      const auto = p.startsWith('*');
      const path = (auto ? p.slice(1) : p).replaceAll(' ', '\\040');
      return `${i + 20} 1 0:${i} / ${path} rw,relatime shared:${i} - ${auto ? 'autofs' : 'tmpfs'} x rw`;
    })
    .join('\n');
}

const NONE: NamespaceSettings = {
  protectSystem: 'no',
  protectHome: 'no',
  readWritePaths: [],
  readOnlyPaths: [],
  inaccessiblePaths: [],
};
const HOST = mountInfo(
  '/',
  '/proc',
  '/sys',
  '/sys/fs/cgroup',
  '/dev',
  '/dev/shm',
  '/run',
  '/run/user/0',
  '*/boot',
  '/var/lib/data',
  '/var/lib/data/x',
);

describe('namespace settings', () => {
  it('reads the directives as 257 parses them', () => {
    const u = serviceOf(
      '[Service]\nExecStart=/bin/true\nProtectSystem=true\nProtectHome=tmpfs\nProtectHome=bogus\n' +
        'ReadWritePaths=/a "/b c" -/d//e/ +/f -+/g\nReadWritePaths=\nReadWritePaths=/h relative /i/../j\n' +
        'ReadOnlyDirectories=/k\nReadOnlyPaths=/l\nInaccessiblePaths=-/m\n',
    );
    expect(namespaceSettings(u)).toEqual({
      protectSystem: 'yes',
      protectHome: 'tmpfs',
      readWritePaths: ['/h'],
      readOnlyPaths: ['/k', '/l'],
      inaccessiblePaths: ['-/m'],
    });
    const v = serviceOf('[Service]\nExecStart=/bin/true\nReadWritePaths=/a "/b c" -/d//e/ +/f -+/g\nProtectSystem=\n');
    expect(namespaceSettings(v).readWritePaths).toEqual(['/a', '/b c', '-/d/e', '+/f', '-+/g']);
    expect(namespaceSettings(v).protectSystem).toBe('no');
    // A syntax error ends the list there: the words before it stay.
    const w = serviceOf('[Service]\nExecStart=/bin/true\nReadOnlyPaths=/a "/b\nInaccessiblePaths=+-/c -+/d\n');
    expect(namespaceSettings(w)).toMatchObject({ readOnlyPaths: ['/a'], inaccessiblePaths: ['-+/d'] });
    // path_simplify_and_warn(): a component over NAME_MAX is ignored as 257 does (oracle verify:
    // "ReadOnlyPaths= path has invalid length (261 bytes), ignoring."), so is a kept `..`.
    const long = `/tmp/${'x'.repeat(256)}`;
    const l = serviceOf(`[Service]\nExecStart=/bin/true\nReadOnlyPaths=/ok ${long} /a/../b /../c \\/d\n`);
    expect(namespaceSettings(l).readOnlyPaths).toEqual(['/ok', '/c', '/d']);
    expect(needsMountNamespace(namespaceSettings(v), false)).toBe(true);
    expect(needsMountNamespace(NONE, false)).toBe(false);
    expect(needsMountNamespace(NONE, true)).toBe(true);
  });

  it('path order: parents first, by component', () => {
    const paths = ['/var/tmp', '/', '/var', '/var-x', '/var/lib', '/a/b', '/a'];
    expect([...paths].sort(pathCompare)).toEqual(['/', '/a', '/a/b', '/var', '/var/lib', '/var/tmp', '/var-x']);
  });

  it('parses mountinfo escapes', () => {
    expect(parseMountInfo(mountInfo('/a b', '*/c'))).toEqual([
      { path: '/a b', fstype: 'tmpfs' },
      { path: '/c', fstype: 'autofs' },
    ]);
  });
});

describe('the plan', () => {
  it('ProtectSystem=strict + ReadWritePaths=: / and its mounts read-only but below the entries; autofs left alone', () => {
    const steps = mountPlan(
      { ...NONE, protectSystem: 'strict', readWritePaths: ['/var/lib/data/x/y', '-/nonexistent/q'] },
      { sandboxed: true, mountInfo: HOST },
    );
    // Entries that are no mount point yet are bound on themselves (the missing optional one may skip).
    expect(steps.filter((s) => s.op === 'bind')).toEqual(
      expect.arrayContaining([
        { op: 'bind', path: '/home', source: '/home', recursive: true, ignoreMissing: true },
        { op: 'bind', path: '/root', source: '/root', recursive: true, ignoreMissing: true },
        { op: 'bind', path: '/run/user', source: '/run/user', recursive: true, ignoreMissing: true },
        { op: 'bind', path: '/var/lib/data/x/y', source: '/var/lib/data/x/y', recursive: true, ignoreMissing: false },
        { op: 'bind', path: '/nonexistent/q', source: '/nonexistent/q', recursive: true, ignoreMissing: true },
      ]),
    );
    // /proc, /sys, /dev are mount points already: nothing to do.
    expect(steps.some((s) => s.op === 'bind' && ['/proc', '/sys', '/dev'].includes(s.path))).toBe(false);
    const ro = steps.filter((s) => s.op === 'readonly').map((s) => s.path);
    expect(ro).toEqual(expect.arrayContaining(['/', '/run', '/var/lib/data', '/var/lib/data/x']));
    for (const p of [
      '/proc',
      '/sys',
      '/sys/fs/cgroup',
      '/dev',
      '/dev/shm',
      '/run/user/0',
      '/boot',
      '/var/lib/data/x/y',
    ])
      expect(ro, p).not.toContain(p);
    // /run/credentials: inaccessible (and read-only) when it exists.
    expect(steps).toContainEqual({ op: 'inaccessible', path: '/run/credentials', ignoreMissing: true });
  });

  it('equal paths: the more restrictive entry wins and keeps its read-only flag; nothing below an inaccessible path', () => {
    const entries = namespaceEntries(
      {
        ...NONE,
        readWritePaths: ['/srv/a', '/srv/b/c', '/srv/d'],
        readOnlyPaths: ['/srv/a', '/srv/d/e'],
        inaccessiblePaths: ['/srv/b'],
      },
      { sandboxed: true, privateTmp: { tmp: '/x/tmp', varTmp: '/y/tmp' } },
    );
    expect(entries.map((e) => [e.path, e.mode])).toEqual([
      ['/run/credentials', 0],
      ['/srv/a', 13], // ReadOnly beats ReadWrite
      ['/srv/b', 0], // /srv/b/c dropped
      ['/srv/d', 14],
      ['/srv/d/e', 13],
      ['/tmp', 5],
      ['/var/tmp', 5],
    ]);
    // ReadOnlyPaths=/tmp with PrivateTmp=yes: the private /tmp, read-only.
    const tmp = namespaceEntries(
      { ...NONE, readOnlyPaths: ['/tmp'] },
      { sandboxed: true, privateTmp: { tmp: '/x/tmp', varTmp: '/y/tmp' } },
    ).find((e) => e.path === '/tmp');
    expect(tmp).toMatchObject({ mode: 5, readOnly: true, source: '/x/tmp' });
  });

  it('a read-only entry below a read-only one is dropped (drop_nop), a read-write one between keeps it', () => {
    const paths = (s: NamespaceSettings): string[] => namespaceEntries(s, { sandboxed: true }).map((e) => e.path);
    expect(paths({ ...NONE, readOnlyPaths: ['/srv', '/srv/a'] })).toEqual(['/run/credentials', '/srv']);
    expect(paths({ ...NONE, readOnlyPaths: ['/srv', '/srv/a/b'], readWritePaths: ['/srv/a'] })).toEqual([
      '/run/credentials',
      '/srv',
      '/srv/a',
      '/srv/a/b',
    ]);
    // ProtectSystem=strict makes ReadOnlyPaths=/etc redundant: /etc is no mount of its own.
    expect(paths({ ...NONE, protectSystem: 'strict', readOnlyPaths: ['/etc'] })).not.toContain('/etc');
  });

  it('noexec on inaccessible paths; with NoNewPrivileges=yes nosuid on every entry, recursively (a tmpfs: itself)', () => {
    const s: NamespaceSettings = {
      ...NONE,
      protectHome: 'tmpfs',
      readWritePaths: ['/srv'],
      inaccessiblePaths: ['/var/lib/data'],
    };
    const without = mountPlan(s, { sandboxed: true, mountInfo: HOST });
    expect(without.filter((m) => m.op === 'noexec').map((m) => m.path)).toEqual(['/run/credentials', '/var/lib/data']);
    expect(without.some((m) => m.op === 'nosuid')).toBe(false);
    const steps = mountPlan(s, { sandboxed: true, nosuid: true, mountInfo: HOST });
    expect(steps.filter((m) => m.op === 'nosuid')).toEqual([
      { op: 'nosuid', path: '/home', recursive: false, ignoreMissing: true },
      { op: 'nosuid', path: '/root', recursive: false, ignoreMissing: true },
      { op: 'nosuid', path: '/run/credentials', recursive: true, ignoreMissing: true },
      { op: 'nosuid', path: '/run/user', recursive: false, ignoreMissing: true },
      { op: 'nosuid', path: '/srv', recursive: true, ignoreMissing: false },
      { op: 'nosuid', path: '/var/lib/data', recursive: true, ignoreMissing: false },
    ]);
    // The rounds in 257's order: every read-only step, then noexec, then nosuid.
    const kinds = steps.map((m) => m.op).filter((o) => ['readonly', 'noexec', 'nosuid'].includes(o));
    expect(kinds.join(' ')).toMatch(/^(readonly )+(noexec )+(nosuid ?)+$/);
  });

  it('a `+` command: ReadWritePaths= only (and /run/credentials)', () => {
    const s: NamespaceSettings = {
      protectSystem: 'strict',
      protectHome: 'yes',
      readWritePaths: ['/srv/rw'],
      readOnlyPaths: ['/srv'],
      inaccessiblePaths: ['/srv/secret'],
    };
    expect(
      namespaceEntries(s, { sandboxed: false, privateTmp: { tmp: '/x', varTmp: '/y' } }).map((e) => e.path),
    ).toEqual(['/run/credentials', '/srv/rw']);
  });

  it('inaccessible and tmpfs paths lose the mounts below them first', () => {
    const steps = mountPlan(
      { ...NONE, protectHome: 'tmpfs', inaccessiblePaths: ['/var/lib/data'] },
      { sandboxed: true, mountInfo: HOST },
    );
    const at = (op: string, path: string): number => steps.findIndex((s) => s.op === op && s.path === path);
    expect(at('umount', '/var/lib/data/x')).toBeGreaterThanOrEqual(0);
    expect(at('umount', '/var/lib/data/x')).toBeLessThan(at('umount', '/var/lib/data'));
    expect(at('umount', '/var/lib/data')).toBeLessThan(at('inaccessible', '/var/lib/data'));
    expect(at('umount', '/run/user/0')).toBeLessThan(at('tmpfs', '/run/user'));
    expect(steps[at('tmpfs', '/root')]).toEqual({
      op: 'tmpfs',
      path: '/root',
      options: 'mode=0700,size=4m,nr_inodes=1k',
      flags: 0x4 | (1 << 24),
    });
    // A tmpfs entry is read-only itself (not recursively); the inaccessible one too.
    expect(steps.filter((s) => s.op === 'readonly').map((s) => s.path)).toEqual(
      expect.arrayContaining(['/home', '/root', '/run/user', '/var/lib/data']),
    );
    expect(steps.some((s) => s.op === 'readonly' && s.path === '/run/user/0')).toBe(false);
  });
});
