/**
 * Loading unit directories through @mptcp/unit and sorting the result into what the engine runs:
 * socket units, the services they trigger, and `<prefix>@.service` templates.
 */
import * as unit from '@mptcp/unit';
import type { EngineUnits } from './engine-types.js';
import type { ServiceUnit, SocketUnit, Unit } from './unit-types.js';

export interface LoadedEngineUnits {
  units: EngineUnits;
  /** Units that failed to load, as systemd prints it. */
  errors: string[];
  /** Non-fatal diagnostics (`FILE:LINE: message`). */
  warnings: string[];
}

type LoadDirs = (dirs: readonly string[]) => unknown;

/** Sorts parsed units: templates are services whose name ends in `@.service`. */
export function classifyUnits(all: readonly Unit[]): EngineUnits {
  const sockets: SocketUnit[] = [];
  const services: ServiceUnit[] = [];
  const templates: ServiceUnit[] = [];
  for (const u of all) {
    if (u.kind === 'socket') sockets.push(u);
    else if (u.name.endsWith('@.service')) templates.push(u);
    else services.push(u);
  }
  return { sockets, services, templates };
}

export async function loadEngineUnits(dirs: readonly string[]): Promise<LoadedEngineUnits> {
  const load = (unit as Record<string, unknown>).loadUnitDirectories;
  if (typeof load !== 'function') throw new Error('@mptcp/unit does not export loadUnitDirectories() yet');
  const result = (await (load as LoadDirs)(dirs)) as { units?: Unit[] };
  return { units: classifyUnits(result.units ?? []), errors: [], warnings: [] };
}
