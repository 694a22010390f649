/**
 * Unit files on disk: the main file, its drop-ins (systemd.unit(5) "drop-in" rules), masking, and
 * whole directories (the first directory wins, like /etc over /usr/lib).
 */
import {
  closeSync,
  constants as fsc,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UnitError } from './errors.js';
import type { LoadState, ParseOptions } from './load-state.js';
import type { Diagnostic, ServiceUnit, SocketUnit, Unit } from './model.js';
import { applyUnitText, createLoadState, executableCheckOnce, finishLoadState, type ParseUnitResult } from './parse.js';
import { unitFileInput } from './syntax.js';
import { parseUnitName, templateOf, type UnitName } from './unit-name.js';

/**
 * The entries of each search path, listed once per load (searchPathListing()): drop-in
 * directories are then read only where they exist, instead of a failing readdir() for each of a
 * unit's candidate names in each search path.
 */
export type SearchPathListing = Map<string, ReadonlySet<string> | null>;

/** An empty listing cache: pass the same one to every findDropIns()/loadUnitFile() of one load. */
export function searchPathListing(): SearchPathListing {
  return new Map();
}

function listed(listing: SearchPathListing, sp: string): ReadonlySet<string> | null {
  let entries = listing.get(sp);
  if (entries === undefined) {
    try {
      entries = new Set(readdirSync(sp));
    } catch {
      // Not listable (missing, or execute-only): its drop-in directories are tried one by one.
      entries = null;
    }
    listing.set(sp, entries);
  }
  return entries;
}

/** Whether a listing has an entry named `*.d` (a possible drop-in directory), computed once per listing. */
const dirDEntries = new WeakMap<ReadonlySet<string>, boolean>();

function hasDirDEntries(entries: ReadonlySet<string> | null): boolean {
  if (entries === null) return true; // not listable: every candidate is tried
  let has = dirDEntries.get(entries);
  if (has === undefined) {
    has = false;
    for (const e of entries) {
      if (e.endsWith('.d')) {
        has = true;
        break;
      }
    }
    dirDEntries.set(entries, has);
  }
  return has;
}

export interface LoadDirectoriesOptions extends LoadOptions {
  /**
   * Read each template's text during the load (LoadedUnits.templateTexts), for a caller that
   * needs it anyway: one open + read + close per template instead of a stat now and a read later.
   */
  readTemplates?: boolean;
  /**
   * Reads many small regular files at once (e.g. @mptcp/native's readSmallFiles()): per path its
   * bytes, or undefined for one the loader must read itself as usual (empty, too big, unreadable);
   * undefined as a whole when it cannot. Called once per unit directory with the files readdir()
   * reported as regular files, before they are parsed; a file is then read exactly as without it.
   */
  readFiles?: (paths: readonly string[], maxBytes: number) => ReadonlyArray<Buffer | undefined> | undefined;
}

export interface LoadOptions extends ParseOptions {
  /** Search path entries listed once for many units (loadUnitDirectories() makes one per call). */
  listing?: SearchPathListing;
  /**
   * Unit search path, highest priority first (e.g. ['/etc/systemd/system', '/run/systemd/system',
   * '/usr/lib/systemd/system']). Drop-ins are looked up here. Default: the unit file's directory.
   */
  searchPaths?: readonly string[];
  /** Unit name when it differs from the file name (instances loaded from a template). */
  name?: string;
}

export interface LoadUnitResult extends ParseUnitResult {
  /** The unit file is empty or a link to /dev/null. */
  masked?: boolean;
}

/** null_or_empty_path(): /dev/null (or a link to it) or an empty regular file. */
export function isMaskFile(path: string): boolean {
  try {
    const st = statSync(path);
    if (st.isCharacterDevice()) return realpathSync(path) === '/dev/null';
    return st.isFile() && st.size === 0;
  } catch {
    return false;
  }
}

