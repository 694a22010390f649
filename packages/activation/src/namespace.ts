/**
 * A service process' mount namespace as systemd 257 builds it (src/core/namespace.c setup_namespace(),
 * with exec-invoke.c apply_mount_namespace()): ProtectSystem=, ProtectHome=, ReadWritePaths=,
 * ReadOnlyPaths=, InaccessiblePaths= and PrivateTmp=yes. The plan is computed here and carried out
 * by @mptcp/native's spawn in the child (SpawnProcessOptions.mounts), in systemd's order:
 *
 * 1. The entries: the paths of the three lists (`-`: a missing path is skipped, `+`: relative to
 *    RootDirectory=, which mptcpd-lite does not apply, so a no-op), the PrivateTmp= directories on
 *    /tmp and /var/tmp, the ProtectHome= and ProtectSystem= tables, and /run/credentials made
 *    inaccessible (a unit without credentials). A `+` command gets ReadWritePaths= only (and
 *    /run/credentials); the others are sandboxing.
 * 2. Sorted by path (parents first), equal paths by mode (the more restrictive first: it wins, and
 *    takes the other's read-only flag); entries below an inaccessible one and entries whose nearest
 *    parent entry has the same mode (read-only, read-write) are dropped.
 * 3. Per entry: an inaccessible path loses every mount at or below it and gets the node of its type
 *    from /run/systemd/inaccessible/ bound on it; a read-only or read-write path that is not a mount
 *    point yet is bound on itself (so that it can carry its own flags); PrivateTmp's directories are
 *    bound on /tmp and /var/tmp; ProtectHome=tmpfs mounts a tmpfs (mode 0755, /root 0700).
 * 4. Then the read-only flag: on each read-only entry (an inaccessible one included) and on every
 *    mount below it, except below another entry (so ReadWritePaths=/var/lib/x under
 *    ProtectSystem=strict stays writable; autofs mounts are left alone), one mount at a time as
 *    systemd's bind_remount_recursive_with_mountinfo(); a tmpfs entry only itself. Likewise noexec
 *    on inaccessible paths; with NoNewPrivileges=yes, nosuid on every entry and all below it.
 *
 * A missing path without `-` fails the process before it runs with 226/NAMESPACE (the failing
 * step's errno and path in the error), as in systemd. Symbolic links in the paths are resolved on
 * the host first (systemd resolves them inside the namespace as it goes; the same unless a link
 * points into a path the plan itself mounts over).
 */
import { chmodSync, closeSync, existsSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MountStep } from '@mptcp/native';
import {
  type ServiceUnit,
  expandSpecifiers,
  extractFirstWord,
  machineHostFacts,
  parseBoolean,
  pathSimplify,
} from '@mptcp/unit';

export type ProtectSystem = 'no' | 'yes' | 'full' | 'strict';
export type ProtectHome = 'no' | 'yes' | 'read-only' | 'tmpfs';

/** The namespace directives of a unit, as 257 keeps them after parsing (paths with their `-`/`+` prefixes). */
export interface NamespaceSettings {
  protectSystem: ProtectSystem;
  protectHome: ProtectHome;
  readWritePaths: readonly string[];
  readOnlyPaths: readonly string[];
  inaccessiblePaths: readonly string[];
}

/** systemd's MountMode, in its priority order (the lower wins on an equal path). */
const enum Mode {
  Inaccessible = 0,
  PrivateTmp = 5,
  ReadOnly = 13,
  ReadWrite = 14,
  Tmpfs = 17,
  ReadWriteImplicit = 22,
}

interface Entry {
  path: string;
  mode: Mode;
  ignore: boolean;
  /** read_only: also read-only though its mode is not (a tmpfs, or taken over from a dropped duplicate). */
  readOnly: boolean;
  /** noexec: taken over from a dropped duplicate. */
  noexec?: boolean;
  source?: string;
  options?: string;
  flags?: number;
}

const MS_NODEV = 0x4;
const MS_STRICTATIME = 1 << 24;
/** TMPFS_LIMITS_EMPTY_OR_ALMOST (src/basic/mountpoint-util.h). */
const EMPTY_OR_ALMOST = ',size=4m,nr_inodes=1k';

type Row = readonly [path: string, mode: Mode, ignore: boolean, extra?: Partial<Entry>];
const tmpfs = (mode: string): Partial<Entry> => ({
  readOnly: true,
  options: `mode=${mode}${EMPTY_OR_ALMOST}`,
  flags: MS_NODEV | MS_STRICTATIME,
});

