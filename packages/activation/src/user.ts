/**
 * User=/Group= resolution from /etc/passwd and /etc/group (Node has no getpwnam). Ids are uint32,
 * as in the kernel: 0 … 4294967294. Like systemd (uid_is_valid()), 4294967295 ((uid_t) -1, "no
 * change" to setresuid()) and 65535 ((uint16_t) -1, the 16-bit syscalls' "no change") are refused:
 * either would let a request for an unprivileged id silently keep the daemon's own.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ActivationError } from './errors.js';

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
      { unit: unitName },
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
  if (r instanceof ActivationError) throw new ActivationError(r.code, r.message, { unit: unitName });
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
  for (const f of table(database.passwd)) {
    const [name, , uidText, gidText, , home, shell] = f;
    const uid = fieldId(uidText);
    const gid = fieldId(gidText);
    if (name === undefined || uid === undefined || gid === undefined) continue;
    if ((numeric !== undefined && uid === numeric) || (numeric === undefined && name === user)) {
      return { name, uid, gid, home: home || '/', shell: shell || '/bin/sh' };
    }
  }
  if (numeric !== undefined) return { name: user, uid: numeric, gid: numeric, home: '/', shell: '/bin/sh' };
  throw new ActivationError('USER_NOT_FOUND', `Failed to determine user credentials: user "${user}" not found`, {
    unit: unitName,
  });
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
  if (user === 'root' || user === '0')
    return { name: 'root', home: '/root', shell: existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh' };
  if ((user === 'nobody' || user === '65534') && !existsSync('/etc/systemd/dont-synthesize-nobody'))
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
  const numeric = parseId(group, 'group', unitName);
  if (numeric !== undefined) return numeric;
  for (const f of table(database.group)) {
    const gid = fieldId(f[2]);
    if (f[0] === group && gid !== undefined) return gid;
  }
  throw new ActivationError('GROUP_NOT_FOUND', `Failed to determine group credentials: group "${group}" not found`, {
    unit: unitName,
  });
}

/** The credential change a start must make; the launcher fails the start when any part of it fails. */
export interface CredentialChange {
  uid?: number;
  gid?: number;
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
): CredentialChange {
  for (const id of [uid, gid]) {
    if (id !== undefined && !isValidId(id))
      throw new ActivationError('INVALID_CREDENTIALS', `id ${id} is not a valid uid/gid (0…${MAX_ID}, not 65535)`);
  }
  if (own.uid !== 0 && (uid === undefined || uid === own.uid) && (gid === undefined || gid === own.gid)) return {};
  return { ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}) };
}