/** The drop-in directory names for a unit, most specific first (`a-b.socket.d`, `a-.socket.d`, …, `socket.d`). */
export function dropInDirNames(name: string): string[] {
  const n = parseUnitName(name);
  if (!n) return [];
  const out: string[] = [`${name}.d`];
  const tmpl = templateOf(name);
  if (tmpl && tmpl !== name) out.push(`${tmpl}.d`);
  // Dashed prefixes: "a-b-c.socket" → "a-b-.socket.d", "a-.socket.d" (from the prefix, without the instance).
  const p = n.prefix;
  for (let i = p.length - 2; i >= 0; i--) if (p[i] === '-') out.push(`${p.slice(0, i + 1)}.${n.type}.d`);
  out.push(`${n.type}.d`);
  return out;
}

/** The suffixes hidden_or_backup_file() skips after the last dot (packaging leftovers, editor backups). */
const BACKUP_SUFFIXES = new Set([
  'rpmnew',
  'rpmsave',
  'rpmorig',
  'dpkg-old',
  'dpkg-new',
  'dpkg-tmp',
  'dpkg-dist',
  'dpkg-bak',
  'dpkg-backup',
  'dpkg-remove',
  'ucf-new',
  'ucf-old',
  'ucf-dist',
  'swp',
  'bak',
  'old',
  'new',
]);

/**
 * Whether systemd 257's hidden_or_backup_file() skips the directory entry `f`: a hidden `.name`,
 * `lost+found` and the quota files, a `~` backup, or one of BACKUP_SUFFIXES after the last dot.
 * conf_files_list() leaves these out of drop-in directories, and dir_is_empty() (for
 * ConditionDirectoryNotEmpty=) does not count them.
 */
export function isHiddenOrBackupFile(f: string): boolean {
  if (f.startsWith('.') || f === 'lost+found' || f === 'aquota.user' || f === 'aquota.group' || f.endsWith('~'))
    return true;
  const dot = f.lastIndexOf('.');
  return dot >= 0 && BACKUP_SUFFIXES.has(f.slice(dot + 1));
}

/** A drop-in directory's files as conf_files_list_strv(".conf") lists them: `*.conf`, not hidden. */
function listConf(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.conf') && !isHiddenOrBackupFile(f));
  } catch {
    return [];
  }
}

/**
 * The drop-in files for `name`, in application order: merged across search paths and drop-in
 * directories, sorted by file name; the same file name in a higher-priority place masks the others;
 * a drop-in linked to /dev/null (or empty) only masks.
 */
export function findDropIns(name: string, searchPaths: readonly string[], listing?: SearchPathListing): string[] {
  // Listed search paths without any `*.d` entry hold no drop-in for any unit: nothing to look up.
  if (listing && searchPaths.every((sp) => !hasDirDEntries(listed(listing, sp)))) return [];
  const chosen = new Map<string, string>();
  const names = dropInDirNames(name);
  for (const sp of searchPaths) {
    const entries = listing ? listed(listing, sp) : null;
    for (const d of names) {
      if (entries && !entries.has(d)) continue;
      const dir = join(sp, d);
      for (const f of listConf(dir)) if (!chosen.has(f)) chosen.set(f, join(dir, f));
    }
  }
  return [...chosen.keys()]
    .sort()
    .map((f) => chosen.get(f) as string)
    .filter((p) => {
      try {
        return lstatSync(p).isSymbolicLink() ? !isMaskFile(p) : statSync(p).isFile();
      } catch {
        return false;
      }
    });
}

function readIssue(file: string, unit: string, e: unknown): Diagnostic {
  const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
  return { severity: 'error', file, unit, message: `Failed to load configuration: ${code}` };
}

/** systemd's READ_FULL_BYTES_MAX (64 MiB − 1). */
const UNIT_FILE_MAX = 64 * 1024 * 1024 - 1;

/**
 * A unit file or drop-in, read without letting it stall the caller: opened O_NONBLOCK (a FIFO opens
 * at once), regular files only (a FIFO would block, /dev/zero never ends), at most 64 MiB.
 * With `maskCheck`, a mask (/dev/null or a link to it, an empty file: isMaskFile()) is 'masked'
 * instead of an error: the one fstat() answers both, no stat() before the open (start-up reads
 * thousands of these). open + fstat + read + close: the size from fstat sizes the one read.
 */
