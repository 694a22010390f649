/**
 * Which drop-in files apply, as systemd 257 (unit_file_find_dropin_paths() → conf_files_list_strv()
 * with the `.conf` suffix, FOREACH_DIRENT skipping hidden_or_backup_file(); recorded in
 * fixtures/v257/dropin-files by record.sh): a hidden `.90.conf` (or `.conf`) is not applied, in the
 * unit's, a dashed prefix's (`hd-.service.d`) or the type's (`service.d`) directory; `~`, `.bak`,
 * no suffix and `.CONF` neither. We applied hidden `.conf` files.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findDropIns } from '@mptcp/unit';
import { loadEngineUnits } from '../src/index.js';
import { recording } from './helpers/recorded-257.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/dropin-files/', import.meta.url));
const rec = recording(FIXTURE);

describe('drop-in files (systemd 257, fixtures/v257/dropin-files)', () => {
  it('hidden files are skipped: the drop-ins and the Environment= 257 shows', async () => {
    const { units } = await loadEngineUnits([FIXTURE]);
    for (const name of ['hd.service', 'hd-x.service']) {
      const [paths, env] = rec.tagged('show', name);
      const expected = (paths ?? '').replace('DropInPaths=', '').replaceAll('/oracle/units/', FIXTURE).split(' ');
      expect(expected.length).toBeGreaterThan(1);
      expect(findDropIns(name, [FIXTURE])).toEqual(expected);
      const svc = units.services?.find((s) => s.name === name);
      expect(`Environment=${svc?.environment.map(([k, v]) => `${k}=${v}`).join(' ')}`).toBe(env);
    }
  });
});
