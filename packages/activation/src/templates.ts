/**
 * Turning `<prefix>@.service` into `<prefix>@<instance>.service` for Accept=yes connections.
 * The template file and its drop-ins are read once, when the units are (re)loaded
 * (snapshotTemplate()); each instance is parsed from that text by @mptcp/unit, so that %i, %n, %I …
 * are applied by the parser — the systemd way — without a disk read per connection. A template
 * given as an already parsed ServiceUnit without a file on disk is instantiated by substitution.
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  type ExecCommand,
  type SearchPathListing,
  type ServiceUnit,
  findDropIns,
  formatDiagnostic,
  loadServiceInstance,
  parseUnitText,
  searchPathListing,
} from '@mptcp/unit';
import type { ServiceTemplate } from './engine-types.js';
import { ActivationError } from './errors.js';
import { templatePrefix } from './instance-name.js';
import { readRegularFile } from './read-regular.js';

const loadWarnings = new WeakMap<ServiceUnit, string[]>();

function withLoadWarnings(unit: ServiceUnit, diagnostics: Parameters<typeof formatDiagnostic>[0][]): ServiceUnit {
  if (diagnostics.length > 0) loadWarnings.set(unit, diagnostics.map(formatDiagnostic));
  else loadWarnings.delete(unit);
  return unit;
}

/**
 * What the parser said, as FILE:LINE: text, when it loaded this instance (the template's file: 257's
 * `aff@.service:5: Failed to parse CPU affinity 'abc'` for CPUAffinity=%i of aff@abc.service).
 */
export function instanceLoadWarnings(unit: ServiceUnit): readonly string[] {
  return loadWarnings.get(unit) ?? [];
}

/** Produces the service unit for one instance name (`echo@0-….service`). */
export type TemplateResolver = (template: ServiceTemplate, instanceName: string) => ServiceUnit | Promise<ServiceUnit>;

export function isServiceUnit(t: ServiceTemplate | ServiceUnit): t is ServiceUnit {
  return (t as Partial<ServiceUnit>).kind === 'service' && Array.isArray((t as Partial<ServiceUnit>).execStart);
}

export const defaultTemplateResolver: TemplateResolver = (template, instanceName) => {
  const at = instanceName.indexOf('@');
  const instance = instanceName.slice(at + 1, instanceName.lastIndexOf('.'));
  if (template.text !== undefined && !isServiceUnit(template))
    return instanceFromText(template, template.text, instanceName);
  if (template.file && !isServiceUnit(template)) {
    const r = loadServiceInstance(template.name, instance, {
      templateFile: template.file,
      ...(template.searchPaths ? { searchPaths: template.searchPaths } : {}),
    });
    if (r.unit && r.unit.kind === 'service' && !r.fatal) return withLoadWarnings(r.unit, r.diagnostics);
    throw new ActivationError(
      'TEMPLATE_NOT_FOUND',
      `Failed to load ${instanceName}: ${r.diagnostics.map(formatDiagnostic).join('; ')}`,
      { unit: instanceName },
    );
  }
  if (isServiceUnit(template)) return substituteInstance(template, instanceName);
  throw new ActivationError('TEMPLATE_NOT_FOUND', `Cannot instantiate ${template.name}: no template file`, {
    unit: instanceName,
  });
};

/**
 * What an in-memory template keeps between connections (until the units are reloaded, which
 * replaces the template object): the instance parsed once when its text uses no specifier at all
 * (every instance is then the same unit under another name), and the Exec*= executable checks.
 */
interface TemplateCache {
  /** Set when the text and drop-ins contain no `%`: the parsed unit, shared by every instance. */
  shared?: ServiceUnit;
  /**
   * A template whose text another one in its directory has (SnapshotCache.probes): that one's unit,
   * made this template's (relocated()) by its first instance, not at every load.
   */
  sameAs?: { unit: ServiceUnit; file: string };
  /** Whether the text has a `%` (specifiers: each instance is parsed from the text). */
  specifiers: boolean;
  /** stat + access(X_OK) of each Exec*= path checked (@mptcp/unit's check), as an errno name or undefined (executable). */
  executables: Map<string, string | undefined>;
}

const templateCaches = new WeakMap<ServiceTemplate, TemplateCache>();

/** What the templates of one (re)load share: the search path listings and the executable checks. */
export interface SnapshotCache {
  listing: SearchPathListing;
  executables: Map<string, string | undefined>;
  /**
   * Probe parses of templates without drop-ins and specifiers that loaded without any diagnostic, by
   * directory and text: another template with the same text in the same directory (a thousand
   * generated `portN@.service`) gets the same unit with its own file instead of its own parse.
   */
  probes?: Map<string, { file: string; unit: ServiceUnit }>;
}

/**
 * `value` with every `file: from` (the unit's and its commands') made `file: to`. Only the objects
 * and arrays on the way to such a field are copied; the rest is shared, as instances of one
 * template already share everything but their name.
 */
function relocated<T>(value: T, from: string, to: string): T {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const r = relocated(v, from, to);
      if (r !== v) (out ??= value.slice())[i] = r;
    }
    return (out ?? value) as T;
  }
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
  const obj = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k in obj) {
    const v = obj[k];
    const r = k === 'file' && v === from ? to : relocated(v, from, to);
    if (r !== v) (out ??= { ...obj })[k] = r;
  }
  return (out ?? value) as T;
}

function hasSpecifiers(text: string, dropIns: ReadonlyArray<{ text: string }>): boolean {
  return text.includes('%') || dropIns.some((d) => d.text.includes('%'));
}

