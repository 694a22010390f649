/**
 * Which of a service's commands get $CREDENTIALS_DIRECTORY, as systemd 257: service_exec_flags()
 * sets EXEC_SETUP_CREDENTIALS(_FRESH) for ExecStartPre=, ExecStart= and ExecStartPost= only, and
 * exec_context_get_credential_directory() gives the variable only with it — ExecCondition=,
 * ExecReload=, ExecStop= and ExecStopPost= run without it. Compared with
 * fixtures/v257/credentials-commands (record.sh: start, reload, stop; each command prints what it got).
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ActivationEngine } from '../src/index.js';
import { fixtureEngine, oursShown, shownKeys } from './helpers/lifecycle-257.js';
import { recording } from './helpers/recorded-257.js';
import { waitFor } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/credentials-commands/', import.meta.url));
const KEYS = ['ActiveState', 'SubState', 'Result'] as const;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('$CREDENTIALS_DIRECTORY per command (systemd 257)', () => {
  it('ExecStartPre=, ExecStart=, ExecStartPost= get it; ExecCondition=, ExecReload=, ExecStop=, ExecStopPost= do not', async () => {
    const name = 'credcmds.service';
    const rec = recording(FIXTURE);
    const f = await fixtureEngine(FIXTURE, [name]);
    engine = f.e;
    await f.e.startUnit(name);
    await f.e.reloadUnit(name);
    await f.e.stopUnit(name);
    await waitFor(
      () => JSON.stringify(oursShown(f.e.unitInfo(name), KEYS)) === JSON.stringify(shownKeys(rec, name, KEYS)),
      30_000,
      `${name} as 257 shows it`,
    );
    const cred = (l: string): boolean => l.startsWith(`[cred] ${name} `);
    // The main process and ExecStartPost= run at the same time (Type=simple): their lines in any order.
    expect(f.out().filter(cred).sort()).toEqual(rec.lines.filter(cred).sort());
  }, 60_000);
});
