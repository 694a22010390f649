/**
 * RuntimeDirectory=, StateDirectory=, CacheDirectory=, LogsDirectory=, ConfigurationDirectory= (and
 * their *Mode=, RuntimeDirectoryPreserve=) as systemd 257's setup_exec_directory() (exec-invoke.c),
 * done by the daemon before each process of the unit is spawned (257's exec child does it too, for
 * every process, before it drops privileges):
 *
 * - each entry `PATH[:SYMLINK]` under /run, /var/lib, /var/cache, /var/log, /etc; missing parents are
 *   made 0755 (a parent that is no directory: `Failed to set up special execution directory in
 *   /var/lib: Not a directory`, 238/STATE_DIRECTORY; 233/RUNTIME_DIRECTORY … 241/CONFIGURATION_DIRECTORY);
 * - the directory is made with the kind's mode (default 0755), then chmod'ed to it (also when it
 *   existed; never through a symlink), and chown'ed recursively to User=/Group= (root without them;
 *   not descending when the directory already has that owner, as 257); an existing
 *   ConfigurationDirectory= is left alone, with 257's warning when its mode differs;
 * - $RUNTIME_DIRECTORY, $STATE_DIRECTORY, … list the full paths, `:`-separated, in every process;
 * - when the run ends, the runtime directories (and their symlinks) are removed (an fd-based rm -rf
 *   that never follows a symlink the service planted: safe-fs.ts removeTree()) unless
 *   RuntimeDirectoryPreserve=yes or restart (restart: kept as yes; 257 removes them when the unit is
 *   stopped for good, not between automatic restarts);
 * - DynamicUser=yes (257: /var/lib/private and symlinks) is refused, 2xx of the kind, not silently
 *   run without the private directories.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync, statSync, symlinkSync, unlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { errnoMessage } from '@mptcp/constants';
import { type ServiceUnit, expandSpecifiers, machineHostFacts, parseMode } from '@mptcp/unit';
import { dynamicUser } from './dynamic-user.js';
import { ActivationError } from './errors.js';
import type { ServiceChild } from './exec.js';
import { failedAtStep } from './exit-status.js';
import { chownTreeFd, fchmodAndChown, openPathNoFollow, removeTree, reopenDirectory } from './safe-fs.js';

interface DirectoryKind {
  key: string;
  prefix: string;
  env: string;
  /** The exit status of its step (EXIT_RUNTIME_DIRECTORY …). */
  status: number;
}

/** In exec_invoke()'s order (the first failing one gives the status). */
export const DIRECTORY_KINDS: readonly DirectoryKind[] = [
  { key: 'RuntimeDirectory', prefix: '/run', env: 'RUNTIME_DIRECTORY', status: 233 },
  { key: 'StateDirectory', prefix: '/var/lib', env: 'STATE_DIRECTORY', status: 238 },
  { key: 'CacheDirectory', prefix: '/var/cache', env: 'CACHE_DIRECTORY', status: 239 },
  { key: 'LogsDirectory', prefix: '/var/log', env: 'LOGS_DIRECTORY', status: 240 },
  { key: 'ConfigurationDirectory', prefix: '/etc', env: 'CONFIGURATION_DIRECTORY', status: 241 },
];

export interface DirectoryItem {
  /** Relative to the kind's prefix. */
  path: string;
  symlinks: string[];
}

export interface ExecDirectories {
  kind: DirectoryKind;
  items: DirectoryItem[];
  mode: number;
}

function extraOf(unit: ServiceUnit, key: string): readonly string[] {
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra; // absent in hand-made units
  return extra?.[key] ?? [];
}

/** A relative, normalized path (the parser's checks; anything else is left out). */
function relativePath(p: string): string | undefined {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (p.startsWith('/') || parts.length === 0 || parts.includes('..')) return undefined;
  return parts.join('/');
}

const cache = new WeakMap<ServiceUnit, ExecDirectories[]>();

