/**
 * SetCredential= and LoadCredential= as systemd 257's exec_setup_credentials() (exec-credential.c),
 * done by the daemon before a process of the unit is spawned:
 *
 * - the credentials go to /run/credentials/UNIT (/run/credentials 0755), one file per ID. 257 puts
 *   them on a read-only tmpfs/ramfs readable by User= only (an ACL, or ownership on the read-only
 *   mount); mptcpd-lite writes a plain directory that the service must not be able to change (it is
 *   removed by the root daemon): the directory is root:GROUP 0550 and each file root:GROUP 0440
 *   (GROUP: the process's Group=), which `stat` shows as 257's ACL'd tmpfs does (550, 440) except
 *   for the group: members of Group= can read them too, where 257's ACL names the user alone. A
 *   process run as root gets root:root 0500/0400;
 * - LoadCredential=ID:PATH reads an absolute path (a missing one fails the process:
 *   `Failed to set up credentials: Protocol error`, 243/CREDENTIALS, unless SetCredential=
 *   has the same ID); LoadCredential=ID[:NAME] with a relative name reads the daemon's own
 *   $CREDENTIALS_DIRECTORY/NAME, skipped when missing (257 also searches the credstore
 *   directories: not done here); a directory is read recursively, each regular file as
 *   ID_SUB_FILE (an AF_UNIX socket in it fails, anything else is skipped); a failure is reported as
 *   257's set-up child reports it, `Protocol error`;
 * - SetCredential=ID:DATA (C escapes) gives the ID only when nothing was loaded for it;
 * - 257's limits: a source larger than CREDENTIAL_SIZE_MAX (1 MiB) fails, and so do credentials
 *   whose IDs and data together pass CREDENTIALS_TOTAL_SIZE_MAX (1 MiB); reading never waits: a
 *   source is opened O_NONBLOCK, a FIFO is refused at once (257 blocks in open() until a writer
 *   comes, and the start times out) and so is a device with nothing to read now; an AF_UNIX
 *   socket source, which 257 connects to and reads, fails (the daemon has no non-blocking way to
 *   read it here). One unit's bad source fails that process alone: the event loop never waits on it;
 * - set up once per run, as 257: written fresh for each ExecStartPre= and the first ExecStart=
 *   (257's EXEC_SETUP_CREDENTIALS_FRESH; the new directory is written aside and renamed into
 *   place), and kept as is for every later process of the run (ExecStartPost=, ExecReload=, …), so
 *   the main process never sees its credentials vanish;
 * - $CREDENTIALS_DIRECTORY in every process; the directory is removed (without following any
 *   symlink, safe-fs.ts removeTree()) when the run ends.
 *
 * SetCredentialEncrypted=, LoadCredentialEncrypted= and ImportCredential= are refused (sandbox.ts,
 * 243/CREDENTIALS): the service never runs without the credentials it asked for.
 */
import { randomHex } from './random-id.js';
import {
  type Stats,
  closeSync,
  constants as fsc,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { errnoMessage } from '@mptcp/constants';
import type { ExecCommand, ServiceUnit } from '@mptcp/unit';
import { ActivationError } from './errors.js';
import { fdPath, removeTree } from './safe-fs.js';

export const EXIT_CREDENTIALS = 243;
export const CREDENTIALS_ROOT = '/run/credentials';

export interface CredentialSpec {
  set: Array<{ id: string; data: Buffer }>;
  load: Array<{ id: string; path: string }>;
}

function extraOf(unit: ServiceUnit, key: string): readonly string[] {
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra; // absent in hand-made units
  return extra?.[key] ?? [];
}

/** credential_name_valid(): a file name (no `/`, not `.`/`..`), at most 255 bytes. */
function validId(id: string): boolean {
  return id !== '' && id !== '.' && id !== '..' && !id.includes('/') && Buffer.byteLength(id) <= 255;
}

/** cunescape() of SetCredential='s data: \n \t \\ \xHH \NNN and the like. */
function unescape(s: string): Buffer {
  const out: number[] = [];
  const simple: Record<string, number> = {
    a: 7,
    b: 8,
    f: 12,
    n: 10,
    r: 13,
    t: 9,
    v: 11,
    '\\': 92,
    '"': 34,
    "'": 39,
    s: 32,
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c !== '\\' || i + 1 >= s.length) {
      out.push(...Buffer.from(c));
      continue;
    }
    const n = s[++i] as string;
    if (simple[n] !== undefined) out.push(simple[n]);
    else if (n === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/^[0-7]{3}$/.test(s.slice(i, i + 3))) {
      out.push(parseInt(s.slice(i, i + 3), 8) & 0xff);
      i += 2;
    } else out.push(92, ...Buffer.from(n));
  }
  return Buffer.from(out);
}

