/**
 * SetCredential= and LoadCredential= as systemd 257's exec_setup_credentials() (exec-credential.c),
 * done by the daemon before each process of the unit is spawned:
 *
 * - the credentials go to /run/credentials/UNIT (/run/credentials 0755), one file per ID, mode 0400,
 *   owned by User=/Group= (257 uses an ACL, or ownership on its read-only ramfs); the directory is
 *   0500 and owned by the service user too (257 mounts a private read-only ramfs/tmpfs there when it
 *   can; mptcpd-lite writes a plain directory);
 * - LoadCredential=ID:PATH reads an absolute file (a missing one fails the process:
 *   `Failed to set up credentials: Protocol error`, 243/CREDENTIALS, unless SetCredential=
 *   has the same ID); LoadCredential=ID[:NAME] with a relative name reads the daemon's own
 *   $CREDENTIALS_DIRECTORY/NAME, skipped when missing; a directory is read one file per entry
 *   (ID_ENTRY); a failure is reported as 257's set-up child reports it, `Protocol error`;
 * - SetCredential=ID:DATA (C escapes) gives the ID only when nothing was loaded for it;
 * - $CREDENTIALS_DIRECTORY in every process; the directory is removed when the run ends.
 *
 * SetCredentialEncrypted=, LoadCredentialEncrypted= and ImportCredential= are refused (sandbox.ts,
 * 243/CREDENTIALS): the service never runs without the credentials it asked for.
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  fchmodSync,
  fchownSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { errnoMessage } from '@mptcp/constants';
import type { ServiceUnit } from '@mptcp/unit';
import { ActivationError } from './errors.js';

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

/** EPROTO: what 257 reports for any failure of its credential set-up child. */
const EPROTO = 71;

/**
 * 257 writes the credentials in a forked child ("(sd-mkdcreds)", its own mount namespace); a failure
 * there (a missing source: ENOENT) reaches the service's log as that child's exit, -EPROTO:
 * `Failed to set up credentials: Protocol error` (fixtures/v257/credentials missing.service). The
 * real cause is kept as the error's cause.
 */
function failure(err: unknown, unit: string): ActivationError {
  return new ActivationError('EXEC_FAILED', `Failed to set up credentials: ${errnoMessage(EPROTO)}`, {
    unit,
    errno: EPROTO,
    exitStatus: EXIT_CREDENTIALS,
    cause: err,
  });
}

function writeCredential(dir: string, id: string, data: Buffer, uid: number, gid: number): void {
  const fd = openSync(join(dir, id), 'wx', 0o600);
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
    fchmodSync(fd, 0o400);
    fchownSync(fd, uid, gid);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the unit's credentials for a process about to run as uid:gid (undefined: root, or the
 * daemon's own ids), fresh for each process (what a previous one changed is gone). Throws the
 * 243/CREDENTIALS ActivationError when a source cannot be read or the directory cannot be written.
 */
export function setupCredentials(unit: ServiceUnit, ids: { uid?: number | undefined; gid?: number | undefined }): void {
  const spec = credentialSpec(unit);
  if (!spec) return;
  const uid = ids.uid ?? process.getuid?.() ?? 0;
  const gid = ids.gid ?? process.getgid?.() ?? 0;
  const dir = credentialsDirectory(unit);
  try {
    try {
      mkdirSync(CREDENTIALS_ROOT, 0o755);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, 0o700);
    const written = new Set<string>();
    const setIds = new Set(spec.set.map((s) => s.id));
    const inherited = process.env.CREDENTIALS_DIRECTORY;
    for (const { id, path } of spec.load) {
      const absolute = path.startsWith('/');
      const source = absolute ? path : inherited ? join(inherited, path) : undefined;
      let st: ReturnType<typeof statSync> | undefined;
      try {
        if (source === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT', errno: -2 });
        st = statSync(source);
      } catch (err) {
        // A missing inherited credential, or one SetCredential= gives a default for: skipped.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (!absolute || setIds.has(id))) continue;
        throw err;
      }
      if (st.isDirectory() && source !== undefined) {
        for (const entry of readdirSync(source).sort()) {
          const sub = `${id}_${entry}`;
          if (written.has(sub) || !statSync(join(source, entry)).isFile()) continue;
          writeCredential(dir, sub, readFileSync(join(source, entry)), uid, gid);
          written.add(sub);
        }
        continue;
      }
      if (written.has(id) || source === undefined) continue;
      writeCredential(dir, id, readFileSync(source), uid, gid);
      written.add(id);
    }
    for (const { id, data } of spec.set) {
      if (written.has(id)) continue;
      writeCredential(dir, id, data, uid, gid);
      written.add(id);
    }
    chmodSync(dir, 0o500);
    chownSync(dir, uid, gid);
  } catch (err) {
    throw failure(err, unit.name);
  }
}

/** The run is over (unit_destroy_runtime_data()): the unit's credentials go. */
export function removeCredentials(unit: ServiceUnit): void {
  if (!credentialSpec(unit)) return;
  rmSync(credentialsDirectory(unit), { recursive: true, force: true });
}