function memoizedCheck(known: Map<string, string | undefined>): (path: string) => string | undefined {
  return (path) => {
    if (!known.has(path)) known.set(path, executableErrno(path));
    return known.get(path);
  };
}

function executableErrno(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return 'EISDIR';
    accessSync(path, fsConstants.X_OK);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'ENOENT';
  }
}

/**
 * `prefix@instance.service` from the template's text read at (re)load: parsed by @mptcp/unit so
 * that specifiers are applied the systemd way; no disk access per connection (the executable
 * checks are remembered per template), and no parse at all when the text has no specifier.
 */
function instanceFromText(template: ServiceTemplate, text: string, instanceName: string): ServiceUnit {
  let cache = templateCaches.get(template);
  if (!cache) {
    cache = { specifiers: hasSpecifiers(text, template.dropInTexts ?? []), executables: new Map() };
    templateCaches.set(template, cache);
  }
  if (cache.sameAs) {
    const { unit, file } = cache.sameAs;
    cache.shared = { ...relocated(unit, file, template.file), name: template.name.replace('@.', '@internal.') };
    cache.sameAs = undefined;
  }
  if (cache.shared) return { ...cache.shared, name: instanceName };
  const r = parseUnitText(text, {
    file: template.file,
    name: instanceName,
    dropIns: template.dropInTexts ?? [],
    executables: memoizedCheck(cache.executables),
  });
  if (r.unit && r.unit.kind === 'service' && !r.fatal) {
    if (!cache.specifiers) cache.shared = r.unit;
    return withLoadWarnings(cache.specifiers ? r.unit : { ...r.unit }, r.diagnostics);
  }
  throw new ActivationError(
    'TEMPLATE_NOT_FOUND',
    `Failed to load ${instanceName}: ${r.diagnostics.map(formatDiagnostic).join('; ')}`,
    { unit: instanceName },
  );
}

/** systemd's unit_name_unescape() for %I: `\xNN` escapes and `-` → `/`. */
export function unescapeInstance(s: string): string {
  return s
    .replace(/-/g, '/')
    .replace(/\\x([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/** Replaces %i %I %n %N %p %P %% in argv and Environment= of a template parsed without an instance. */
export function substituteInstance(template: ServiceUnit, instanceName: string): ServiceUnit {
  const at = instanceName.indexOf('@');
  const dot = instanceName.lastIndexOf('.');
  const instance = at >= 0 && dot > at ? instanceName.slice(at + 1, dot) : '';
  const prefix = templatePrefix(instanceName);
  const table: Record<string, string> = {
    i: instance,
    I: unescapeInstance(instance),
    n: instanceName,
    N: instanceName.slice(0, dot > 0 ? dot : undefined),
    p: prefix,
    P: unescapeInstance(prefix),
    '%': '%',
  };
  const sub = (s: string): string => s.replace(/%([iInNpP%])/g, (m, c: string) => table[c] ?? m);
  const cmd = (c: ExecCommand): ExecCommand => ({ ...c, argv: c.argv.map(sub), path: sub(c.path) });
  return {
    ...template,
    name: instanceName,
    execStartPre: template.execStartPre.map(cmd),
    execStart: template.execStart.map(cmd),
    execStartPost: template.execStartPost.map(cmd),
    execStop: template.execStop.map(cmd),
    execStopPost: template.execStopPost.map(cmd),
    environment: template.environment.map(([k, v]) => [k, sub(v)]),
  };
}

/**
 * Reads a template file and its drop-ins (`prefix@.service.d/`, `service.d/`, …) once, and checks
 * that an instance of it loads (as `prefix@internal.service`, systemd's name before any connection).
 * Throws with the file named when it cannot be read or does not load.
 */
export function snapshotTemplate(
  template: ServiceTemplate,
  shared: SnapshotCache = { listing: searchPathListing(), executables: new Map() },
): ServiceTemplate {
  const text = template.loadedText ?? readRegularFile(template.file).toString('utf8');
  const searchPaths = template.searchPaths ?? [dirname(template.file)];
  const dropIns = findDropIns(template.name, searchPaths, shared.listing).map((file) => ({
    file,
    text: readRegularFile(file).toString('utf8'),
  }));
  const snap: ServiceTemplate = { name: template.name, file: template.file, searchPaths, text, dropInTexts: dropIns };
  const probe = template.name.replace('@.', '@internal.');
  const cache: TemplateCache = { specifiers: hasSpecifiers(text, dropIns), executables: shared.executables };
  const key = dropIns.length === 0 && !cache.specifiers ? `${searchPaths.join('\0')}\0${text}` : undefined;
  const same = key === undefined ? undefined : shared.probes?.get(key);
  if (same && same.file !== template.file && dirname(same.file) === dirname(template.file)) {
    // The probe's name and this template's file are the template's own: not kept twice per template.
    cache.sameAs = { unit: same.unit, file: same.file };
    templateCaches.set(snap, cache);
    return snap;
  }
  const r = parseUnitText(text, {
    file: template.file,
    name: probe,
    dropIns,
    executables: memoizedCheck(cache.executables),
  });
  if (!r.unit || r.fatal || r.unit.kind !== 'service')
    throw new ActivationError(
      'TEMPLATE_NOT_FOUND',
      `Failed to load ${template.name}: ${r.diagnostics.map(formatDiagnostic).join('; ')}`,
      { unit: template.name },
    );
  // Without specifiers the probe is every instance, under another name.
  if (!cache.specifiers) cache.shared = r.unit;
  if (key !== undefined && r.diagnostics.length === 0)
    (shared.probes ??= new Map()).set(key, { file: template.file, unit: r.unit });
  templateCaches.set(snap, cache);
  return snap;
}
