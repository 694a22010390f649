/** `systemd-analyze verify`-style checking of unit files. */
import { existsSync, lstatSync, realpathSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { strerror } from './errno.js';
import {
  findUnitFile,
  isMaskFile,
  loadUnitFile,
  serviceNameFor,
  type LoadOptions,
  type LoadUnitResult,
} from './loader.js';
import type { Diagnostic } from './model.js';
import { parseUnitName } from './unit-name.js';

export interface VerifyResult {
  diagnostics: Diagnostic[];
  /** systemd-analyze verify's exit status would be non-zero (257 without --recursive-errors=). */
  failed: boolean;
  /**
   * The exit status with an explicit --recursive-errors=no|yes|one (systemd 257): any warning about
   * the unit counts as well.
   */
  strictFailed: boolean;
}

/**
 * Loads each unit file (with drop-ins from `options.searchPaths`, default: the file's directory)
 * and returns every diagnostic systemd-analyze verify would print, including the load summary
 * ("Unit X has a bad unit file setting.") and, for sockets, "service X not loaded, socket cannot be
 * started." when the triggered service (Accept=yes: the `prefix@.service` template) is missing.
 */
export interface VerifyOptions extends LoadOptions {
  /**
   * systemd-analyze verify's --recursive-errors=: 'no' ignores dependencies (no dependency warnings);
   * any explicit value makes warnings fail the run (`strictFailed`). Default: not given.
   */
  recursiveErrors?: 'yes' | 'no' | 'one';
}

export function verify(paths: readonly string[], options: VerifyOptions = {}): VerifyResult {
  if (options.recursiveErrors === 'no' && options.ignoreDependencies === undefined)
    options = { ...options, ignoreDependencies: true };
  const diagnostics: Diagnostic[] = [];
  // verify_units() loads every file first (parse-time lines, load failures), then runs verify_unit()
  // on each loaded unit in the same order: its socket's service check, then its executables.
  const checks: Diagnostic[] = [];
  // Unit files whose parse-time lines were printed (257 loads a unit once: a socket's service given
  // too, or given first, prints them once).
  const parsed = new Map<string, boolean>();
  let failed = false;
  let strict = false;
  // verify_prepare_filename(): the file name is made absolute, and so are the paths in the messages.
  for (const path of paths.map((p) => resolve(p))) {
    const searchPaths = options.searchPaths ?? [dirname(path)];
    // verify_prepare_filename(): the unit is named after the file (after the link target's name for
    // an alias link); a template is checked as the instance "test_instance".
    const link = linkTargetName(path);
    const base = link ?? basename(path);
    const t = parseUnitName(base);
    if (!t) {
      diagnostics.push({
        severity: 'error',
        file: path,
        message: `Failed to prepare filename ${path}: Invalid argument`,
      });
      failed = strict = true;
      continue;
    }
    const name = options.name ?? (t.template ? `${t.prefix}@test_instance.${t.type}` : base);
    if (!existsSync(path)) {
      diagnostics.push({ severity: 'error', file: path, message: `Unit ${name} not found.` });
      failed = strict = true;
      continue;
    }
    if (isMaskFile(path)) {
      diagnostics.push({ severity: 'error', file: path, message: `Unit ${name} is masked.` });
      failed = strict = true;
      continue;
    }
    const r = loadUnitFile(path, { ...options, searchPaths, name });
    const own = parsed.has(path) ? r.diagnostics.filter((d) => d.line === undefined) : r.diagnostics;
    parsed.set(path, r.unit !== undefined);
    const loaded = withTriggeredService({ ...r, diagnostics: own }, options, searchPaths, parsed);
    const unitChecks = loaded.filter(isUnitCheck);
    diagnostics.push(...loaded.filter((d) => !isUnitCheck(d)));
    if (r.diagnostics.some((d) => d.severity === 'error')) failed = true;
    if (r.diagnostics.some((d) => !d.notice)) strict = true;
    if (!r.unit) {
      if (r.masked) continue;
      const errno = r.code ?? 'EIO';
      failed = strict = true;
      if (errno === 'EPERM') continue; // already reported, as "Access denied"
      diagnostics.push({
        severity: 'error',
        file: path,
        message:
          errno === 'ENOEXEC'
            ? `Unit ${name} has a bad unit file setting.`
            : `Unit ${name} failed to load properly, please adjust/correct and reload service manager: ${strerror(errno)}`,
      });
      continue;
    }
    if (r.unit.kind === 'socket') {
      const svc = serviceNameFor(r.unit);
      const file = findUnitFile(svc, searchPaths);
      // verify_socket(): load_state != UNIT_LOADED, also a service that failed to load (bad-setting).
      if (!file || isMaskFile(file) || parsed.get(file) === false) {
        // systemd-analyze checks the socket's service before the executables (verify_socket() first).
        checks.push({
          severity: 'error',
          file: path,
          unit: r.unit.name,
          message: `service ${svc} not loaded, socket cannot be started.`,
        });
        failed = strict = true;
      }
    }
    checks.push(...unitChecks);
  }
  return { diagnostics: [...diagnostics, ...checks], failed, strictFailed: strict };
}

/** A line of verify_unit() (printed after all units loaded): `UNIT: Command X is not executable: …`. */
function isUnitCheck(d: Diagnostic): boolean {
  return d.line === undefined && d.unit !== undefined && /^Command .* is not executable: /.test(d.message);
}

/** For a symlink to a unit file: the target's file name (systemd loads the unit under that name). */
function linkTargetName(path: string): string | undefined {
  try {
    if (!lstatSync(path).isSymbolicLink()) return undefined;
    const target = basename(realpathSync(path));
    return target === 'null' ? undefined : target;
  } catch {
    return undefined;
  }
}

/**
 * socket_load() loads the service an Accept=no socket triggers while the socket loads, so its
 * parse-time lines (not its unit-level checks) are printed too, after the socket's own lines and
 * before the socket's unit-level ones.
 */
function withTriggeredService(
  r: LoadUnitResult,
  options: VerifyOptions,
  searchPaths: readonly string[],
  parsed: Map<string, boolean>,
): Diagnostic[] {
  const u = r.unit;
  if (!u || u.kind !== 'socket' || u.accept) return r.diagnostics;
  const svc = serviceNameFor(u);
  const file = findUnitFile(svc, searchPaths);
  if (!file || isMaskFile(file) || !parseUnitName(basename(file)) || parsed.has(file)) return r.diagnostics;
  const s = loadUnitFile(file, { ...options, searchPaths, name: svc, executables: false });
  parsed.set(file, s.unit !== undefined);
  const lines = s.diagnostics.filter((d) => d.unit === undefined || d.line !== undefined);
  const at = r.diagnostics.findIndex((d) => d.line === undefined && d.unit !== undefined);
  const out = [...r.diagnostics];
  out.splice(at < 0 ? out.length : at, 0, ...lines);
  return out;
}