/** The unit's SetCredential=/LoadCredential= (an empty assignment resets the list; the last one per ID wins). */
export function credentialSpec(unit: ServiceUnit): CredentialSpec | undefined {
  if (specs.has(unit)) return specs.get(unit);
  const spec = readSpec(unit);
  specs.set(unit, spec);
  return spec;
}

/** Per loaded unit (a reload loads new unit objects). */
const specs = new WeakMap<ServiceUnit, CredentialSpec | undefined>();

function readSpec(unit: ServiceUnit): CredentialSpec | undefined {
  const set = new Map<string, Buffer>();
  const load = new Map<string, string>();
  for (const v of extraOf(unit, 'SetCredential')) {
    if (v === '') {
      set.clear();
      continue;
    }
    const colon = v.indexOf(':');
    const id = colon < 0 ? v : v.slice(0, colon);
    if (colon < 0 || !validId(id)) continue;
    set.set(id, unescape(v.slice(colon + 1)));
  }
  for (const v of extraOf(unit, 'LoadCredential')) {
    if (v === '') {
      load.clear();
      continue;
    }
    const colon = v.indexOf(':');
    const id = colon < 0 ? v : v.slice(0, colon);
    const path = colon < 0 || v.slice(colon + 1) === '' ? id : v.slice(colon + 1);
    if (!validId(id)) continue;
    load.set(id, path);
  }
  if (set.size === 0 && load.size === 0) return undefined;
  return {
    set: [...set].map(([id, data]) => ({ id, data })),
    load: [...load].map(([id, path]) => ({ id, path })),
  };
}

export function credentialsDirectory(unit: ServiceUnit): string {
  return join(CREDENTIALS_ROOT, unit.name);
}

/** $CREDENTIALS_DIRECTORY for a unit with credentials. */
export function credentialsEnvironment(unit: ServiceUnit): Record<string, string> {
  return credentialSpec(unit) ? { CREDENTIALS_DIRECTORY: credentialsDirectory(unit) } : {};
}

/** CREDENTIAL_SIZE_MAX (creds-util.h): the most one source may give. */
export const CREDENTIAL_SIZE_MAX = 1024 * 1024;
/** CREDENTIALS_TOTAL_SIZE_MAX: IDs and data of all of a unit's credentials together. */
export const CREDENTIALS_TOTAL_SIZE_MAX = 1024 * 1024;

/** EPROTO: what 257 reports for any failure of its credential set-up child. */
const EPROTO = 71;

/**
 * 257 writes the credentials in a forked child ("(sd-mkdcreds)", its own mount namespace); a failure
 * there (a missing source: ENOENT, a source too large: E2BIG) reaches the service's log as that
 * child's exit, -EPROTO: `Failed to set up credentials: Protocol error` (fixtures/v257/credentials
 * missing.service, credentials-limits). The real cause is kept as the error's cause.
 */
function failure(err: unknown, unit: string): ActivationError {
  return new ActivationError('EXEC_FAILED', `Failed to set up credentials: ${errnoMessage(EPROTO)}`, {
    unit,
    errno: EPROTO,
    exitStatus: EXIT_CREDENTIALS,
    cause: err,
  });
}

