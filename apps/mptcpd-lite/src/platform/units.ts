/**
 * Loading the unit directories through @mptcp/unit, and splitting the result the way the engine
 * wants it: socket units, the services they trigger, and `<prefix>@.service` templates. A unit with
 * load errors is reported (with systemd's messages) and left out; the others run.
 */
import type { ServiceUnit, SocketUnit } from './unit-types.js';
import type { FailedUnit } from '../daemon/engine.js';

export interface LoadedUnits {
  engineUnits: { sockets: SocketUnit[]; services: ServiceUnit[]; templates: ServiceUnit[] };
  failed: FailedUnit[];
  warnings: string[];
  /** unit name → main file, for messages. */
  files: Map<string, string>;
}

export async function loadUnits(_dirs: string[]): Promise<LoadedUnits> {
  throw Object.assign(new Error('@mptcp/unit does not export loadUnitDirectories (yet)'), { code: 'UNIT_MISSING' });
}
