/**
 * File-system walks of trees a service user can write, done by the root daemon without ever
 * following a symlink the user planted, also when the user swaps a directory for a symlink while the
 * walk runs (systemd 257's path_chown_recursive() in src/shared/chown-recursive.c, and rm_rf() in
 * src/shared/rm-rf.c).
 *
 * Node has no openat()/fchownat()/unlinkat(), but `/proc/self/fd/<dirfd>/<name>` resolves as
 * openat(dirfd, name): the directory is pinned by its fd, only `name` is looked up, and the *NoFollow
 * flags (O_NOFOLLOW, lchown, unlink, rmdir) apply to it. `/proc/self/fd/<fd>` alone reaches the inode
 * the fd pins (257's fd_reopen() and fchmod_opath() do the same); for an O_PATH fd of a symlink it
 * reaches the symlink itself, not its target.
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  fstatSync,
  openSync,
  readdirSync,
  rmdirSync,
  type Stats,
  unlinkSync,
} from 'node:fs';

/** O_PATH (Linux, the same value on every architecture Node runs on); node:fs does not export it. */
export const O_PATH = 0o10000000;

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
const O_CLOEXEC = 0o2000000;

/**
 * Test seam: called with the directory's path (as the walk sees it, for matching) and the entry's
 * name, after the directory was listed and before the entry is opened. Tests use it to swap an entry
 * for a symlink at the one moment a path-based walk would follow it.
 */
export type EntryHook = (dir: string, name: string) => void;

export interface WalkOptions {
  onEntry?: EntryHook;
}

/** The path that resolves like openat(fd, name) (or the fd's own inode without `name`). */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * open(path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW): a directory fd, never through a symlink in the last
 * component (a symlink or any other file: ENOTDIR, thrown as the fs error).
 */