/** The unit's directories per kind (only the kinds it has), specifiers expanded, resets applied. */
export function execDirectories(unit: ServiceUnit): ExecDirectories[] {
  const cached = cache.get(unit);
  if (cached) return cached;
  const out: ExecDirectories[] = [];
  let facts: ReturnType<typeof machineHostFacts> | undefined;
  const expand = (v: string): string | undefined => {
    if (!v.includes('%')) return v;
    facts ??= machineHostFacts();
    const r = expandSpecifiers(v, { name: unit.name, ...(unit.file ? { file: unit.file } : {}), host: facts });
    return r.ok ? r.value : undefined;
  };
  for (const kind of DIRECTORY_KINDS) {
    let items: DirectoryItem[] = [];
    for (const assignment of extraOf(unit, kind.key)) {
      if (assignment.trim() === '') {
        items = [];
        continue;
      }
      for (const word of assignment.split(/\s+/).filter(Boolean)) {
        const w = expand(word.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1'));
        if (w === undefined) continue;
        const [path, link] = w.split(':', 2) as [string, string | undefined];
        const p = relativePath(path);
        if (p === undefined) continue;
        const existing = items.find((i) => i.path === p);
        const item = existing ?? { path: p, symlinks: [] };
        const l = link !== undefined ? relativePath(link) : undefined;
        if (l !== undefined && !item.symlinks.includes(l)) item.symlinks.push(l);
        if (!existing) items.push(item);
      }
    }
    if (items.length === 0) continue;
    const modeValue = extraOf(unit, `${kind.key}Mode`).at(-1);
    const parsed = modeValue !== undefined && modeValue !== '' ? parseMode(modeValue) : undefined;
    out.push({ kind, items, mode: parsed?.ok ? parsed.value & 0o7777 : 0o755 });
  }
  cache.set(unit, out);
  return out;
}

/** $RUNTIME_DIRECTORY=/run/a:/run/b/c, $STATE_DIRECTORY=… (build_environment()). */
export function execDirectoryEnvironment(unit: ServiceUnit): Record<string, string> {
  const env: Record<string, string> = {};
  for (const d of execDirectories(unit)) env[d.kind.env] = d.items.map((i) => join(d.kind.prefix, i.path)).join(':');
  return env;
}

function fail(kind: DirectoryKind, err: unknown, unit: string): ActivationError {
  const e = err as NodeJS.ErrnoException;
  const errno = Math.abs(e.errno ?? 5);
  return new ActivationError(
    'EXEC_FAILED',
    `Failed to set up special execution directory in ${kind.prefix}: ${errnoMessage(errno)}`,
    { unit, errno, exitStatus: kind.status },
  );
}

/** mkdir_parents(p, 0755): each missing ancestor below the prefix; one that is no directory: ENOTDIR. */
function mkdirParents(prefix: string, p: string): void {
  let at = prefix;
  for (const part of relative(prefix, dirname(p)).split('/').filter(Boolean)) {
    at = join(at, part);
    try {
      mkdirSync(at, 0o755);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!statSync(at).isDirectory())
        throw Object.assign(new Error(`ENOTDIR: ${at}`), { code: 'ENOTDIR', errno: -20 });
    }
  }
}

function notADirectory(p: string): Error {
  return Object.assign(new Error(`ENOTDIR: not a directory, '${p}'`), { code: 'ENOTDIR', errno: -20 });
}

/**
 * chmod_and_chown(p, mode) then path_chown_recursive(p, uid, gid, 07777, AT_SYMLINK_FOLLOW) of
 * setup_exec_directory(), on fds: the entry is pinned with O_PATH|O_NOFOLLOW, so a symlink the service
 * user put in its place (in a directory of its own: `RuntimeDirectory=a a/sub`) is never chmod'ed
 * through, and the fd is what is chmod'ed and walked, never the path again. A symlink to anything but
 * a directory fails with ENOTDIR, as in 257. A symlink to a directory is followed for the chown (257)
 * only when root owns the link (an administrator's, e.g. /var/lib/foo → /srv/foo); one that somebody
 * else made is left alone with a warning, where 257 would give the target to User=.
 */
function lockDown(p: string, mode: number, uid: number, gid: number, warn: (message: string) => void): void {
  const pin = openPathNoFollow(p);
  try {
    const st = fstatSync(pin);
    if (st.isSymbolicLink()) {
      if (!statSync(p).isDirectory()) throw notADirectory(p);
      if (st.uid !== 0) {
        warn(`${p} is a symlink owned by UID ${st.uid}, not root; not changing the ownership of its target.`);
        return;
      }
      const fd = openSync(p, constants.O_RDONLY | constants.O_DIRECTORY);
      try {
        chownTreeFd(fd, uid, gid);
      } finally {
        closeSync(fd);
      }
      return;
    }
    if (!st.isDirectory()) throw notADirectory(p);
    const fd = reopenDirectory(pin);
    try {
      fchmodAndChown(fd, st, mode, st.uid, st.gid);
      chownTreeFd(fd, uid, gid);
    } finally {
      closeSync(fd);
    }
  } finally {
    closeSync(pin);
  }
}