/** protect_home_*_table and protect_system_*_table of namespace.c. */
const PROTECT_HOME: Readonly<Record<Exclude<ProtectHome, 'no'>, readonly Row[]>> = {
  'read-only': [
    ['/home', Mode.ReadOnly, true],
    ['/run/user', Mode.ReadOnly, true],
    ['/root', Mode.ReadOnly, true],
  ],
  tmpfs: [
    ['/home', Mode.Tmpfs, true, tmpfs('0755')],
    ['/run/user', Mode.Tmpfs, true, tmpfs('0755')],
    ['/root', Mode.Tmpfs, true, tmpfs('0700')],
  ],
  yes: [
    ['/home', Mode.Inaccessible, true],
    ['/run/user', Mode.Inaccessible, true],
    ['/root', Mode.Inaccessible, true],
  ],
};
const PROTECT_SYSTEM: Readonly<Record<Exclude<ProtectSystem, 'no'>, readonly Row[]>> = {
  yes: [
    ['/usr', Mode.ReadOnly, false],
    ['/boot', Mode.ReadOnly, true],
    ['/efi', Mode.ReadOnly, true],
  ],
  full: [
    ['/usr', Mode.ReadOnly, false],
    ['/boot', Mode.ReadOnly, true],
    ['/efi', Mode.ReadOnly, true],
    ['/etc', Mode.ReadOnly, false],
  ],
  strict: [
    ['/', Mode.ReadOnly, false],
    ['/proc', Mode.ReadWriteImplicit, false],
    ['/sys', Mode.ReadWriteImplicit, false],
    ['/dev', Mode.ReadWriteImplicit, false],
    ['/home', Mode.ReadWriteImplicit, true],
    ['/run/user', Mode.ReadWriteImplicit, true],
    ['/root', Mode.ReadWriteImplicit, true],
  ],
};

/** Where systemd's PID 1 keeps the nodes inaccessible paths are overmounted with. */
export const INACCESSIBLE_DIR = '/run/systemd/inaccessible';

const settingsCache = new WeakMap<ServiceUnit, NamespaceSettings>();

function values(unit: ServiceUnit, key: string): readonly string[] {
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra; // absent in hand-made units
  return extra?.[key] ?? [];
}

/** An enum setting that also takes a boolean (`yes` → `yes`, `no` → `no`); empty resets; an invalid value is ignored. */
function lastEnum<T extends string>(unit: ServiceUnit, key: string, names: readonly T[]): T | 'no' {
  let out: T | 'no' = 'no';
  for (const v of values(unit, key)) {
    if (v === '') out = 'no';
    else if ((names as readonly string[]).includes(v)) out = v as T;
    else {
      const b = parseBoolean(v);
      if (b.ok) out = b.value ? ('yes' as T) : 'no';
    }
  }
  return out;
}

/**
 * The words of a list value as config_parse_namespace_path_strv() extracts them
 * (extract_first_word(EXTRACT_UNQUOTE)): a syntax error (an open quote, a trailing `\`) ends the
 * list there, keeping the words before it.
 */
function words(value: string): string[] {
  const out: string[] = [];
  for (let p = 0; p < value.length;) {
    const r = extractFirstWord(value, p, { unquote: true });
    if (!r.ok || r.word === undefined) break;
    out.push(r.word);
    p = r.rest;
  }
  return out;
}

/**
 * path_simplify_and_warn(PATH_CHECK_ABSOLUTE) without the warning (the unit's load reported it):
 * the simplified path, or undefined when it is not absolute, too long (path_is_valid()) or keeps a
 * `..` (path_is_normalized()).
 */
function simplify(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const s = pathSimplify(path);
  const parts = s.split('/');
  if (parts.includes('..')) return undefined;
  if (Buffer.byteLength(s) >= 4096 || parts.some((c) => Buffer.byteLength(c) > 255)) return undefined;
  return s;
}

/**
 * config_parse_namespace_path_strv(): each word's `-` and `+` prefixes (in that order), specifiers
 * expanded, the path simplified; an empty assignment resets the list, a bad word is skipped.
 */
function pathList(unit: ServiceUnit, keys: readonly string[]): string[] {
  let out: string[] = [];
  for (const key of keys) {
    for (const v of values(unit, key)) {
      if (v === '') {
        out = [];
        continue;
      }
      for (const word of words(v)) {
        let w = word;
        const ignore = w.startsWith('-');
        if (ignore) w = w.slice(1);
        const prefix = w.startsWith('+');
        if (prefix) w = w.slice(1);
        if (w.includes('%')) {
          const r = expandSpecifiers(w, {
            name: unit.name,
            ...(unit.file ? { file: unit.file } : {}),
            host: hostFacts(),
          });
          if (!r.ok) continue;
          w = r.value;
        }
        const p = simplify(w);
        if (p === undefined) continue;
        out.push(`${ignore ? '-' : ''}${prefix ? '+' : ''}${p}`);
      }
    }
  }
  return out;
}

