/**
 * Each service run in a cgroup v2 of its own, as systemd 257 tracks units (src/core/cgroup.c,
 * src/basic/cgroup-util.c): a process that calls setsid()/setpgid() leaves its service's session and
 * process group (process-group.ts) but never its cgroup, so a stop reaches it and the stop waits
 * until the cgroup is empty.
 *
 * Layout, under the daemon's own cgroup `<own>` (/proc/self/cgroup `0::`, on the cgroup2 mount found
 * in /proc/self/mountinfo): `<own>/mptcpd-lite-<id>/` per daemon (id: derived from its control
 * socket, so that several daemons in one cgroup never share a unit's cgroup, and a restarted daemon
 * finds what its predecessor left), the daemon itself in the leaf `mptcpd-lite.daemon` there (the
 * no-internal-processes rule), and one `<unit name>` per service run beside it (Accept=yes instances:
 * `sock@N-….service`), removed once empty after the run.
 *
 * Where this cannot work (no cgroup2 mount, read-only cgroupfs, a kernel without cgroup.kill (< 5.14),
 * no write access to our own cgroup) the daemon falls back to the process groups (detectCgroups()).
 */
import {
  closeSync,
  constants as fsc,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The daemon's own leaf in its cgroup tree. */
export const DAEMON_LEAF = 'mptcpd-lite.daemon';
/** The per-daemon directory's prefix. */
export const TREE_PREFIX = 'mptcpd-lite-';

/** Unescapes mountinfo's octal escapes (`\040` for a space). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The directory of the calling process's cgroup v2 from /proc/self/mountinfo and /proc/self/cgroup
 * (`0::/path`), or why there is none. A cgroup2 mount whose root is not `/` (a container's
 * namespaced view) is used when our path lies under it.
 */
export function ownCgroupDir(mountinfo: string, procCgroup: string): { dir: string } | { reason: string } {
  const line = procCgroup.split('\n').find((l) => l.startsWith('0::'));
  if (line === undefined) return { reason: 'no cgroup v2 hierarchy (cgroup v1 only)' };
  const own = line.slice(3);
  if (!own.startsWith('/')) return { reason: `unusable cgroup ${own}` };
  const mounts: { root: string; point: string }[] = [];
  for (const l of mountinfo.split('\n')) {
    const dash = l.indexOf(' - ');
    if (dash < 0) continue;
    const fstype = l.slice(dash + 3).split(' ')[0];
    if (fstype !== 'cgroup2') continue;
    const f = l.slice(0, dash).split(' ');
    if (f.length < 5) continue;
    mounts.push({ root: unescapeMount(f[3] as string), point: unescapeMount(f[4] as string) });
  }
  if (mounts.length === 0) return { reason: 'no cgroup2 file system mounted' };
  for (const m of mounts) {
    const root = m.root === '/' ? '' : m.root;
    if (own !== m.root && !own.startsWith(`${root}/`)) continue;
    return { dir: m.point + own.slice(root.length) };
  }
  return { reason: `our cgroup ${own} is not under a cgroup2 mount` };
}

function errCode(err: unknown): string {
  return (err as { code?: string }).code ?? 'EIO';
}

/** The PIDs in a cgroup.procs file (empty when it is gone). */
function readProcs(dir: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'cgroup.procs'), 'latin1');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const l of text.split('\n')) if (l !== '') out.push(Number(l));
  return out;
}

/** The sub-cgroups of `dir`. */
function children(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** `populated` in cgroup.events: whether any process is in the cgroup or below (false when it is gone). */
export function cgroupPopulated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(join(dir, 'cgroup.events'), 'latin1'));
  } catch {
    return false;
  }
}

/**
 * Resolves once the cgroup at `dir` is empty (cgroup.events `populated 0`, or the cgroup is gone):
 * an inotify watch on cgroup.events (the kernel notifies its changes, as systemd watches it), no
 * timer. `cancel()` ends the watch without resolving.
 */
export function whenCgroupEmpty(dir: string): { done: Promise<void>; cancel(): void } {
  let watcher: FSWatcher | undefined;
  let settle!: () => void;
  const done = new Promise<void>((resolve) => (settle = resolve));
  const finish = (): void => {
    watcher?.close();
    watcher = undefined;
    settle();
  };
  try {
    watcher = watch(join(dir, 'cgroup.events'), { persistent: true }, () => {
      if (!cgroupPopulated(dir)) finish();
    });
    watcher.on('error', () => finish());
  } catch {
    finish();
    return { done, cancel: () => {} };
  }
  // Emptied before the watch began.
  if (!cgroupPopulated(dir)) finish();
  return { done, cancel: () => (watcher?.close(), (watcher = undefined)) };
}

/**
 * cg_kill_recursive(): `signal` to every process in the cgroup and below, reading cgroup.procs again
 * until a pass finds no process not signalled yet (a process forked meanwhile is caught by the next
 * pass); SIGCONT after each (CGROUP_SIGCONT) unless the signal is SIGKILL or SIGCONT. Processes in
 * `skip` are left alone (KillMode=mixed's main process has had its signal). Returns the PIDs signalled.
 */
