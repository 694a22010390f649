/**
 * A process whose User= or Group= does not resolve ends with executor.c's `Failed at step USER spawning PATH:
 * <strerror>` (fixtures/v257/failed-start nouser: `No such process`), the strerror() of the errno the
 * credential lookup failed with (log_exec_error_errno()'s %m), carried on the error: a uid or gid that
 * is not valid (65535: parse_uid() refuses it, NSS has no such name) is ESRCH too, not the tail of our message.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { tmp } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('Failed at step USER/GROUP: the errno s text (systemd 257 executor.c)', () => {
  it.for(['65535', '4294967295'])(
    'Group=%s: `Failed at step GROUP spawning /bin/true: No such process`',
    async (uid) => {
      const dir = join(tmp('user-step-'), 'units');
      mkdirSync(dir);
      writeFileSync(join(dir, 'bad.service'), '[Service]\nType=oneshot\nGroup=4398\nExecStart=/bin/true\n');
      const log = testLogger();
      engine = new ActivationEngine({ logger: log });
      // 257's parser refuses such a Group= (and so does ours): the unit as loaded, with the id put in after.
      const units = await loadUnits(dir);
      units.services = (units.services ?? []).map((u) => ({ ...u, group: uid }));
      await engine.start(units);
      await expect(engine.startUnit('bad.service')).rejects.toThrow();
      expect(log.errors).toContain('bad.service: Failed at step GROUP spawning /bin/true: No such process');
      expect(log.warnings).toContain('bad.service: Main process exited, code=exited, status=216/GROUP');
    },
  );
});