let facts: ReturnType<typeof machineHostFacts> | undefined;
function hostFacts(): ReturnType<typeof machineHostFacts> {
  facts ??= machineHostFacts();
  return facts;
}

/** The unit's namespace directives (computed once per loaded unit). */
export function namespaceSettings(unit: ServiceUnit): NamespaceSettings {
  const cached = settingsCache.get(unit);
  if (cached) return cached;
  const s: NamespaceSettings = {
    protectSystem: lastEnum(unit, 'ProtectSystem', ['yes', 'full', 'strict'] as const),
    protectHome: lastEnum(unit, 'ProtectHome', ['yes', 'read-only', 'tmpfs'] as const),
    // ReadWriteDirectories=, ReadOnlyDirectories=, InaccessibleDirectories=: the old names of the lists.
    readWritePaths: pathList(unit, ['ReadWriteDirectories', 'ReadWritePaths']),
    readOnlyPaths: pathList(unit, ['ReadOnlyDirectories', 'ReadOnlyPaths']),
    inaccessiblePaths: pathList(unit, ['InaccessibleDirectories', 'InaccessiblePaths']),
  };
  settingsCache.set(unit, s);
  return s;
}

/**
 * exec_needs_mount_namespace() for what mptcpd-lite applies: any of the settings, or PrivateTmp=yes.
 * The answer is the unit's, for every process of it (a `+` command too gets a namespace then).
 */
export function needsMountNamespace(s: NamespaceSettings, privateTmp: boolean): boolean {
  return (
    privateTmp ||
    s.protectSystem !== 'no' ||
    s.protectHome !== 'no' ||
    s.readWritePaths.length > 0 ||
    s.readOnlyPaths.length > 0 ||
    s.inaccessiblePaths.length > 0
  );
}

/** path_compare(): component by component (byte order), a parent before its children. */
export function pathCompare(a: string, b: string): number {
  const x = a.split('/').filter(Boolean);
  const y = b.split('/').filter(Boolean);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i] as string;
    const q = y[i] as string;
    if (p !== q) return Buffer.compare(Buffer.from(p), Buffer.from(q));
  }
  return x.length - y.length;
}

/** path_startswith() as a test: `path` is `prefix` or below it (by components). */
export function pathUnder(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return path === prefix || path.startsWith(`${prefix}/`);
}

/**
 * The path with its symbolic links resolved (chase(CHASE_NONEXISTENT)): the existing part through
 * the links, the missing rest as written. At most 32 links.
 */
export function resolvePath(path: string): string {
  const parts = path.split('/').filter(Boolean);
  let resolved = '/';
  let links = 0;
  while (parts.length > 0) {
    const part = parts.shift() as string;
    const next = join(resolved, part);
    let target: string | undefined;
    try {
      if (lstatSync(next).isSymbolicLink()) target = readlinkSync(next);
    } catch {
      return join(next, ...parts);
    }
    if (target === undefined) {
      resolved = next;
      continue;
    }
    if (++links > 32) return join(next, ...parts);
    const t = target.startsWith('/') ? target : join(resolved, target);
    parts.unshift(...t.split('/').filter(Boolean));
    resolved = '/';
  }
  return resolved;
}

/** One mount point of /proc/self/mountinfo: where, and its type. */
export interface MountPoint {
  path: string;
  fstype: string;
}

/** The mount points of a mountinfo text (escapes `\040` etc. decoded), in its order. */
export function parseMountInfo(text: string): MountPoint[] {
  const out: MountPoint[] = [];
  const unescape = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const f = line.split(' ');
    const dash = f.indexOf('-', 6);
    if (f.length < 5 || dash < 0) continue;
    out.push({ path: unescape(f[4] as string), fstype: f[dash + 1] ?? '' });
  }
  return out;
}

/** The process' place in the plan: sandboxed (not `+`), and this run's PrivateTmp= directories. */
export interface PlanOptions {
  sandboxed: boolean;
  privateTmp?: { tmp: string; varTmp: string } | undefined;
  /**
   * NoNewPrivileges=yes (and no SELinux): every entry's mount and all below it also get nosuid
   * (257's mount_nosuid).
   */
  nosuid?: boolean;
  /** /proc/self/mountinfo's text (tests); default: read now. */
  mountInfo?: string;
}