function readUnitFile(path: string, maskCheck?: false): Buffer;
function readUnitFile(path: string, maskCheck: true): Buffer | 'masked';
function readUnitFile(path: string, maskCheck = false): Buffer | 'masked' {
  const fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  try {
    const st = fstatSync(fd);
    if (maskCheck && (st.isFile() ? st.size === 0 : st.isCharacterDevice() && realpathSync(path) === '/dev/null'))
      return 'masked';
    if (!st.isFile()) throw new UnitError(st.isDirectory() ? 'EISDIR' : 'EBADFD', path, `${path}: not a regular file`);
    if (st.size > UNIT_FILE_MAX) throw new UnitError('EFBIG', path, `${path}: larger than ${UNIT_FILE_MAX} bytes`);
    // /proc-like files report size 0 but have content: read those to the end, as readFileSync does.
    if (st.size === 0) return readFileSync(fd);
    const buf = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < buf.length) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    return n === buf.length ? buf : buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * The bytes of regular files read ahead by LoadDirectoriesOptions.readFiles for the directory being
 * loaded (readKnownRegular() takes each once); undefined outside loadUnitDirectories().
 */
let prefetched: Map<string, Buffer> | undefined;

/** Reused by readKnownRegular(): start-up reads thousands of small files. */
const SCRATCH_SIZE = 64 * 1024;
let scratch: Buffer | undefined = Buffer.allocUnsafe(SCRATCH_SIZE);

/**
 * A file readdir() reported as a regular file (d_type, not a symlink): read without the fstat()
 * (Node builds a Stats object with four Dates per call). open + read + close; opened O_NONBLOCK
 * all the same, and at most UNIT_FILE_MAX bytes are read, should it have been replaced since; a
 * short read is the end of the file. Returns 'masked' for an empty file, else what parseSyntax()
 * is given for it (unitFileInput(): mostly the decoded text; the buffer is reused for the next file).
 */
function readKnownRegular(path: string): string | Buffer | 'masked' {
  const pre = prefetched?.get(path);
  if (pre !== undefined) {
    (prefetched as Map<string, Buffer>).delete(path);
    return unitFileInput(pre, pre.length);
  }
  const fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
  const own = scratch;
  scratch = undefined; // in use (a nested load would allocate its own)
  try {
    let buf = own ?? Buffer.allocUnsafe(SCRATCH_SIZE);
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        // More than the scratch buffer (rare): make sure it is still a regular file before reading on
        // (it could have been replaced by a link to /dev/zero since readdir()).
        if (n === SCRATCH_SIZE) notRegularCheck(fd, path);
        if (n > UNIT_FILE_MAX) throw new UnitError('EFBIG', path, `${path}: larger than ${UNIT_FILE_MAX} bytes`);
        // Grown copies are not kept: only the small scratch buffer stays allocated.
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 4, UNIT_FILE_MAX + 1));
        buf.copy(bigger, 0, 0, n);
        buf = bigger;
      }
      const want = buf.length - n;
      const r = readSync(fd, buf, n, want, null);
      n += r;
      // A regular file reads short only at its end: no second read() to see 0.
      if (r < want) break;
    }
    if (n === 0) {
      // Empty (rare): a mask, if it is still a regular file (a FIFO swapped in since readdir() reads 0 too).
      notRegularCheck(fd, path);
      return 'masked';
    }
    return unitFileInput(buf, n);
  } finally {
    closeSync(fd);
    if (own) scratch = own;
  }
}

/** Throws what readUnitFile() throws for a file that is not (or no longer) a regular file. */
function notRegularCheck(fd: number, path: string): void {
  const st = fstatSync(fd);
  if (!st.isFile()) throw new UnitError(st.isDirectory() ? 'EISDIR' : 'EBADFD', path, `${path}: not a regular file`);
}

