/**
 * Loading unit directories through @mptcp/unit and sorting the result into what the engine runs:
 * socket units, the services they trigger, and `<prefix>@.service` templates (by file: each
 * Accept=yes connection loads its instance from the template, with its own specifiers).
 */
import * as unit from '@mptcp/unit';
import type { EngineUnits, ServiceTemplate } from './engine-types.js';
import type { Diagnostic, ServiceUnit, SocketUnit } from './unit-types.js';

export interface LoadedEngineUnits {
  units: EngineUnits;
  /** Units that failed to load, as systemd prints it (`FILE:LINE: message`, `UNIT: message`). */
  errors: string[];
  /** Non-fatal diagnostics of the units that loaded. */
  warnings: string[];
}

interface LoadedUnits {
  sockets: SocketUnit[];
  services: ServiceUnit[];
  templates: Map<string, string>;
  failed: Array<{ name: string; file: string; diagnostics: Diagnostic[] }>;
  diagnostics: Diagnostic[];
}

type LoadDirs = (dirs: readonly string[], options?: { searchPaths?: readonly string[] }) => LoadedUnits;

export function formatDiagnosticText(d: Diagnostic): string {
  if (d.line !== undefined) return `${d.file}:${d.line}: ${d.message}`;
  if (d.unit !== undefined) return `${d.unit}: ${d.message}`;
  return d.message;
}

/**
 * Loads every .socket/.service in `dirs` (first directory wins, as /etc over /usr/lib).
 * Templates are listed with their file; `searchPaths` (default `dirs`) is where instances find
 * their drop-ins.
 */
export async function loadEngineUnits(dirs: readonly string[], options: { searchPaths?: readonly string[] } = {}): Promise<LoadedEngineUnits> {
  const load = (unit as Record<string, unknown>).loadUnitDirectories;
  if (typeof load !== 'function') throw new Error('@mptcp/unit does not export loadUnitDirectories()');
  const searchPaths = options.searchPaths ?? dirs;
  const r = (load as LoadDirs)(dirs, { searchPaths });
  const failedFiles = new Set(r.failed.map((f) => f.file));
  const errors = r.failed.flatMap((f) => f.diagnostics.map(formatDiagnosticText));
  const warnings = r.diagnostics.filter((d) => !failedFiles.has(d.file) && d.severity === 'warning').map(formatDiagnosticText);
  const templates: ServiceTemplate[] = [...r.templates].filter(([name]) => name.endsWith('.service')).map(([name, file]) => ({ name, file, searchPaths }));
  return { units: { sockets: r.sockets, services: r.services, templates }, errors, warnings };
}
