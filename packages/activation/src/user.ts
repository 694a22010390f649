/**
 * User=/Group= resolution from /etc/passwd and /etc/group (Node has no getpwnam). Ids are uint32,
 * as in the kernel: 0 … 4294967294. Like systemd (uid_is_valid()), 4294967295 ((uid_t) -1, "no
 * change" to setresuid()) and 65535 ((uint16_t) -1, the 16-bit syscalls' "no change") are refused:
 * either would let a request for an unprivileged id silently keep the daemon's own.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ActivationError } from './errors.js';
import { EXIT_GROUP, EXIT_USER } from './exit-status.js';
/** glibc's strerror(ESRCH): what 257 prints for a user or group that is not in the database. */
const ESRCH_TEXT = 'No such process';
/** ESRCH, carried on the errors (the step line's `Failed at step USER spawning …: No such process`). */
const ESRCH = 3;

export interface ResolvedUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** The largest id a unit may ask for (2³² − 2). */
export const MAX_ID = 4294967294;

/** systemd's uid_is_valid()/gid_is_valid(): an integer in 0 … 2³² − 2, and not 65535. */
export function isValidId(id: number): boolean {
  return Number.isInteger(id) && id >= 0 && id <= MAX_ID && id !== 65535;
}

/**
 * A decimal id as systemd's parse_uid() reads it, or undefined when `text` is not a number at all
 * (then it is a name). A number that is not a valid id throws: it never becomes "no change".
 */
export function parseId(text: string, what: 'user' | 'group', unitName?: string): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const id = Number(text);
  if (!isValidId(id)) {
    const why = id === 65535 || id === 4294967295 ? 'reserved as "no change" by the kernel' : `outside 0…${MAX_ID}`;
    throw new ActivationError(
      what === 'user' ? 'USER_NOT_FOUND' : 'GROUP_NOT_FOUND',
      `Failed to determine ${what} credentials: ${what} id ${text} is not valid (${why})`,
      // get_user_creds()/get_group_creds(): parse_uid() refuses it, NSS finds no such name: ESRCH.
      { unit: unitName, errno: ESRCH, exitStatus: what === 'user' ? EXIT_USER : EXIT_GROUP },
    );
  }
  return id;
}

/**
 * /etc/passwd and /etc/group as they are now: systemd resolves User= and Group= in the exec child
 * at every start (get_fixed_user()), so a user added after the unit was loaded is found without a
 * reload. A file is read and split once and kept while it is unchanged (one stat per lookup: an
 * Accept=yes socket starts a service per connection); resolved names are remembered too, errors
 * included, until either file changes (useradd/usermod rename a new file in) or clearUserCache().
 */
const tables = new Map<string, string[][]>();
const users = new Map<string, ResolvedUser | ActivationError>();
const groups = new Map<string, number | ActivationError>();
let own: OwnIds | undefined;

/** Where users and groups are read from (another root's files, or a test's). */
export interface UserDatabase {
  passwd: string;
  group: string;
}

const database: UserDatabase = { passwd: '/etc/passwd', group: '/etc/group' };

/** Reads users and groups from other files from now on (and forgets what was cached). */
export function useUserDatabase(files: Partial<UserDatabase>): void {
  Object.assign(database, files);
  clearUserCache();
}

/** Forgets /etc/passwd, /etc/group and what was resolved from them: the next lookup reads them again. */
/** The files User=/Group= are resolved from (the fast path hands a socket back when they change). */
export function userDatabasePaths(): string[] {
  return [database.passwd, database.group];
}

export function clearUserCache(): void {
  tables.clear();
  users.clear();
  groups.clear();
  own = undefined;
  signature = undefined;
}

/** The identity of /etc/passwd and /etc/group when the cache was filled (inode, size, times). */
let signature: string | undefined;

function fileSignature(path: string): string {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : '-';
}

/** Forgets what was read and resolved when either file changed since. */
function revalidate(): void {
  const now = `${fileSignature(database.passwd)}|${fileSignature(database.group)}`;
  if (now !== signature) {
    clearUserCache();
    signature = now;
  }
}