export function signalCgroup(dir: string, signal: NodeJS.Signals, skip: ReadonlySet<number> = new Set()): Set<number> {
  const done = new Set<number>(skip);
  const cont = signal !== 'SIGKILL' && signal !== 'SIGCONT';
  const count = new Set<number>();
  for (;;) {
    let fresh = 0;
    const dirs = [dir];
    for (let i = 0; i < dirs.length; i++) {
      const d = dirs[i] as string;
      for (const pid of readProcs(d)) {
        if (done.has(pid) || pid === process.pid) continue;
        done.add(pid);
        fresh += 1;
        try {
          process.kill(pid, signal);
          if (cont) process.kill(pid, 'SIGCONT');
          count.add(pid);
        } catch {
          // Gone meanwhile.
        }
      }
      dirs.push(...children(d));
    }
    if (fresh === 0) return count;
  }
}

/** SIGKILL to everything in the cgroup and below at once (cgroup.kill, kernel 5.14+). */
export function killCgroup(dir: string): boolean {
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
    return true;
  } catch {
    // Gone, or a kernel without cgroup.kill: each process.
    return signalCgroup(dir, 'SIGKILL').size > 0;
  }
}

/** rmdir of the cgroup and its (empty) sub-cgroups; false when a process still holds it. */
export function removeCgroup(dir: string): boolean {
  for (const c of children(dir)) if (!removeCgroup(c)) return false;
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return errCode(err) === 'ENOENT';
  }
}

/** One unit's cgroup for a run: its directory, and cgroup.procs open for the spawns to join it. */
export class UnitCgroup {
  private fd = -1;

  constructor(readonly path: string) {}

  /** An fd of cgroup.procs (opened once per run) for @mptcp/native's spawn `cgroupFd`. */
  procsFd(): number {
    if (this.fd < 0) {
      mkdirSync(this.path, { recursive: true });
      this.fd = openSync(join(this.path, 'cgroup.procs'), fsc.O_WRONLY); // libuv adds O_CLOEXEC
    }
    return this.fd;
  }

  /** Whether the run has spawned into it. */
  get used(): boolean {
    return this.fd >= 0;
  }

  pids(): number[] {
    return readProcs(this.path);
  }

  populated(): boolean {
    return cgroupPopulated(this.path);
  }

  signal(signal: NodeJS.Signals, skip?: ReadonlySet<number>): Set<number> {
    return signalCgroup(this.path, signal, skip);
  }

  kill(): boolean {
    return killCgroup(this.path);
  }

  whenEmpty(): { done: Promise<void>; cancel(): void } {
    return whenCgroupEmpty(this.path);
  }

  /** The run is over: the fd closes, the cgroup goes when nothing is left in it (else it stays, as 257's). */
  release(): boolean {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    return removeCgroup(this.path);
  }
}

/**
 * 257's cgroup_controller_table: a name `<controller>.…` is escaped (it could be the controller's file);
 * ConditionControlGroupController= knows these names.
 */
export const CGROUP_CONTROLLERS: readonly string[] = [
  'cpu',
  'cpuacct',
  'cpuset',
  'io',
  'blkio',
  'memory',
  'devices',
  'pids',
  'bpf-firewall',
  'bpf-devices',
  'bpf-foreign',
  'bpf-socket-bind',
  'bpf-restrict-network-interfaces',
];

/** filename_is_valid(): not empty, not `.` or `..`, no `/`, at most NAME_MAX (255) bytes. */
function filenameIsValid(p: string): boolean {
  return p !== '' && p !== '.' && p !== '..' && !p.includes('/') && Buffer.byteLength(p) <= 255;
}

/**
 * cg_needs_escape() (src/basic/cgroup-util.c): a name that starts with `_` or `.`, a kernel file name
 * (`cgroup.…`, `<controller>.…`, `tasks`, `release_agent`, `notify_on_release`), or no valid file name.
 */
export function cgNeedsEscape(p: string): boolean {
  if (!filenameIsValid(p)) return true;
  if (p.startsWith('_') || p.startsWith('.')) return true;
  if (p === 'notify_on_release' || p === 'release_agent' || p === 'tasks') return true;
  if (p.startsWith('cgroup.')) return true;
  return CGROUP_CONTROLLERS.some((c) => p.startsWith(`${c}.`));
}

/**
 * cg_escape(): a unit's cgroup directory name as 257 makes it (`.hid.service` → `_.hid.service`,
 * `cgroup.service` → `_cgroup.service`): `_` before a name that needs it, so that one leading `_`
 * removed gives the name back (cg_unescape()); undefined where 257 fails with EINVAL (still no valid
 * file name, e.g. 255 bytes plus the `_`).
 */
export function cgEscape(p: string): string | undefined {
  if (!cgNeedsEscape(p)) return p;
  const n = `_${p}`;
  return filenameIsValid(n) ? n : undefined;
}

/** The daemon's cgroup tree (see the module comment). */
export class CgroupTree {
  constructor(
    /** `<own>/mptcpd-lite-<id>`. */
    readonly base: string,
    /** The cgroup the daemon came from (close() goes back there); undefined: stay. */
    private readonly own?: string,
  ) {}

