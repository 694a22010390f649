/** systemd's UnitFileState of a unit loaded from a unit directory (install.c unit_file_get_state()). */
import type { UnitFileState } from './engine-types.js';

/**
 * `static` when [Install] has no WantedBy=/RequiredBy=/UpheldBy=/Alias= and no Also=, `indirect` with
 * only Also=. A unit with install rules is `enabled` when the daemon starts it by itself (a socket:
 * every socket unit listens from the daemon's start, as an enabled socket does from boot), else
 * `disabled` (a service, started by its socket or `start`). systemd 257 prints the same words for the
 * same [Install] sections (fixtures/v257/status).
 */
export function unitFileState(
  kind: 'socket' | 'service',
  install: Readonly<Record<string, readonly string[]>>,
): UnitFileState {
  // An empty assignment resets the list, as in systemd.
  const has = (k: string): boolean => {
    const values = (install[k] ?? []).map((v) => v.trim());
    return values.slice(values.lastIndexOf('') + 1).length > 0;
  };
  if (['WantedBy', 'RequiredBy', 'UpheldBy', 'Alias'].some(has)) return kind === 'socket' ? 'enabled' : 'disabled';
  return has('Also') ? 'indirect' : 'static';
}
