/**
 * DynamicUser=yes with a numeric User=, against systemd 257 (fixtures/v257/failed-start dyn.service,
 * recorded with the oracle): 257 runs it as that uid, gid and groups the same number, with no passwd
 * entry, and with the sandbox DynamicUser= implies (systemctl show: PrivateTmp=yes (disconnected),
 * RemoveIPC=yes, ProtectSystem=strict, ProtectHome=read-only, NoNewPrivileges=yes,
 * RestrictSUIDSGID=yes; the process: NoNewPrivs 1, a seccomp filter, an empty /tmp, /usr read-only).
 *
 * mptcpd-lite applies the credentials, ProtectSystem=, ProtectHome= and NoNewPrivileges=; it does
 * not enforce PrivateTmp=disconnected nor RestrictSUIDSGID= (seccomp), so, as for any sandboxing it
 * does not enforce, the process is refused (226/NAMESPACE, the first such step) with the implied
 * directives named; with the operator's opt-out (allowUnenforcedSandbox) it runs as 257 runs it,
 * those two excepted (warned about). Before, any DynamicUser=yes was refused with 217/USER.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, type ServiceOutputLine } from '../src/index.js';
import { need, root } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { type RecordingLogger, testLogger } from './helpers/log.js';
import { recording } from './helpers/recorded-257.js';
import { tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/failed-start/', import.meta.url));
const rec = recording(FIXTURE);
const ran = rec.tagged('journal', 'dyn.service');

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function start(allow: boolean): Promise<{ e: ActivationEngine; log: RecordingLogger; out: string[] }> {
  const dir = join(tmp('dyn-'), 'units');
  mkdirSync(dir);
  writeFileSync(join(dir, 'dyn.service'), readFileSync(join(FIXTURE, 'dyn.service'), 'utf8'));
  const log = testLogger();
  const out: string[] = [];
  engine = new ActivationEngine({
    logger: log,
    serviceOutput: 'log',
    onServiceOutput: (l: ServiceOutputLine) => out.push(l.text),
    ...(allow ? { allowUnenforcedSandbox: true } : {}),
  });
  await engine.start(await loadUnits(dir));
  return { e: engine, log, out };
}

describe('DynamicUser=yes with a numeric User= (systemd 257, fixtures/v257/failed-start dyn.service)', () => {
  it('the recording: 257 ran it as uid 4399 with its implied sandbox', () => {
    expect(ran[0]).toBe('uid=4399 gid=4399 groups=4399');
    expect(ran).toContain('NoNewPrivs:\t1');
    expect(rec.tagged('show', 'dyn.service')).toContain(
      'User=4399 Group=4399 DynamicUser=yes RemoveIPC=yes PrivateTmp=yes ProtectHome=read-only ProtectSystem=strict NoNewPrivileges=yes RestrictSUIDSGID=yes',
    );
    expect(rec.tagged('rc', 'dyn.service')).toEqual(['0']);
  });

  it('refused by default: the implied PrivateTmp=disconnected and RestrictSUIDSGID= are not enforced (226/NAMESPACE)', async (ctx) => {
    need(ctx, root);
    const { e, log, out } = await start(false);
    await expect(e.startUnit('dyn.service')).rejects.toThrow(
      'Job for dyn.service failed because the control process exited with error code.',
    );
    expect(out).toEqual([]);
    const errors = log.errors.filter((l) => l.includes('implied by DynamicUser=yes'));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(
      /^dyn\.service: \S+dyn\.service:5: PrivateTmp=disconnected \(implied by DynamicUser=yes\) is not enforced by mptcpd-lite: refusing to start the process \(status=226\/NAMESPACE\)/,
    );
    expect(errors[1]).toMatch(
      /RestrictSUIDSGID=yes \(implied by DynamicUser=yes\) is not enforced .*status=228\/SECCOMP/,
    );
    expect(log.warnings).toContain('dyn.service: Main process exited, code=exited, status=226/NAMESPACE');
  });

  it('with allowUnenforcedSandbox: uid/gid/groups 4399, NoNewPrivileges=, ProtectSystem=strict as 257', async (ctx) => {
    need(ctx, root);
    const { e, log, out } = await start(true);
    await e.startUnit('dyn.service');
    expect(e.unitInfo('dyn.service')).toMatchObject({ activeState: 'inactive', result: 'success' });
    const want = (prefix: string) => ran.filter((l) => l.startsWith(prefix));
    for (const prefix of ['uid=', 'NoNewPrivs:', 'touch:'])
      expect(out.filter((l) => l.startsWith(prefix))).toEqual(want(prefix));
    // What is not enforced is said once, as a warning, and differs: no seccomp filter, the host's /tmp.
    expect(log.warnings.filter((l) => l.includes('(implied by DynamicUser=yes) is not enforced'))).toHaveLength(2);
    expect(out).toContain('Seccomp:\t0');
    expect(want('Seccomp:')).toEqual(['Seccomp:\t2']);
  });
});