function sourceError(path: string, code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${path}: ${message}`), { code, path });
}

const O_CLOEXEC = 0o2000000;
const READ_FLAGS = fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY | O_CLOEXEC;

/**
 * read_full_file_full(…, CREDENTIAL_SIZE_MAX, READ_FULL_FILE_FAIL_WHEN_LARGER) of an open source,
 * without ever waiting: a regular file or a device is read to its end (E2BIG past `max`, as 257);
 * a FIFO or socket (257 would block until a peer comes) and a device with nothing to read now
 * (EAGAIN) fail at once.
 */
function readOpened(fd: number, st: Stats, path: string, max: number): Buffer {
  if (st.isFIFO() || st.isSocket())
    throw sourceError(path, 'EAGAIN', `${st.isFIFO() ? 'a FIFO' : 'a socket'}: reading it could block the daemon`);
  if (st.isFile() && st.size > max) throw sourceError(path, 'E2BIG', `${st.size} bytes, more than ${max}`);
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(max + 1 - total, 64 * 1024));
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN')
        throw sourceError(path, 'EAGAIN', 'nothing to read without waiting; reading it could block the daemon');
      throw err;
    }
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
    if (total > max) throw sourceError(path, 'E2BIG', `more than ${max} bytes`);
  }
  return Buffer.concat(chunks, total);
}

/** What the run's credentials are written with: the budget left and where to. */
interface Writer {
  dir: string;
  written: Set<string>;
  left: number;
  owner: { uid: number; gid: number; fileMode: number; dirMode: number };
}

/** maybe_decrypt_and_write_credential(): the ID and its data count against the total. */
function writeCredential(w: Writer, id: string, data: Buffer): void {
  const add = Buffer.byteLength(id) + data.length;
  if (add > w.left)
    throw sourceError(id, 'E2BIG', `credentials larger than ${CREDENTIALS_TOTAL_SIZE_MAX} bytes in all`);
  // The directory is new, root's and 0700 while it is written: nothing else can be in it.
  const fd = openSync(
    join(w.dir, id),
    fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW | fsc.O_NOCTTY | O_CLOEXEC,
    0o600,
  );
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
    fchmodSync(fd, w.owner.fileMode);
    fchownSync(fd, w.owner.uid, w.owner.gid);
  } finally {
    closeSync(fd);
  }
  w.left -= add;
  w.written.add(id);
}

/**
 * load_cred_recurse_dir_cb(): the regular files of a directory source, depth first in name order,
 * each as PREFIX_SUB_FILE; an AF_UNIX socket fails (257 reads entries of a directory without
 * connecting: ENXIO); symlinks, FIFOs and devices are skipped. Walked by fd, never through a link.
 */
function loadDirectory(w: Writer, dirFd: number, at: string, prefix: string): void {
  const entries = readdirSync(fdPath(dirFd), { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    const id = `${prefix}_${e.name}`;
    const path = `${at}/${e.name}`;
    if (!e.isFile() && !e.isDirectory() && !e.isSocket()) continue;
    if (e.isSocket()) throw sourceError(path, 'ENXIO', 'a socket in a credential directory');
    let fd: number;
    try {
      fd = openSync(fdPath(dirFd, e.name), READ_FLAGS | fsc.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ELOOP') continue; // gone, or a symlink now
      throw err;
    }
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) {
        loadDirectory(w, fd, path, id);
        continue;
      }
      if (!validId(id)) throw sourceError(path, 'EINVAL', `credential would get the ID '${id}', which is not valid`);
      if (w.written.has(id)) continue;
      writeCredential(w, id, readOpened(fd, st, path, CREDENTIAL_SIZE_MAX));
    } finally {
      closeSync(fd);
    }
  }
}

/** load_credential() of one LoadCredential= line. */
function loadCredential(w: Writer, id: string, path: string, setIds: ReadonlySet<string>): void {
  const absolute = path.startsWith('/');
  // A relative source is a credential name in the daemon's own $CREDENTIALS_DIRECTORY.
  if (!absolute && !validId(path)) throw sourceError(path, 'EINVAL', 'not a valid credential name');
  const inherited = process.env.CREDENTIALS_DIRECTORY;
  const source = absolute ? path : inherited ? join(inherited, path) : undefined;
  let fd: number;
  try {
    if (source === undefined) throw sourceError(path, 'ENOENT', 'no $CREDENTIALS_DIRECTORY');
    fd = openSync(source, READ_FLAGS);
  } catch (err) {
    // A missing inherited credential, or one SetCredential= gives a default for: skipped.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (!absolute || setIds.has(id))) return;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory() && absolute) loadDirectory(w, fd, path, id);
    else if (!w.written.has(id)) writeCredential(w, id, readOpened(fd, st, path, CREDENTIAL_SIZE_MAX));
  } finally {
    closeSync(fd);
  }
}

/** acquire_credentials(): every source, then SetCredential= for the IDs still missing. */
function writeAll(w: Writer, spec: CredentialSpec): void {
  const setIds = new Set(spec.set.map((s) => s.id));
  for (const { id, path } of spec.load) loadCredential(w, id, path, setIds);
  for (const { id, data } of spec.set) if (!w.written.has(id)) writeCredential(w, id, data);
}

/**
 * Who owns what the service reads: the daemon (root), so that the service can neither write nor
 * chmod anything there; the service's group reads. A process of the daemon's own user: 0500/0400.
 */
function ownerFor(uid: number, gid: number): Writer['owner'] {
  const self = process.getuid?.() ?? 0;
  if (uid === self) return { uid: self, gid, fileMode: 0o400, dirMode: 0o500 };
  return { uid: self, gid, fileMode: 0o440, dirMode: 0o550 };
}

/** Units whose credentials were written in this run (the next processes of the run keep them). */
const setUp = new Set<string>();

/** Is `dir` the daemon's own directory (not something else put there since)? */
function isSetUp(dir: string): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === (process.getuid?.() ?? 0);
  } catch {
    return false;
  }
}

/**
 * Whether `cmd` gets freshly written credentials: 257's EXEC_SETUP_CREDENTIALS_FRESH for each
 * ExecStartPre= ("so that updating credential files through it works") and the first ExecStart=;
 * later processes of the run reuse what is there.
 */
export function freshCredentials(unit: ServiceUnit, cmd: ExecCommand): boolean {
  return unit.execStartPre.includes(cmd) || unit.execStart[0] === cmd;
}

/**
 * Writes the unit's credentials for a process about to run as uid:gid (undefined: root, or the
 * daemon's own ids) when `fresh` (asked only of a unit that has credentials) or when this run has none yet; otherwise the run's credentials
 * stay as they are. Throws the 243/CREDENTIALS ActivationError when a source cannot be read, is
 * too large, would block, or the directory cannot be written.
 */
export function setupCredentials(
  unit: ServiceUnit,
  ids: { uid?: number | undefined; gid?: number | undefined },
  fresh: boolean | (() => boolean) = true,
): void {
  const spec = credentialSpec(unit);
  if (!spec) return;
  const dir = credentialsDirectory(unit);
  const rewrite = typeof fresh === 'function' ? fresh() : fresh;
  if (!rewrite && setUp.has(unit.name) && isSetUp(dir)) return;
  const uid = ids.uid ?? process.getuid?.() ?? 0;
  const gid = ids.gid ?? process.getgid?.() ?? 0;
  try {
    try {
      mkdirSync(CREDENTIALS_ROOT, 0o755);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Written aside ('#' is in no unit name), then renamed into place: a process of the run that
    // has the old directory open sees it whole until it goes.
    const work = join(CREDENTIALS_ROOT, `.#${unit.name}.${randomHex(6)}`);
    mkdirSync(work, 0o700);
    try {
      const w: Writer = { dir: work, written: new Set(), left: CREDENTIALS_TOTAL_SIZE_MAX, owner: ownerFor(uid, gid) };
      writeAll(w, spec);
      const fd = openSync(work, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW | O_CLOEXEC);
      try {
        fchmodSync(fd, w.owner.dirMode);
        fchownSync(fd, w.owner.uid, w.owner.gid);
      } finally {
        closeSync(fd);
      }
      replace(dir, work);
    } catch (err) {
      removeTree(work);
      throw err;
    }
    setUp.add(unit.name);
  } catch (err) {
    throw failure(err, unit.name);
  }
}

/** `work` becomes `dir`; what was at `dir` goes (by fd, never following a link). */
function replace(dir: string, work: string): void {
  const old = `${work}.old`;
  let moved = false;
  try {
    renameSync(dir, old);
    moved = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  renameSync(work, dir);
  if (moved) removeTree(old);
}

/** The run is over (unit_destroy_runtime_data()): the unit's credentials go. */
export function removeCredentials(unit: ServiceUnit): void {
  // Also when a daemon reload dropped the unit's credentials while it ran: what was written goes.
  if (!setUp.delete(unit.name) && !credentialSpec(unit)) return;
  removeTree(credentialsDirectory(unit));
}
