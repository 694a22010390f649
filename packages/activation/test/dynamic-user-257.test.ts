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
import { keyValues, recording } from './helpers/recorded-257.js';
import { tmp } from './helpers/run.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/v257/failed-start/', import.meta.url));
const rec = recording(FIXTURE);
const ran = rec.tagged('journal', 'dyn.service');

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

async function start(
  allow: boolean,
  unit = 'dyn.service',
  edit: (t: string) => string = (t) => t,
): Promise<{ e: ActivationEngine; log: RecordingLogger; out: string[] }> {
  const dir = join(tmp('dyn-'), 'units');
  mkdirSync(dir);
  writeFileSync(join(dir, unit), edit(readFileSync(join(FIXTURE, unit), 'utf8')));
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

/** 257's err lines about `unit` (the executor's and the manager's), `UNIT: text` as our logger records them. */
function recordedErrors(unit: string): string[] {
  return rec.lines.flatMap((l) => {
    const m = /^\[(?:log|exec)\] err: (.*)$/.exec(l);
    return m && (m[1] as string).startsWith(`${unit}: `) ? [m[1] as string] : [];
  });
}

describe('DynamicUser=yes with a numeric User=: the later commands of a run (257: dynamic_user_realize())', () => {
  it('the recording: the first command runs as the number, a later one looks it up in passwd (217/USER without an entry)', () => {
    expect(rec.tagged('journal', 'dynpre.service')).toEqual(['pre uid=4399 gid=4399 groups=4399']);
    expect(rec.tagged('journal', 'dyntwo.service')).toEqual(['main1 uid=4398 gid=4398 groups=4398']);
    expect(recordedErrors('dynpre.service')).toEqual([
      'dynpre.service: Failed to update dynamic user credentials: No such process',
      'dynpre.service: Failed at step USER spawning /bin/sh: No such process',
    ]);
    expect(keyValues(rec.tagged('show', 'dynpre.service')[0])).toMatchObject({
      Result: 'exit-code',
      ExecMainStatus: '217',
    });
    expect(rec.tagged('journal', 'dynent.service')).toEqual([
      'main1 uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)',
      'main2 uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)',
    ]);
  });

  it('dynpre.service: ExecStartPre= runs as uid 4399, ExecStart= fails 217/USER with 257 s lines', async (ctx) => {
    need(ctx, root);
    const { e, log, out } = await start(true, 'dynpre.service');
    await expect(e.startUnit('dynpre.service')).rejects.toThrow(
      'Job for dynpre.service failed because the control process exited with error code.',
    );
    expect(out).toEqual(rec.tagged('journal', 'dynpre.service'));
    // The job's own line (bare in 257) is failed-start-257's.
    expect(log.errors.filter((l) => / (dynamic user credentials|at step)/.test(l))).toEqual(
      recordedErrors('dynpre.service'),
    );
    expect(log.warnings).toContain('dynpre.service: Main process exited, code=exited, status=217/USER');
    expect(e.unitInfo('dynpre.service')).toMatchObject({ activeState: 'failed', result: 'exit-code' });
    expect(e.unitInfo('dynpre.service')?.service?.lastExit?.code).toBe(217);
    // The next run starts over: its first command runs as the number again.
    await expect(e.startUnit('dynpre.service')).rejects.toThrow();
    expect(out).toEqual([...rec.tagged('journal', 'dynpre.service'), ...rec.tagged('journal', 'dynpre.service')]);
  });

  it('dynent.service: with a passwd entry (65534) a later command runs with the entry s gid', async (ctx) => {
    need(ctx, root);
    // 257 ran both ExecStart= of the oneshot; the later command here is ExecStart= after ExecStartPre=.
    const { e, out } = await start(true, 'dynent.service', (t) =>
      t.replace('ExecStart=/bin/sh -c "echo main1', 'ExecStartPre=/bin/sh -c "echo main1'),
    );
    await e.startUnit('dynent.service');
    expect(e.unitInfo('dynent.service')).toMatchObject({ activeState: 'inactive', result: 'success' });
    expect(out).toEqual(rec.tagged('journal', 'dynent.service'));
  });
});