/** Applies the main file (already read) and its drop-ins to a fresh state. */
function loadInto(
  state: LoadState,
  text: string | Buffer,
  path: string,
  searchPaths: readonly string[],
  listing: SearchPathListing | undefined,
): void {
  applyUnitText(state, text, path);
  const dropIns = findDropIns(state.unit.name, searchPaths, listing);
  for (let i = 0; i < dropIns.length; i++) {
    const d = dropIns[i] as string;
    let text: Buffer;
    try {
      text = readUnitFile(d);
    } catch (e) {
      state.diagnostics.push(readIssue(d, state.unit.name, e));
      continue;
    }
    applyUnitText(state, text, d);
  }
}

/** Loads one unit file plus the drop-ins found in the search paths. */
export function loadUnitFile(path: string, options: LoadOptions = {}): LoadUnitResult {
  return loadFile(path, options.name ?? basename(path), options.searchPaths ?? [dirname(path)], options, false);
}

/**
 * loadUnitFile() with the name and search paths resolved; `regular` when readdir() said the path is
 * a regular file (no fstat needed: readKnownRegular()).
 */
function loadFile(
  path: string,
  name: string,
  searchPaths: readonly string[],
  options: LoadOptions,
  regular: boolean,
  /** parseUnitName(name), when the caller has it. */
  parsed?: UnitName,
): LoadUnitResult {
  // Read first (it tells a mask too); a read error is reported after the name check.
  let text: string | Buffer | 'masked' | undefined;
  let readError: unknown;
  try {
    text = regular ? readKnownRegular(path) : readUnitFile(path, true);
  } catch (e) {
    readError = e;
  }
  if (text === 'masked') {
    return {
      masked: true,
      fatal: true,
      code: 'ERFKILL',
      diagnostics: [{ severity: 'warning', file: path, unit: name, message: `Unit ${name} is masked.` }],
    };
  }
  const state = createLoadState(name, path, options, parsed);
  if (!state) {
    return {
      fatal: true,
      diagnostics: [
        {
          severity: 'error',
          file: path,
          unit: name,
          message: `Unit name is not a valid .socket or .service unit name: ${name}`,
        },
      ],
    };
  }
  try {
    if (text === undefined) throw readError;
    loadInto(state, text, path, searchPaths, options.listing);
  } catch (e) {
    return { fatal: true, diagnostics: [...state.diagnostics, readIssue(path, name, e)] };
  }
  return finishLoadState(state);
}

/** Finds the fragment for a unit name in the search path: the unit itself, else its template. */
export function findUnitFile(name: string, searchPaths: readonly string[]): string | undefined {
  const candidates = [name];
  const t = templateOf(name);
  if (t && t !== name) candidates.push(t);
  for (const c of candidates) {
    for (const sp of searchPaths) {
      const p = join(sp, c);
      try {
        lstatSync(p);
        return p;
      } catch {
        /* next */
      }
    }
  }
  return undefined;
}

export interface LoadedUnits {
  sockets: SocketUnit[];
  services: ServiceUnit[];
  /** All loaded units (sockets, then services). */
  units: Unit[];
  /** `prefix@.service` / `prefix@.socket` template name → template file path. */
  templates: Map<string, string>;
  /**
   * With `readTemplates`: template name → the template file's text (UTF-8), read once during the
   * load (the read also tells a mask: no stat). Its drop-ins are not read (findDropIns()).
   */
  templateTexts?: Map<string, string>;
  /** Units that could not be loaded (skipped), with their diagnostics. */
  failed: Array<{ name: string; file: string; diagnostics: Diagnostic[] }>;
  /** Masked unit names (empty file or /dev/null link). */
  masked: string[];
  /** Alias name (a symlink to a unit file of another name) → the unit's name. */
  aliases: Map<string, string>;
  /** Every diagnostic, in load order. */
  diagnostics: Diagnostic[];
}

/**
 * Loads every `.socket` and `.service` file in `dirs` (highest priority first: the first directory
 * that has a name wins). A unit that fails to load is reported in `failed` and skipped; templates
 * (`foo@.service`) are listed in `templates`, not loaded (see loadServiceInstance()). A unit whose
 * Exec command is not executable loads (with an error diagnostic), as in systemd.
 */
