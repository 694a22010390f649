/**
 * Loading unit directories through @mptcp/unit and sorting the result into what the engine runs:
 * socket units, the services they trigger, and `<prefix>@.service` templates (by file; the engine
 * reads each template once per (re)load and parses instances from memory).
 */
import { formatDiagnostic, loadUnitDirectories, type LoadDirectoriesOptions } from '@mptcp/unit';
import type { EngineUnits, ServiceTemplate } from './engine-types.js';

/** A unit that could not be loaded: its name, main file, and diagnostics as systemd prints them. */
export interface FailedUnitLoad {
  unit: string;
  file: string;
  messages: string[];
}

export interface LoadedEngineUnits {
  units: EngineUnits;
  /** Units that failed to load, as systemd prints it (`FILE:LINE: message`, `UNIT: message`). */
  errors: string[];
  /** The same, per unit. */
  failed: FailedUnitLoad[];
  /** Non-fatal diagnostics of the units that loaded. */
  warnings: string[];
  /** Unit name → main file (sockets, services and templates), for messages. */
  files: Map<string, string>;
}

/**
 * Loads every .socket/.service in `dirs` (first directory wins, as /etc over /usr/lib).
 * Templates are listed with their file; `searchPaths` (default `dirs`) is where instances find
 * their drop-ins.
 */
// Async on purpose: a future loader may read directories without blocking the daemon's loop.
export async function loadEngineUnits(
  dirs: readonly string[],
  options: {
    searchPaths?: readonly string[];
    /** Reads a directory's unit files in one go (@mptcp/native's readSmallFiles()): LoadDirectoriesOptions.readFiles. */
    readFiles?: LoadDirectoriesOptions['readFiles'];
  } = {},
): Promise<LoadedEngineUnits> {
  const searchPaths = options.searchPaths ?? dirs;
  const r = loadUnitDirectories(
    dirs,
    options.readFiles
      ? { searchPaths, readTemplates: true, readFiles: options.readFiles }
      : { searchPaths, readTemplates: true },
  );
  const failedFiles = new Set(r.failed.map((f) => f.file));
  const failed = r.failed.map((f) => ({ unit: f.name, file: f.file, messages: f.diagnostics.map(formatDiagnostic) }));
  const errors = failed.flatMap((f) => f.messages);
  // Everything said about the units that did load (a unit with a non-executable ExecStart= loads, with an error).
  const failedNames = new Set(r.failed.map((f) => f.name));
  const warnings = r.diagnostics
    .filter((d) => !failedFiles.has(d.file) && !failedNames.has(d.unit ?? ''))
    .map(formatDiagnostic);
  // forEach and indexed loops, not spreads and for-of: at daemon start these run once per unit in V8's
  // interpreter (--no-opt), where each iteration step allocates (an iterator result, an entry array).
  const templates: ServiceTemplate[] = [];
  r.templates.forEach((file, name) => {
    if (!name.endsWith('.service')) return;
    const loadedText = r.templateTexts?.get(name);
    templates.push(loadedText === undefined ? { name, file, searchPaths } : { name, file, searchPaths, loadedText });
  });
  const files = new Map<string, string>();
  for (let i = 0; i < r.sockets.length; i++) files.set(r.sockets[i]!.name, r.sockets[i]!.file);
  for (let i = 0; i < r.services.length; i++) files.set(r.services[i]!.name, r.services[i]!.file);
  for (let i = 0; i < templates.length; i++) files.set(templates[i]!.name, templates[i]!.file);
  return { units: { sockets: r.sockets, services: r.services, templates }, errors, failed, warnings, files };
}
