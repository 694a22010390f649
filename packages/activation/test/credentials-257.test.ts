/**
 * SetCredential= and LoadCredential= as systemd 257 (fixtures/v257/credentials, recorded with the
 * oracle by record.sh): $CREDENTIALS_DIRECTORY=/run/credentials/UNIT in every process; a missing
 * absolute LoadCredential= source fails the process 243/CREDENTIALS with 257's two lines (`Protocol
 * error`: its set-up child's exit); a missing inherited credential name is skipped. The oracle's
 * container does not show the files themselves (the recording's `ls` fails); what they are follows
 * exec-credential.c: one file per ID, the loaded file first, SetCredential= as the default of an ID
 * whose source is missing, gone after the run; root's, 0440 in a 0550 directory of User='s group
 * (credentials.ts: the service must not be able to change what the root daemon removes).
 * SetCredentialEncrypted=, LoadCredentialEncrypted=, ImportCredential= are refused (243, fail closed).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { expectStateAsShown, recording } from './helpers/recorded-257.js';
import { tmp, unitDir } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/credentials/', import.meta.url));
const rec = recording(FIXTURE);
const UNITS = ['cr', 'missing', 'inherited'];

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

describe('credentials (systemd 257)', () => {
  it('SetCredential=/LoadCredential= in /run/credentials/UNIT for the run; a missing source is 243; encrypted ones are refused', async (ctx) => {
    need(ctx, root);
    const suffix = `-t${process.pid}`;
    const out = join(tmp('creds-'), 'out.txt');
    const files: Record<string, string> = {};
    for (const u of UNITS)
      files[`${u}${suffix}.service`] = readFileSync(join(FIXTURE, `${u}.service`), 'utf8')
        .replaceAll('/run/xcred.txt', out)
        // What the service sees, beyond 257's recording: the files' modes and owners.
        .replace(
          /(ExecStart=\/bin\/sh -c '.*)'$/m,
          `$1; echo; stat -c "[stat] %%n %%a %%U" "$CREDENTIALS_DIRECTORY" "$CREDENTIALS_DIRECTORY"/* 2>&1 | sed "s|$CREDENTIALS_DIRECTORY|DIR|"; cat "$CREDENTIALS_DIRECTORY/fallback" 2>/dev/null | sed "s/^/[fallback] /"; echo'`,
        );
    files[`enc${suffix}.service`] = '[Service]\nType=oneshot\nSetCredentialEncrypted=k:Zm9v\nExecStart=/bin/true\n';
    files[`imp${suffix}.service`] = '[Service]\nType=oneshot\nImportCredential=foo.*\nExecStart=/bin/true\n';
    ctx.onTestFinished(() => {
      for (const u of [...UNITS, 'enc', 'imp'])
        rmSync(`/run/credentials/${u}${suffix}.service`, { recursive: true, force: true });
    });
    const log = testLogger();
    const e = new ActivationEngine({ logger: log });
    engine = e;
    await e.start(await loadUnits(unitDir(files)));
    for (const u of [...UNITS, 'enc', 'imp']) await e.startUnit(`${u}${suffix}.service`).catch(() => undefined);
    for (const u of UNITS)
      expectStateAsShown(e.unitInfo(`${u}${suffix}.service`), rec.tagged('show', `${u}.service`)[0]);
    const seen = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const named = (s: string): string => s.replace(/(cr|inherited)\.service/g, `$1${suffix}.service`);
    // 257's environment.
    for (const tag of ['cr', 'inherited']) {
      const line = rec.lines.find((l) => l.startsWith(`[${tag}] CREDENTIALS_DIRECTORY=`));
      expect(seen).toContain(named(line ?? ''));
    }
    // The files (exec-credential.c: not visible in the oracle's container).
    expect(seen).toEqual(
      expect.arrayContaining([
        '[cr] ls: fallback',
        '[cr] ls: host',
        '[cr] ls: token',
        '[cr] token: s3cret',
        // Root's, readable by the service's group (257: root's on a read-only tmpfs, an ACL for
        // the user; stat shows 550/440 there too): the service can neither write nor chmod.
        '[stat] DIR 550 root',
        '[stat] DIR/fallback 440 root',
        '[stat] DIR/host 440 root',
        '[stat] DIR/token 440 root',
        '[fallback] default!',
      ]),
    );
    // Gone after the run (257: unit_destroy_runtime_data()).
    expect(existsSync(`/run/credentials/cr${suffix}.service`)).toBe(false);
    // A missing absolute source: 257's lines, 243/CREDENTIALS.
    const exec = rec.lines.flatMap((l) => {
      const m = /^\[exec\] err: (missing\.service: .*)$/.exec(l);
      return m ? [(m[1] as string).replace('missing.service', `missing${suffix}.service`)] : [];
    });
    expect(exec).toHaveLength(2);
    expect(log.errors.filter((l) => l.startsWith(`missing${suffix}.service: `)).slice(0, 2)).toEqual(exec);
    // Encrypted and imported credentials: refused, 243/CREDENTIALS.
    for (const u of ['enc', 'imp']) {
      expect(e.unitInfo(`${u}${suffix}.service`)).toMatchObject({ activeState: 'failed', result: 'exit-code' });
      expect(
        [...log.warnings, ...log.errors].some(
          (l) => l.startsWith(`${u}${suffix}.service: `) && l.includes('status=243/CREDENTIALS'),
        ),
        u,
      ).toBe(true);
    }
  });
});
