/** Loads a unit directory through @mptcp/unit, as the daemon does. */
import { loadEngineUnits } from '../../src/load-units.js';
import type { EngineUnits } from '../../src/engine-types.js';

export async function loadUnits(dir: string): Promise<EngineUnits> {
  const { units, errors } = await loadEngineUnits([dir]);
  if (errors.length > 0) throw new Error(`units failed to load:\n${errors.join('\n')}`);
  return units;
}