/** The sorted, pruned entries of setup_namespace() (before any is applied). */
export function namespaceEntries(s: NamespaceSettings, opts: PlanOptions): Entry[] {
  const entries: Entry[] = [];
  const access = (list: readonly string[], mode: Mode): void => {
    for (const raw of list) {
      let p = raw;
      const ignore = p.startsWith('-');
      if (ignore) p = p.slice(1);
      if (p.startsWith('+')) p = p.slice(1);
      entries.push({ path: p, mode, ignore, readOnly: false });
    }
  };
  const rows = (table: readonly Row[]): void => {
    for (const [path, mode, ignore, extra] of table) entries.push({ path, mode, ignore, readOnly: false, ...extra });
  };
  access(s.readWritePaths, Mode.ReadWrite);
  if (opts.sandboxed) {
    access(s.readOnlyPaths, Mode.ReadOnly);
    access(s.inaccessiblePaths, Mode.Inaccessible);
    if (opts.privateTmp) {
      entries.push({
        path: '/tmp',
        mode: Mode.PrivateTmp,
        ignore: false,
        readOnly: false,
        source: opts.privateTmp.tmp,
      });
      entries.push({
        path: '/var/tmp',
        mode: Mode.PrivateTmp,
        ignore: false,
        readOnly: false,
        source: opts.privateTmp.varTmp,
      });
    }
    if (s.protectHome !== 'no') rows(PROTECT_HOME[s.protectHome]);
    if (s.protectSystem !== 'no') rows(PROTECT_SYSTEM[s.protectSystem]);
  }
  entries.push({ path: '/run/credentials', mode: Mode.Inaccessible, ignore: true, readOnly: false });
  for (const e of entries) e.path = resolvePath(e.path);
  entries.sort((a, b) => pathCompare(a.path, b.path) || a.mode - b.mode);
  // drop_duplicates(): the first of equal paths wins and takes the others' read-only flag.
  const unique: Entry[] = [];
  for (const e of entries) {
    const prev = unique[unique.length - 1];
    if (prev && prev.path === e.path) {
      prev.readOnly ||= entryReadOnly(e);
      prev.noexec ||= entryNoexec(e);
      continue;
    }
    unique.push(e);
  }
  // drop_inaccessible(): nothing below an inaccessible path.
  const visible: Entry[] = [];
  let clear: string | undefined;
  for (const e of unique) {
    if (clear !== undefined && pathUnder(e.path, clear)) continue;
    clear = e.mode === Mode.Inaccessible ? e.path : undefined;
    visible.push(e);
  }
  // drop_nop(): a read-only/read-write entry whose nearest parent entry has the same mode.
  const kept: Entry[] = [];
  for (const e of visible) {
    if (e.mode === Mode.ReadOnly || e.mode === Mode.ReadWrite || e.mode === Mode.ReadWriteImplicit) {
      let parent: Entry | undefined;
      for (let i = kept.length - 1; i >= 0; i--) {
        if (pathUnder(e.path, (kept[i] as Entry).path)) {
          parent = kept[i];
          break;
        }
      }
      if (parent && parent.mode === e.mode) continue;
    }
    kept.push(e);
  }
  return kept;
}

function entryReadOnly(e: Entry): boolean {
  return e.readOnly || e.mode === Mode.ReadOnly || e.mode === Mode.Inaccessible;
}

/** mount_entry_noexec() for the modes used here: an inaccessible path. */
function entryNoexec(e: Entry): boolean {
  return e.noexec === true || e.mode === Mode.Inaccessible;
}