function table(path: string): string[][] {
  let t = tables.get(path);
  if (t === undefined) {
    t = readTable(path);
    tables.set(path, t);
  }
  return t;
}

function readTable(path: string): string[][] {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

/**
 * A remembered result, or the one `compute` gives. A lookup that failed is remembered as its code
 * and message and thrown again as a new error naming the unit that asked (an Accept=yes instance
 * name differs per connection, so it is not part of the key).
 */
function remembered<T>(
  cache: Map<string, T | ActivationError>,
  key: string,
  unitName: string | undefined,
  compute: () => T,
): T {
  let r = cache.get(key);
  if (r === undefined) {
    try {
      r = compute();
    } catch (err) {
      if (!(err instanceof ActivationError)) throw err;
      r = err;
    }
    cache.set(key, r);
  }
  if (r instanceof ActivationError)
    throw new ActivationError(r.code, r.message, {
      unit: unitName,
      ...(r.errno !== undefined ? { errno: r.errno } : {}),
      ...(r.exitStatus !== undefined ? { exitStatus: r.exitStatus } : {}),
    });
  return r;
}

/** A passwd/group field that must hold an id; an entry with a broken one is ignored, as by glibc. */
function fieldId(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const id = Number(text);
  return isValidId(id) ? id : undefined;
}

/** The passwd entry of `user` (a name or a uid); throws USER_NOT_FOUND (remembered while the files are unchanged). */
export function resolveUser(user: string, unitName?: string): ResolvedUser {
  revalidate();
  const r = remembered(users, user, unitName, () => lookupUser(user, unitName));
  // A copy: callers may not change what the next start gets.
  return { ...r };
}

function lookupUser(user: string, unitName?: string): ResolvedUser {
  const numeric = parseId(user, 'user', unitName);
  // synthesize_user_creds(): root and nobody need no passwd entry (257 asks NSS only for others).
  if (user === 'root' || numeric === 0) return { name: 'root', uid: 0, gid: 0, home: '/root', shell: rootShell() };
  if ((user === 'nobody' || numeric === 65534) && synthesizeNobody())
    return { name: 'nobody', uid: 65534, gid: 65534, home: '/', shell: '/usr/sbin/nologin' };
  for (const f of table(database.passwd)) {
    const [name, , uidText, gidText, , home, shell] = f;
    const uid = fieldId(uidText);
    const gid = fieldId(gidText);
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if ((numeric !== undefined && uid === numeric) || (numeric === undefined && name === user)) {
      return { name, uid, gid, home: home || '/', shell: shell || '/bin/sh' };
    }
  }
  // get_user_creds(): a name or a uid without a passwd entry is ESRCH, also a numeric User= (257 does
  // not run a process as a uid it cannot look up; DynamicUser= is refused before, sandbox.ts).
  throw new ActivationError('USER_NOT_FOUND', `Failed to determine user credentials: ${ESRCH_TEXT}`, {
    unit: unitName,
    errno: ESRCH,
    exitStatus: EXIT_USER,
  });
}

function rootShell(): string {
  return existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';
}

/** synthesize_nobody(): unless /etc/systemd/dont-synthesize-nobody exists. */
function synthesizeNobody(): boolean {
  return !existsSync('/etc/systemd/dont-synthesize-nobody');
}

/**
 * The user whose name, home and shell a process' environment carries (systemd 257 get_fixed_user()
 * → get_user_creds(USER_CREDS_CLEAN)): root and nobody are synthesized (root: /root and /bin/bash,
 * or /bin/sh without it; nobody: `/` and nologin, unless /etc/systemd/dont-synthesize-nobody
 * exists) unless `preferNss` (SetLoginEnvironment=yes explicitly, or PAMName=) asks for the
 * passwd entry first. A home or shell that is not a valid absolute path is left out (undefined).
 */
export interface LoginUser {
  name: string;
  home?: string;
  shell?: string;
}

export function loginUser(user: string, preferNss: boolean, unitName?: string): LoginUser {
  const synthesized = synthesizedUser(user);
  if (synthesized && !preferNss) return synthesized;
  revalidate();
  const numeric = parseId(user, 'user', unitName);
  for (const f of table(database.passwd)) {
    const [name, , uidText, gidText, , home, shell] = f;
    const uid = fieldId(uidText);
    if (name === undefined || uid === undefined || fieldId(gidText) === undefined) continue;
    if (numeric !== undefined ? uid === numeric : name === user) {
      // A numeric User= takes the entry's name; a name stays as written (several may share a uid).
      return { name: numeric !== undefined ? name : user, ...cleanPath('home', home), ...cleanPath('shell', shell) };
    }
  }
  return synthesized ?? { name: user };
}

function synthesizedUser(user: string): LoginUser | undefined {
  if (user === 'root' || user === '0') return { name: 'root', home: '/root', shell: rootShell() };
  if ((user === 'nobody' || user === '65534') && synthesizeNobody())
    return { name: 'nobody', home: '/', shell: '/usr/sbin/nologin' };
  return undefined;
}

/** USER_CREDS_CLEAN: only a valid absolute path (path_is_valid(): components of ≤ 255 bytes, < PATH_MAX). */
function cleanPath<K extends 'home' | 'shell'>(key: K, path: string | undefined): { [k in K]?: string } {
  if (path === undefined || !path.startsWith('/') || Buffer.byteLength(path) >= 4096) return {};
  if (path.split('/').some((c) => Buffer.byteLength(c) > 255)) return {};
  return { [key]: path } as { [k in K]?: string };
}

/** The gid of `group` (a name or a gid); throws GROUP_NOT_FOUND (remembered while the files are unchanged). */
export function resolveGroup(group: string, unitName?: string): number {
  revalidate();
  return remembered(groups, group, unitName, () => lookupGroup(group, unitName));
}

function lookupGroup(group: string, unitName?: string): number {
  const gid = groupId(group, unitName);
  if (gid !== undefined) return gid;
  throw new ActivationError('GROUP_NOT_FOUND', `Failed to determine group credentials: ${ESRCH_TEXT}`, {
    unit: unitName,
    errno: ESRCH,
    exitStatus: EXIT_GROUP,
  });
}

/** NOBODY_GROUP_NAME as Debian builds systemd. */
const NOBODY_GROUP = 'nogroup';

/**
 * get_group_creds(flags 0): root/0 and nogroup/65534 synthesized, else the /etc/group entry of the
 * name or gid; undefined when there is none (257: ESRCH), also for a numeric gid.
 */
function groupId(group: string, unitName?: string): number | undefined {
  const numeric = parseId(group, 'group', unitName);
  if (group === 'root' || numeric === 0) return 0;
  if ((group === NOBODY_GROUP || numeric === 65534) && synthesizeNobody()) return 65534;
  for (const f of table(database.group)) {
    const gid = fieldId(f[2]);
    if (gid === undefined) continue;
    if (numeric !== undefined ? gid === numeric : f[0] === group) return gid;
  }
  return undefined;
}

/**
 * getgrouplist(user, gid) over /etc/group (glibc's files backend): `gid` first, then every group
 * whose member list names `user`, in file order, each gid once.
 */
export function groupList(user: string, gid: number): number[] {
  revalidate();
  const out = [gid];
  for (const f of table(database.group)) {
    const id = fieldId(f[2]);
    if (id === undefined || out.includes(id)) continue;
    if ((f[3] ?? '').split(',').includes(user)) out.push(id);
  }
  return out;
}

/** NGROUPS_MAX on Linux. */
const NGROUPS_MAX = 65536;

/**
 * systemd 257's get_supplementary_groups() for a process of `userName` (the resolved User=, undefined
 * without one) with primary group `gid` (Group=, else the user's):
 * - `initgroups`: with a User= whose gid is not 0, the child first calls initgroups(user, gid), for
 *   every command (also `+` and `!`, which then keep these groups as root): getgrouplist();
 * - `enforced`: with SupplementaryGroups= (an empty assignment resets it; @mptcp/unit keeps the list),
 *   that list appended to initgroups' (or alone): set by enforce_groups() for commands that switch
 *   credentials. Undefined: enforce_groups() leaves the groups as initgroups (or the manager) set them.
 * A group that does not resolve fails the start: `Failed to determine supplementary groups: No such
 * process`, 216/GROUP.
 */
export interface SupplementaryGroups {
  initgroups?: number[];
  enforced?: number[];
}

export function supplementaryGroups(
  userName: string | undefined,
  gid: number | undefined,
  list: readonly string[],
  unitName?: string,
): SupplementaryGroups {
  const initgroups = userName !== undefined && gid !== undefined && gid !== 0 ? groupList(userName, gid) : undefined;
  if (list.length === 0) return initgroups ? { initgroups } : {};
  revalidate();
  const enforced = [...(initgroups ?? [])];
  let named = 0;
  for (const g of list) {
    if ((initgroups?.length ?? 0) + named++ >= NGROUPS_MAX)
      throw new ActivationError('GROUP_NOT_FOUND', 'Failed to determine supplementary groups: Argument list too long', {
        unit: unitName,
        errno: 7, // E2BIG
        exitStatus: EXIT_GROUP,
      });
    let id: number | undefined;
    try {
      id = groupId(g, unitName);
    } catch {
      id = undefined; // an invalid id: not in the database either
    }
    if (id === undefined)
      throw new ActivationError('GROUP_NOT_FOUND', `Failed to determine supplementary groups: ${ESRCH_TEXT}`, {
        unit: unitName,
        errno: ESRCH,
        exitStatus: EXIT_GROUP,
      });
    // merge_gid_lists(): each gid once, or the kernel would keep the duplicates.
    if (!enforced.includes(id)) enforced.push(id);
  }
  return { ...(initgroups ? { initgroups } : {}), enforced };
}

/** The credential change a start must make; the launcher fails the start when any part of it fails. */
export interface CredentialChange {
  uid?: number;
  gid?: number;
  /** initgroups()' groups: every command of the unit gets them (supplementaryGroups()). */
  initgroups?: number[];
  /** SupplementaryGroups= on top: the commands that switch credentials get these instead. */
  enforcedGroups?: number[];
}

/**
 * The supplementary groups a command's process gets (undefined: the daemon's, i.e. none for a root
 * daemon started like PID 1): exec_invoke() calls initgroups() for every command, enforce_groups()
 * only for one that switches credentials (not `+` nor `!`).
 */
export function commandGroups(change: CredentialChange, switchesUser: boolean): number[] | undefined {
  return switchesUser && change.enforcedGroups ? change.enforcedGroups : change.initgroups;
}

/** The daemon's own ids (overridable for tests). */
export interface OwnIds {
  uid: number;
  gid: number;
}

function ownIds(): OwnIds {
  own ??= { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  return own;
}

/**
 * What must change to run as `uid`/`gid`. Root always applies the full change (setgroups([]),
 * setresgid, setresuid), also to its own ids, so that no supplementary group survives. An
 * unprivileged daemon cannot call setgroups(): asked for exactly its own uid and gid it changes
 * nothing (as a systemd user manager runs `User=` of its own user); asked for anything else it
 * passes the change on and the start fails with the launcher's EPERM — never runs as itself.
 */
export function credentialChange(
  uid: number | undefined,
  gid: number | undefined,
  own: OwnIds = ownIds(),
  groups: SupplementaryGroups = {},
): CredentialChange {
  for (const id of [uid, gid]) {
    if (id !== undefined && !isValidId(id))
      throw new ActivationError('INVALID_CREDENTIALS', `id ${id} is not a valid uid/gid (0…${MAX_ID}, not 65535)`);
  }
  const enforced = groups.enforced ? { enforcedGroups: groups.enforced } : {};
  if (own.uid !== 0 && (uid === undefined || uid === own.uid) && (gid === undefined || gid === own.gid))
    // initgroups() without the privilege to is skipped when the gid is already ours (257, user mode);
    // SupplementaryGroups= is still asked for (and fails the start with EPERM, 216/GROUP).
    return enforced;
  return {
    ...(uid !== undefined ? { uid } : {}),
    ...(gid !== undefined ? { gid } : {}),
    ...(groups.initgroups ? { initgroups: groups.initgroups } : {}),
    ...enforced,
  };
}
