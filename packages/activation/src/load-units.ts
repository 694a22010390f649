/**
 * Loading unit directories through @mptcp/unit and sorting the result into what the engine runs:
 * socket units, the services they trigger, and `<prefix>@.service` templates (by file: each
 * Accept=yes connection loads its instance from the template, with its own specifiers).
 */
import { formatDiagnostic, loadUnitDirectories } from '@mptcp/unit';
import type { EngineUnits, ServiceTemplate } from './engine-types.js';

export interface LoadedEngineUnits {
  units: EngineUnits;
  /** Units that failed to load, as systemd prints it (`FILE:LINE: message`, `UNIT: message`). */
  errors: string[];
  /** Non-fatal diagnostics of the units that loaded. */
  warnings: string[];
}

/**
 * Loads every .socket/.service in `dirs` (first directory wins, as /etc over /usr/lib).
 * Templates are listed with their file; `searchPaths` (default `dirs`) is where instances find
 * their drop-ins.
 */
// Async on purpose: a future loader may read directories without blocking the daemon's loop.
export async function loadEngineUnits(dirs: readonly string[], options: { searchPaths?: readonly string[] } = {}): Promise<LoadedEngineUnits> {
  const searchPaths = options.searchPaths ?? dirs;
  const r = loadUnitDirectories(dirs, { searchPaths });
  const failedFiles = new Set(r.failed.map((f) => f.file));
  const errors = r.failed.flatMap((f) => f.diagnostics.map(formatDiagnostic));
  const warnings = r.diagnostics.filter((d) => !failedFiles.has(d.file) && d.severity === 'warning').map(formatDiagnostic);
  const templates: ServiceTemplate[] = [...r.templates].filter(([name]) => name.endsWith('.service')).map(([name, file]) => ({ name, file, searchPaths }));
  return { units: { sockets: r.sockets, services: r.services, templates }, errors, warnings };
}