export function loadUnitDirectories(dirs: readonly string[], options: LoadDirectoriesOptions = {}): LoadedUnits {
  const out: LoadedUnits = {
    sockets: [],
    services: [],
    units: [],
    templates: new Map(),
    failed: [],
    masked: [],
    aliases: new Map(),
    diagnostics: [],
  };
  const seen = new Set<string>();
  const searchPaths = options.searchPaths ?? dirs;
  const listing = options.listing ?? searchPathListing();
  // One options object for every file of this load; an executable is checked once per load.
  const executables = options.executables ?? true;
  const fileOptions: LoadOptions = {
    ...options,
    searchPaths,
    listing,
    executables: executables === true ? executableCheckOnce() : executables,
  };
  for (const dir of dirs) {
    // join(dir, name) for a readdir() name (no slash, never "." or ".."), without normalizing per entry.
    const d = join(dir);
    const prefix = d === '.' ? '' : d.endsWith('/') ? d : `${d}/`;
    // Unit names in code-unit order (the default sort: native, no comparator called per pair), with
    // the names readdir() reported as regular files (d_type).
    const names: string[] = [];
    const regular = new Set<string>();
    // A unit directory that is also a search path: this readdir() is its listing too (no second one).
    const all = listing.has(dir) || !searchPaths.includes(dir) ? undefined : new Set<string>();
    let hasDirD = false;
    try {
      const entries = readdirSync(dir, { withFileTypes: true });
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i] as (typeof entries)[number];
        const name = e.name;
        all?.add(name);
        if (!name.endsWith('.socket') && !name.endsWith('.service')) {
          if (name.endsWith('.d')) hasDirD = true;
          continue;
        }
        names.push(name);
        if (e.isFile()) regular.add(name);
      }
    } catch {
      continue;
    }
    if (all) {
      listing.set(dir, all);
      dirDEntries.set(all, hasDirD);
    }
    names.sort();
    prefetched = options.readFiles ? readAhead(options.readFiles, prefix, names, regular, seen) : undefined;
    try {
      loadNames(names, prefix, regular);
    } finally {
      prefetched = undefined;
    }
  }
  out.units = [...out.sockets, ...out.services];
  return out;

  function loadNames(names: readonly string[], prefix: string, regular: ReadonlySet<string>): void {
    for (let i = 0; i < names.length; i++) {
      let name = names[i] as string;
      if (seen.has(name)) continue;
      seen.add(name);
      let path = prefix + name;
      // A regular file (d_type, no symlink) is neither a directory nor an alias: no stat needed.
      const plain = regular.has(name);
      try {
        if (!plain && statSync(path).isDirectory()) continue;
      } catch {
        // dangling symlink: fall through, loadUnitFile reports it
      }
      // An alias (a symlink to a unit file of another name) is loaded under the target's name.
      const target = plain ? undefined : aliasTarget(path, name);
      if (target !== undefined) {
        out.aliases.set(name, target.name);
        if (seen.has(target.name)) continue;
        seen.add(target.name);
        name = target.name;
        path = target.path;
      }
      const n = parseUnitName(name);
      if (n?.template) {
        if (options.readTemplates) {
          const text = templateText(path, plain && target === undefined);
          if (text === 'masked') out.masked.push(name);
          else {
            out.templates.set(name, path);
            // unreadable (EACCES, a FIFO, …): listed without text, its reader reports the error
            if (text !== undefined) (out.templateTexts ??= new Map()).set(name, text);
          }
        } else if (!isMaskFile(path)) out.templates.set(name, path);
        else out.masked.push(name);
        continue;
      }
      const r = loadFile(path, name, searchPaths, fileOptions, plain && target === undefined, n);
      out.diagnostics.push(...r.diagnostics);
      if (r.masked) out.masked.push(name);
      else if (r.unit) {
        // Like systemd, a unit whose command is not executable still loads (it fails when started).
        if (r.unit.kind === 'socket') out.sockets.push(r.unit);
        else out.services.push(r.unit);
      } else out.failed.push({ name, file: path, diagnostics: r.diagnostics });
    }
  }
}