  /**
   * The daemon is done: it goes back to the cgroup it came from, and the tree is removed when no unit
   * cgroup is left in it (one that still holds a process stays, for the next daemon to find).
   */
  close(): void {
    if (this.own === undefined) return;
    try {
      writeFileSync(join(this.own, 'cgroup.procs'), String(process.pid));
    } catch {
      return;
    }
    removeCgroup(join(this.base, DAEMON_LEAF));
    if (this.leftovers().length === 0) removeCgroup(this.base);
  }

  /** The cgroup of a run of `unit` (created at its first spawn), named by cgEscape() as 257 names it. */
  unit(name: string): UnitCgroup {
    const dir = cgEscape(name);
    if (dir === undefined || dir === DAEMON_LEAF) throw new Error(`${name}: not a name for a cgroup`);
    return new UnitCgroup(join(this.base, dir));
  }

  /** The unit cgroups in the tree now (what a previous daemon left, at start-up). */
  leftovers(): string[] {
    return children(this.base).filter((d) => basename(d) !== DAEMON_LEAF);
  }
}

/**
 * Kills what is left in `dirs` (cgroup.kill), waits until each is empty (inotify on cgroup.events, at
 * most `timeoutMs`) and removes them. Returns the ones that held processes.
 */
export async function reapCgroups(dirs: readonly string[], timeoutMs = 5000): Promise<string[]> {
  const killed = dirs.filter((d) => cgroupPopulated(d));
  for (const d of killed) killCgroup(d);
  const waits = killed.map((d) => whenCgroupEmpty(d));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(waits.map((w) => w.done)),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    }),
  ]);
  if (timer) clearTimeout(timer);
  for (const w of waits) w.cancel();
  for (const d of dirs) removeCgroup(d);
  return killed;
}

/** What detectCgroups() found: the tree, or why the process groups are used instead. */
export type CgroupDetection = { tree: CgroupTree } | { tree?: undefined; reason: string };

/**
 * `<control socket>` → the per-daemon directory's name: 48 bits of FNV-1a 64 over the path's UTF-8
 * (not node:crypto, which would load the stream modules into an idle daemon).
 */
export function treeName(key: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(key, 'utf8')) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return TREE_PREFIX + (h >> 16n).toString(16).padStart(12, '0');
}

/**
 * Sets up the daemon's cgroup tree under its own cgroup: `mode` `off` → none; `auto` → the tree when
 * the cgroup2 file system is there, writable by us, has cgroup.kill, and we can move ourselves into
 * the tree's daemon leaf; else the reason (the daemon then keeps using process groups). `key` names
 * the tree (the control socket's path). A daemon already in such a leaf (restarted from within its
 * tree) uses the tree's parent as its own cgroup.
 */
export function detectCgroups(
  mode: 'auto' | 'off',
  key: string,
  read: { mountinfo?: string; cgroup?: string } = {},
): CgroupDetection {
  if (mode === 'off') return { reason: 'disabled (--cgroup off)' };
  let found: { dir: string } | { reason: string };
  try {
    found = ownCgroupDir(
      read.mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8'),
      read.cgroup ?? readFileSync('/proc/self/cgroup', 'utf8'),
    );
  } catch (err) {
    return { reason: `/proc/self/cgroup: ${errCode(err)}` };
  }
  if ('reason' in found) return found;
  let own = found.dir;
  if (basename(own) === DAEMON_LEAF && basename(dirname(own)).startsWith(TREE_PREFIX)) own = dirname(dirname(own));
  const base = join(own, treeName(key));
  let created = false;
  try {
    mkdirSync(base);
    created = true;
  } catch (err) {
    if (errCode(err) !== 'EEXIST') return { reason: `cannot create ${base}: ${errCode(err)}` };
  }
  const undo = (reason: string): CgroupDetection => {
    if (created) removeCgroup(base);
    return { reason };
  };
  if (!existsSync(join(base, 'cgroup.kill'))) return undo('no cgroup.kill (kernel before 5.14)');
  const leaf = join(base, DAEMON_LEAF);
  try {
    mkdirSync(leaf, { recursive: true });
    writeFileSync(join(leaf, 'cgroup.procs'), String(process.pid));
  } catch (err) {
    return undo(`cannot move the daemon into ${leaf}: ${errCode(err)}`);
  }
  pruneDeadTrees(own, base);
  return { tree: new CgroupTree(base, found.dir) };
}

/**
 * The trees of daemons that were SIGKILLed with no service running (nothing else left to find in
 * them: only an empty daemon leaf) go, so that they do not pile up beside ours. A tree with a unit
 * cgroup in it stays for its own daemon's restart, and so does one that holds any process.
 */
function pruneDeadTrees(own: string, ours: string): void {
  for (const dir of children(own)) {
    if (dir === ours || !basename(dir).startsWith(TREE_PREFIX) || cgroupPopulated(dir)) continue;
    const inside = children(dir);
    if (inside.length !== 1 || basename(inside[0] as string) !== DAEMON_LEAF) continue;
    if (removeCgroup(inside[0] as string)) removeCgroup(dir);
  }
}
