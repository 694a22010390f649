/**
 * Loading the unit directories through @mptcp/unit, and splitting the result the way the engine
 * wants it: socket units, the services they trigger, and `<prefix>@.service` templates. A unit with
 * load errors is reported (with systemd's messages) and left out; the others run.
 */
import * as unitModule from '@mptcp/unit';
import type { FailedUnit } from '../daemon/engine.js';
import type { Diagnostic, ServiceUnit, SocketUnit, Unit } from './unit-types.js';

/** A `prefix@.service` template by file: each Accept=yes connection loads its instance from it. */
export interface TemplateRef {
  name: string;
  file: string;
  searchPaths: readonly string[];
}

export interface LoadedUnits {
  engineUnits: { sockets: SocketUnit[]; services: ServiceUnit[]; templates: TemplateRef[] };
  failed: FailedUnit[];
  warnings: string[];
  /** unit name → main file, for messages. */
  files: Map<string, string>;
}

interface LoadUnitResultLike {
  unit?: Unit;
  diagnostics: Diagnostic[];
  fatal?: boolean;
  masked?: boolean;
}

interface LoadedUnitsLike {
  sockets: SocketUnit[];
  services: ServiceUnit[];
  templates: Map<string, string>;
  failed: Array<{ name: string; file: string; diagnostics: Diagnostic[] }>;
  masked: string[];
  diagnostics: Diagnostic[];
}

/** The @mptcp/unit functions the app uses (packages/unit/src/index.ts). */
export interface UnitApi {
  loadUnitDirectories(dirs: readonly string[], options?: { searchPaths?: readonly string[] }): LoadedUnitsLike;
  loadUnitFile(path: string, options?: { searchPaths?: readonly string[]; name?: string }): LoadUnitResultLike;
  loadServiceInstance(templateName: string, instance: string, options?: { searchPaths?: readonly string[]; templateFile?: string }): LoadUnitResultLike;
  verify(paths: readonly string[], options?: { searchPaths?: readonly string[] }): { diagnostics: Diagnostic[]; failed: boolean };
  formatDiagnostic(d: Diagnostic): string;
}

export function unitApi(): UnitApi {
  const mod = unitModule as unknown as Record<string, unknown>;
  for (const fn of ['loadUnitDirectories', 'loadUnitFile', 'loadServiceInstance', 'verify', 'formatDiagnostic']) {
    if (typeof mod[fn] !== 'function') throw Object.assign(new Error(`@mptcp/unit does not export ${fn}() (rebuild the workspace)`), { code: 'UNIT_MISSING' });
  }
  return mod as unknown as UnitApi;
}

export async function loadUnits(dirs: string[]): Promise<LoadedUnits> {
  const api = unitApi();
  const loaded = api.loadUnitDirectories(dirs, { searchPaths: dirs });
  const files = new Map<string, string>();
  for (const u of [...loaded.sockets, ...loaded.services]) files.set(u.name, u.file);
  const failedNames = new Set(loaded.failed.map((f) => f.name));
  const failed: FailedUnit[] = loaded.failed.map((f) => ({ unit: f.name, file: f.file, stage: 'load', messages: f.diagnostics.map((d) => api.formatDiagnostic(d)) }));
  // Warnings of units that did load (the failed ones carry theirs).
  const warnings = loaded.diagnostics.filter((d) => !failedNames.has(d.unit ?? '') && !loaded.failed.some((f) => f.diagnostics.includes(d))).map((d) => api.formatDiagnostic(d));
  // Templates are passed by file, as systemd does for Accept=yes sockets: each connection loads its
  // instance (loadServiceInstance, with that instance's specifiers). `verify` checks them statically.
  const templates: TemplateRef[] = [];
  for (const [name, file] of loaded.templates) {
    if (!name.endsWith('.service')) continue;
    templates.push({ name, file, searchPaths: dirs });
    files.set(name, file);
  }
  return { engineUnits: { sockets: loaded.sockets, services: loaded.services, templates }, failed, warnings, files };
}

/** Compile-time check that @mptcp/unit provides what the app calls. */
export const UNIT_CONFORMS: UnitApi = unitModule;