/**
 * Makes the unit's directories for a process about to run as uid:gid (undefined: root, or the
 * daemon's own ids when it is not root); warnings (ConfigurationDirectory= of another mode) go to
 * `warn`. Throws the step's ActivationError (exitStatus, errno) when one cannot be made.
 */
export function setupExecDirectories(
  unit: ServiceUnit,
  ids: { uid?: number | undefined; gid?: number | undefined },
  warn: (message: string) => void,
): void {
  const dirs = execDirectories(unit);
  if (dirs.length === 0) return;
  const uid = ids.uid ?? process.getuid?.() ?? 0;
  const gid = ids.gid ?? process.getgid?.() ?? 0;
  for (const { kind, items, mode } of dirs) {
    if (dynamicUser(unit))
      throw new ActivationError(
        'EXEC_FAILED',
        `Failed to set up special execution directory in ${kind.prefix}: ${kind.key}= with DynamicUser=yes (${kind.prefix}/private and its symlinks) is not supported by mptcpd-lite`,
        { unit: unit.name, errno: 95, exitStatus: kind.status },
      );
    try {
      for (const item of items) {
        const p = join(kind.prefix, item.path);
        mkdirParents(kind.prefix, p);
        let made = true;
        try {
          mkdirSync(p, mode);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          made = false;
        }
        if (!made && kind.key === 'ConfigurationDirectory') {
          const st = statSync(p);
          if (((st.mode ^ mode) & 0o7777) !== 0)
            warn(
              `${kind.key} '${item.path}' already exists but the mode is different. (File system: ${(st.mode & 0o7777).toString(8)} ${kind.key}Mode: ${mode.toString(8)})`,
            );
          continue;
        }
        lockDown(p, mode, uid, gid, warn);
      }
      for (const item of items) {
        for (const link of item.symlinks) {
          const at = join(kind.prefix, link);
          mkdirParents(kind.prefix, at);
          try {
            symlinkSync(join(kind.prefix, item.path), at);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          }
        }
      }
    } catch (err) {
      throw fail(kind, err, unit.name);
    }
  }
}

/**
 * The run is over (service_enter_dead() → unit_destroy_runtime_data()): the runtime directories and
 * their symlinks go, unless RuntimeDirectoryPreserve=yes/restart.
 */
export function removeRuntimeDirectories(unit: ServiceUnit): void {
  const runtime = execDirectories(unit).find((d) => d.kind.key === 'RuntimeDirectory');
  if (!runtime) return;
  const preserve = extraOf(unit, 'RuntimeDirectoryPreserve').at(-1) ?? 'no';
  if (preserve === 'restart' || /^(1|yes|y|true|t|on)$/i.test(preserve)) return;
  let first: unknown;
  for (const item of runtime.items) {
    // a tree the service user could write: fd-based, never through a symlink it planted (rm_rf())
    try {
      removeTree(join(runtime.kind.prefix, item.path));
    } catch (err) {
      first ??= err;
    }
    for (const link of item.symlinks) {
      try {
        unlinkSync(join(runtime.kind.prefix, link)); // 257: (void) unlink()
      } catch {
        // gone already, or no longer a symlink: left, as 257
      }
    }
  }
  if (first !== undefined) throw first;
}

/**
 * A set-up step (directories, credentials, stdio files) failed for `path`: 257's child logs the
 * step's message and `Failed at step KIND spawning PATH: strerror`, and exits with its status; the
 * process never runs.
 */
export function failedSetupChild(error: ActivationError, path: string, log: (message: string) => void): ServiceChild {
  log(error.message);
  log(failedAtStep(error.exitStatus ?? 1, path, errnoMessage(error.errno ?? 5)));
  return {
    pid: undefined,
    method: 'native',
    spawned: Promise.resolve(error),
    exited: Promise.resolve({ code: error.exitStatus ?? 1, signal: null, error }),
    kill: () => false,
  };
}
