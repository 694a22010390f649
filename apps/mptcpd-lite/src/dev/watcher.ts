/**
 * Recursive file watching for `dev`: one inotify watch (fs.watch) per directory, added while walking
 * the tree and whenever a directory appears, so ignored trees (node_modules) cost no watches at all.
 * Node 20's `fs.watch(dir, { recursive: true })` on Linux would walk and watch node_modules too
 * before any filter applies. Changes are delivered in debounced batches.
 */
import { type Dirent, type FSWatcher, lstatSync, readdirSync, watch } from 'node:fs';
import path from 'node:path';
import type { IgnoreMatcher } from './glob.js';

export interface TreeWatcherOptions {
  /** Absolute paths: directories are watched recursively, files on their own. */
  roots: readonly string[];
  /** Paths relative to their root that are not watched nor reported. */
  ignore: IgnoreMatcher;
  /** Absolute paths never reported (e.g. the file dev's own output goes to). */
  ignoreFiles?: ReadonlySet<string>;
  /** Quiet time after the last event before a batch is delivered. */
  delayMs: number;
  /** A batch of changed absolute paths (files, or a directory that appeared or vanished). */
  onChange: (paths: string[]) => void;
  /** Something could not be watched (ENOSPC: out of inotify watches, EACCES…). */
  onWarning: (message: string) => void;
}

interface Watched {
  watcher: FSWatcher;
  root: string;
  /** For a watched file: the parent directory is watched, only these names count. */
  names?: Set<string>;
}

export class TreeWatcher {
  private readonly dirs = new Map<string, Watched>();
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private closed = false;
  private warnedLimit = false;

  constructor(private readonly options: TreeWatcherOptions) {}

  /** Walks the roots and starts watching; returns the number of directories watched. */
  start(): number {
    for (const root of this.options.roots) {
      let isDir: boolean;
      try {
        isDir = lstatSync(root).isDirectory();
      } catch (err) {
        this.options.onWarning(`cannot watch ${root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        continue;
      }
      if (isDir) this.walk(root, root);
      else this.watchFile(root);
    }
    return this.dirs.size;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of this.dirs.values()) w.watcher.close();
    this.dirs.clear();
    this.pending.clear();
  }

  /** Number of inotify watches held (one per directory). */
  get size(): number {
    return this.dirs.size;
  }

  private relative(root: string, abs: string): string {
    return path.relative(root, abs).split(path.sep).join('/');
  }

  private watchFile(file: string): void {
    const dir = path.dirname(file);
    const existing = this.dirs.get(dir);
    if (existing) {
      existing.names?.add(path.basename(file));
      return;
    }
    // Editors save by renaming a new file over the old one: a watch on the file itself would stay
    // on the old inode, so the directory is watched instead.
    this.addWatch(dir, path.dirname(file), new Set([path.basename(file)]));
  }

  private walk(dir: string, root: string): void {
    if (this.closed || this.dirs.has(dir)) return;
    if (dir !== root && this.options.ignore(this.relative(root, dir))) return;
    if (!this.addWatch(dir, root)) return;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // vanished or unreadable: its watch reports what happens next
    }
    // Symbolic links to directories are not followed (no cycles, no escaping the tree).
    for (const e of entries) if (e.isDirectory()) this.walk(path.join(dir, e.name), root);
  }

  private addWatch(dir: string, root: string, names?: Set<string>): boolean {
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: true }, (_event, filename) =>
        this.onEvent(dir, filename === null ? null : String(filename)),
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC') {
        if (!this.warnedLimit) {
          this.warnedLimit = true;
          this.options.onWarning(
            `out of inotify watches at ${dir} (raise fs.inotify.max_user_watches, or --ignore big directories); changes below it are not seen`,
          );
        }
      } else if (code !== 'ENOENT') {
        this.options.onWarning(`cannot watch ${dir}: ${code ?? String(err)}`);
      }
      return false;
    }
    // The directory was removed (IN_IGNORED) or became unreadable: forget it.
    watcher.on('error', () => this.unwatchTree(dir));
    this.dirs.set(dir, names ? { watcher, root, names } : { watcher, root });
    return true;
  }

  private unwatchTree(dir: string): void {
    for (const [d, w] of this.dirs) {
      if (d === dir || d.startsWith(dir + path.sep)) {
        if (w.names) continue; // a watched file's directory stays, its file may come back
        w.watcher.close();
        this.dirs.delete(d);
      }
    }
  }

  private onEvent(dir: string, filename: string | null): void {
    if (this.closed) return;
    const w = this.dirs.get(dir);
    if (!w) return;
    if (filename === null) {
      if (!w.names) this.queue(dir);
      return;
    }
    if (w.names && !w.names.has(filename)) return;
    const abs = path.join(dir, filename);
    if (this.options.ignoreFiles?.has(abs)) return;
    if (!w.names && this.options.ignore(this.relative(w.root, abs))) return;
    if (!w.names) {
      // A directory that appeared (mkdir, mv, git checkout) is walked; one that vanished is dropped.
      try {
        if (lstatSync(abs).isDirectory() && !this.dirs.has(abs)) this.walk(abs, w.root);
      } catch {
        this.unwatchTree(abs);
      }
    }
    this.queue(abs);
  }

  private queue(abs: string): void {
    const now = Date.now();
    if (this.pending.size === 0) this.firstPendingAt = now;
    this.pending.add(abs);
    if (this.timer) clearTimeout(this.timer);
    // A file written continuously must not postpone the batch forever.
    const cap = Math.max(1000, 10 * this.options.delayMs);
    const wait = Math.max(0, Math.min(this.options.delayMs, this.firstPendingAt + cap - now));
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    if (this.closed || this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending.clear();
    this.options.onChange(batch);
  }
}