export function openDirNoFollow(path: string): number {
  return openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/** open(path, O_PATH|O_NOFOLLOW): pins the entry itself (a symlink stays a symlink). */
export function openPathNoFollow(path: string): number {
  return openSync(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

/** fd_reopen(fd, O_RDONLY|O_DIRECTORY): a readable fd of the directory an O_PATH fd pins. */
export function reopenDirectory(fd: number): number {
  return openSync(fdPath(fd), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/**
 * fchmod_and_chown(fd, st.mode & mask, uid, gid) of chown_one(): owner first (with the mode reduced to
 * what both the old and the new mode allow while the owner changes), then the mode again, since
 * chown() clears set-id bits; never chmod on a symlink. Works on O_PATH fds. True when it changed.
 */
export function fchmodAndChown(fd: number, st: Stats, mode: number, uid: number, gid: number): boolean {
  const doChown = st.uid !== uid || st.gid !== gid;
  const doChmod = !st.isSymbolicLink() && (((st.mode ^ mode) & 0o7777) !== 0 || doChown);
  const self = fdPath(fd);
  if (doChown && doChmod) {
    const minimal = st.mode & mode;
    if (((minimal ^ st.mode) & 0o7777) !== 0) chmodSync(self, minimal & 0o7777);
  }
  if (doChown) chownSync(self, uid, gid);
  if (doChmod) chmodSync(self, mode & 0o7777);
  return doChown || doChmod;
}

function chownWalk(
  fd: number,
  st: Stats,
  uid: number,
  gid: number,
  mask: number,
  at: string,
  options: WalkOptions,
): boolean {
  let changed = false;
  for (const name of readdirSync(fdPath(fd))) {
    options.onEntry?.(at, name);
    let pathFd: number;
    try {
      // pinned: the entry cannot be swapped between the fstat and the change
      pathFd = openPathNoFollow(fdPath(fd, name));
    } catch (err) {
      if (code(err) === 'ENOENT') continue; // gone meanwhile
      throw err;
    }
    try {
      const fst = fstatSync(pathFd);
      if (fst.isDirectory()) {
        const sub = reopenDirectory(pathFd);
        try {
          if (chownWalk(sub, fst, uid, gid, mask, `${at}/${name}`, options)) changed = true;
        } finally {
          closeSync(sub);
        }
      } else if (fchmodAndChown(pathFd, fst, fst.mode & mask, uid, gid)) changed = true;
    } finally {
      closeSync(pathFd);
    }
  }
  if (fchmodAndChown(fd, st, st.mode & mask, uid, gid)) changed = true;
  return changed;
}

/**
 * path_chown_recursive() on an open directory fd (fd_chown_recursive()): the tree to uid:gid with
 * its modes ANDed with `mask`. When the directory already has uid:gid and no mode bits outside the
 * mask, it does not descend at all (257's shortcut: a file somebody else owns inside an owned
 * directory stays theirs). Symlinks are changed themselves, never followed; a subdirectory is pinned
 * by an O_PATH fd before it is entered. POSIX ACLs are not dropped (257 does, with removexattr()).
 * Returns whether anything changed. `fd` stays open (the caller's).
 */
export function chownTreeFd(fd: number, uid: number, gid: number, mask = 0o7777, options: WalkOptions = {}): boolean {
  return chownTop(fd, uid, gid, mask, '.', options);
}

function chownTop(fd: number, uid: number, gid: number, mask: number, at: string, options: WalkOptions): boolean {
  const st = fstatSync(fd);
  if (!st.isDirectory())
    throw Object.assign(new Error('ENOTDIR: not a directory, chown'), { code: 'ENOTDIR', errno: -20 });
  if (st.uid === uid && st.gid === gid && (st.mode & ~mask & 0o7777) === 0) return false;
  return chownWalk(fd, st, uid, gid, mask, at, options);
}

/**
 * chownTreeFd() of the directory at `path`, opened with O_NOFOLLOW (a symlink or a file: ENOTDIR).
 */
export function chownTree(path: string, uid: number, gid: number, mask = 0o7777, options: WalkOptions = {}): boolean {
  const fd = openDirNoFollow(path);
  try {
    return chownTop(fd, uid, gid, mask, path, options);
  } finally {
    closeSync(fd);
  }
}

/** Removes what is in the directory `fd` pins (its device: `dev`); the first error, after trying all. */
function removeContents(fd: number, dev: number, at: string, options: WalkOptions): unknown {
  let first: unknown;
  for (const name of readdirSync(fdPath(fd))) {
    options.onEntry?.(at, name);
    const entry = fdPath(fd, name);
    // a directory that becomes something else (or back) meanwhile: look again, a bounded number of times
    for (let attempt = 0; attempt < 4; attempt++) {
      let sub: number | undefined;
      try {
        sub = openDirNoFollow(entry);
      } catch (err) {
        const c = code(err);
        if (c === 'ENOENT') break;
        if (c !== 'ENOTDIR' && c !== 'ELOOP') {
          first ??= err;
          break;
        }
      }
      if (sub === undefined) {
        try {
          unlinkSync(entry); // unlinkat(fd, name, 0): a symlink itself, never its target
          break;
        } catch (err) {
          if (code(err) === 'ENOENT') break;
          if (code(err) === 'EISDIR') continue; // a directory now
          first ??= err;
          break;
        }
      }
      try {
        // rm_rf() does not cross into another file system (a mount point below the tree)
        if (fstatSync(sub).dev !== dev) break;
        const e = removeContents(sub, dev, `${at}/${name}`, options);
        first ??= e;
      } finally {
        closeSync(sub);
      }
      try {
        rmdirSync(entry); // unlinkat(fd, name, AT_REMOVEDIR): never follows
        break;
      } catch (err) {
        const c = code(err);
        if (c === 'ENOENT') break;
        if (c === 'ENOTDIR') continue; // swapped for a symlink or file after it was emptied: unlink that
        first ??= err;
        break;
      }
    }
  }
  return first;
}

/**
 * rm -rf `path` as 257's rm_rf(path, REMOVE_ROOT): fd-based, symlinks removed and never followed
 * (also the top: a symlink at `path` is unlinked), a directory swapped for a symlink during the walk
 * is not entered, mount points below are left alone. A missing `path` is fine. Everything that can
 * go is removed; then the first error (other than ENOENT) is thrown.
 */
export function removeTree(path: string, options: WalkOptions = {}): void {
  let fd: number;
  try {
    fd = openDirNoFollow(path);
  } catch (err) {
    const c = code(err);
    if (c === 'ENOENT') return;
    if (c !== 'ENOTDIR' && c !== 'ELOOP') throw err;
    try {
      unlinkSync(path);
    } catch (e) {
      if (code(e) !== 'ENOENT') throw e;
    }
    return;
  }
  let first: unknown;
  try {
    first = removeContents(fd, fstatSync(fd).dev, path, options);
  } finally {
    closeSync(fd);
  }
  try {
    rmdirSync(path);
  } catch (err) {
    const c = code(err);
    if (c === 'ENOTDIR') {
      try {
        unlinkSync(path);
      } catch (e) {
        if (code(e) !== 'ENOENT') first ??= e;
      }
    } else if (c !== 'ENOENT') first ??= err;
  }
  if (first !== undefined) throw first;
}