/** The steps @mptcp/native's child carries out (SpawnProcessOptions.mounts). */
export function mountPlan(s: NamespaceSettings, opts: PlanOptions): MountStep[] {
  const entries = namespaceEntries(s, opts);
  // The mount points as they will be, kept up to date as the plan mounts and unmounts.
  const points = new Map<string, string>();
  for (const m of parseMountInfo(opts.mountInfo ?? readFileSync('/proc/self/mountinfo', 'utf8')))
    points.set(m.path, m.fstype);
  const below = (path: string, self: boolean): string[] =>
    [...points.keys()]
      .filter((p) => pathUnder(p, path) && (self || p !== path))
      .sort((a, b) => b.split('/').length - a.split('/').length || pathCompare(b, a));
  const unmountAll = (path: string): MountStep[] => {
    const gone = below(path, true);
    for (const p of gone) points.delete(p);
    return gone.map((p) => ({ op: 'umount', path: p }));
  };
  const steps: MountStep[] = [];
  for (const e of entries) {
    switch (e.mode) {
      case Mode.Inaccessible:
        steps.push(...unmountAll(e.path), { op: 'inaccessible', path: e.path, ignoreMissing: e.ignore });
        points.set(e.path, 'inaccessible');
        break;
      case Mode.ReadOnly:
      case Mode.ReadWrite:
      case Mode.ReadWriteImplicit:
        if (!points.has(e.path)) {
          steps.push({ op: 'bind', path: e.path, source: e.path, recursive: true, ignoreMissing: e.ignore });
          points.set(e.path, 'bind');
        }
        break;
      case Mode.PrivateTmp:
        for (const p of below(e.path, false)) points.delete(p); // hidden under the run's directory
        steps.push({ op: 'bind', path: e.path, source: e.source, recursive: true });
        points.set(e.path, 'bind');
        break;
      case Mode.Tmpfs: {
        // mkdir_p_label(path, 0755), then umount_recursive(), then the tmpfs.
        const dirs: string[] = [];
        for (let d = e.path; d !== '/'; d = dirname(d)) dirs.unshift(d);
        steps.push(...dirs.map((d): MountStep => ({ op: 'mkdir', path: d })));
        steps.push(...unmountAll(e.path));
        steps.push({
          op: 'tmpfs',
          path: e.path,
          options: e.options,
          flags: e.flags,
        });
        points.set(e.path, 'tmpfs');
        break;
      }
    }
  }
  // make_read_only(), then make_noexec(): each such entry, and (but for a tmpfs) every mount below
  // it that is not below another entry (the deny list: every entry path) nor an autofs, one by one
  // (bind_remount_recursive_with_mountinfo()).
  const paths = entries.map((e) => e.path);
  const flag = (op: 'readonly' | 'noexec', has: (e: Entry) => boolean): void => {
    for (const e of entries) {
      if (!has(e)) continue;
      steps.push({ op, path: e.path, ignoreMissing: e.ignore });
      if (e.mode === Mode.Tmpfs) continue;
      const deny = paths.filter((d) => d !== e.path && pathUnder(d, e.path));
      for (const p of below(e.path, false).reverse()) {
        if (points.get(p) === 'autofs' || deny.some((d) => pathUnder(p, d))) continue;
        steps.push({ op, path: p, submount: true });
      }
    }
  };
  flag('readonly', entryReadOnly);
  flag('noexec', entryNoexec);
  // make_nosuid(): without a deny list, so mount_setattr(AT_RECURSIVE) on each entry (a tmpfs: itself).
  if (opts.nosuid === true)
    for (const e of entries)
      steps.push({ op: 'nosuid', path: e.path, recursive: e.mode !== Mode.Tmpfs, ignoreMissing: e.ignore });
  return steps;
}

let selinux: boolean | undefined;

/** mac_selinux_use(): SELinux is enabled (selinuxfs mounted). */
export function selinuxInUse(): boolean {
  selinux ??= existsSync('/sys/fs/selinux/enforce');
  return selinux;
}

let nodesReady = false;

/** mknodat() for the node types Node cannot create (the native launcher's). */
export type Mknod = (path: string, type: 'fifo' | 'socket' | 'char' | 'block', mode: number) => void;

/**
 * make_inaccessible_nodes(): /run/systemd/inaccessible/{reg,dir,fifo,sock,chr,blk}, mode 0000, as
 * systemd's PID 1 creates them at boot (a host without systemd has none). What cannot be created
 * is left out (the device nodes need CAP_MKNOD; the child falls back as systemd does).
 */
export function ensureInaccessibleNodes(mknod: Mknod | undefined): string {
  if (nodesReady) return INACCESSIBLE_DIR;
  const dir = INACCESSIBLE_DIR;
  const tryIt = (f: () => void): void => {
    try {
      f();
    } catch {
      // As systemd: a node that cannot be made is left out.
    }
  };
  tryIt(() => mkdirSync(dir, { recursive: true, mode: 0o755 }));
  const make = (name: string, f: (path: string) => void): void => {
    const p = join(dir, name);
    if (existsSync(p)) return;
    tryIt(() => f(p));
  };
  make('reg', (p) => {
    closeSync(openSync(p, 'wx', 0));
    chmodSync(p, 0);
  });
  make('dir', (p) => {
    mkdirSync(p, { mode: 0 });
    chmodSync(p, 0);
  });
  if (mknod) {
    make('fifo', (p) => mknod(p, 'fifo', 0));
    make('sock', (p) => mknod(p, 'socket', 0));
    make('chr', (p) => mknod(p, 'char', 0));
    make('blk', (p) => mknod(p, 'block', 0));
  }
  nodesReady = existsSync(join(dir, 'dir')) && existsSync(join(dir, 'reg'));
  return dir;
}