/** LoadDirectoriesOptions.readFiles over a directory's regular unit files not loaded yet. */
function readAhead(
  readFiles: NonNullable<LoadDirectoriesOptions['readFiles']>,
  prefix: string,
  names: readonly string[],
  regular: ReadonlySet<string>,
  seen: ReadonlySet<string>,
): Map<string, Buffer> | undefined {
  const paths: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (regular.has(name) && !seen.has(name)) paths.push(prefix + name);
  }
  if (paths.length === 0) return undefined;
  // Up to the scratch buffer's size: a bigger file is read by readKnownRegular() (its checks).
  const got = readFiles(paths, SCRATCH_SIZE);
  if (!got) return undefined;
  const map = new Map<string, Buffer>();
  for (let i = 0; i < paths.length; i++) {
    const b = got[i];
    if (b !== undefined && b.length > 0) map.set(paths[i] as string, b);
  }
  return map;
}

/** A template's text for `readTemplates`: 'masked' as isMaskFile() says, undefined when it cannot be read. */
function templateText(path: string, regular: boolean): string | 'masked' | undefined {
  try {
    if (regular) {
      const r = readKnownRegular(path);
      return typeof r === 'string' ? r : r.toString('utf8');
    }
    if (isMaskFile(path)) return 'masked';
    return readUnitFile(path).toString('utf8');
  } catch {
    return undefined;
  }
}

/** For a symlink to a unit file with another (valid, same-type) name: that name and the real path. */
function aliasTarget(path: string, name: string): { name: string; path: string } | undefined {
  try {
    if (!lstatSync(path).isSymbolicLink() || isMaskFile(path)) return undefined;
    const real = realpathSync(path);
    const t = basename(real);
    const a = parseUnitName(name);
    const b = parseUnitName(t);
    if (t === name || !a || !b || a.type !== b.type) return undefined;
    return { name: t, path: real };
  } catch {
    return undefined;
  }
}

/**
 * Loads `prefix@instance.service` from its template (`templateName` = `prefix@.service`, found in
 * the search path), with %i/%I and the instance's other specifiers expanded, plus drop-ins for the
 * instance and the template.
 */
export function loadServiceInstance(
  templateName: string,
  instance: string,
  options: LoadOptions & { templateFile?: string } = {},
): LoadUnitResult {
  const t = parseUnitName(templateName);
  const name = t ? `${t.prefix}@${instance}.${t.type}` : templateName;
  const searchPaths = options.searchPaths ?? (options.templateFile ? [dirname(options.templateFile)] : []);
  const file = options.templateFile ?? findUnitFile(name, searchPaths);
  if (!t || !t.template || t.type !== 'service') {
    return {
      fatal: true,
      diagnostics: [
        {
          severity: 'error',
          file: templateName,
          unit: templateName,
          message: `Not a service template name: ${templateName}`,
        },
      ],
    };
  }
  if (!file) {
    return {
      fatal: true,
      diagnostics: [{ severity: 'error', file: templateName, unit: name, message: `Unit ${name} not found.` }],
    };
  }
  return loadUnitFile(file, { ...options, searchPaths, name });
}

/**
 * The service a socket triggers: Service= or the same name (`foo.socket` → `foo.service`); for
 * Accept=yes `prefix@INSTANCE.service` (systemd uses instance `internal` before any connection).
 */
export function serviceNameFor(socket: Pick<SocketUnit, 'name' | 'accept' | 'service'>, instance?: string): string {
  const n = parseUnitName(socket.name);
  const prefix = n?.prefix ?? socket.name.replace(/\.socket$/, '');
  if (socket.accept) return `${prefix}@${instance ?? 'internal'}.service`;
  if (socket.service) return socket.service;
  // unit_name_change_suffix(): an instance socket `foo@bar.socket` triggers `foo@bar.service`.
  return socket.name.replace(/\.socket$/, '.service');
}
