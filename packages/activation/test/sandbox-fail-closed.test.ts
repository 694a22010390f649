/**
 * Sandbox and privilege directives the engine does not enforce fail the process closed, as systemd
 * fails the exec step it cannot do: the status of that step (226/NAMESPACE, 228/SECCOMP, …), result
 * exit-code, a log line naming FILE:LINE; a permissive value (PrivateTmp=no, SystemCallFilter= reset)
 * does not count; other units keep working; `+` commands and the opt-out run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadUnitFile, type ServiceUnit } from '@mptcp/unit';
import { ActivationEngine } from '../src/index.js';
import { fastEligible } from '../src/accept-fast.js';
import { enforcementOf, unenforcedDirectives } from '../src/sandbox.js';
import { loadUnits } from './helpers/load.js';
import { type RecordingLogger, testLogger } from './helpers/log.js';
import { clientOnce, loopback, tmp, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

function serviceOf(text: string, dropIn?: string): ServiceUnit {
  const dir = unitDir({ 'x.service': text });
  if (dropIn !== undefined) {
    const d = join(dir, 'x.service.d');
    mkdirSync(d);
    writeFileSync(join(d, '10-sandbox.conf'), dropIn);
  }
  const r = loadUnitFile(join(dir, 'x.service'), { searchPaths: [dir] });
  if (!r.unit || r.unit.kind !== 'service') throw new Error(`x.service did not load: ${JSON.stringify(r.diagnostics)}`);
  return r.unit;
}

const none = { capabilities: false };

describe('which directives count (systemd semantics of the effective value)', () => {
  it.each([
    ['PrivateTmp=yes', 'PrivateTmp', 226],
    ['PrivateTmp=disconnected', 'PrivateTmp', 226],
    ['ProtectControlGroups=private', 'ProtectControlGroups', 226],
    ['PrivateUsers=self', 'PrivateUsers', 217],
    ['ProtectSystem=strict', 'ProtectSystem', 226],
    ['ProtectHome=read-only', 'ProtectHome', 226],
    ['ReadOnlyPaths=/etc', 'ReadOnlyPaths', 226],
    ['InaccessiblePaths=-/nonexistent', 'InaccessiblePaths', 226],
    ['PrivateNetwork=yes', 'PrivateNetwork', 225],
    ['PrivateUsers=yes', 'PrivateUsers', 217],
    ['DynamicUser=yes', 'DynamicUser', 217],
    ['SystemCallFilter=@system-service', 'SystemCallFilter', 228],
    ['SystemCallArchitectures=native', 'SystemCallArchitectures', 228],
    ['RestrictNamespaces=yes', 'RestrictNamespaces', 228],
    ['RestrictNamespaces=~user', 'RestrictNamespaces', 228],
    ['MemoryDenyWriteExecute=yes', 'MemoryDenyWriteExecute', 228],
    ['RestrictAddressFamilies=AF_INET', 'RestrictAddressFamilies', 232],
    ['SecureBits=noroot', 'SecureBits', 213],
    ['CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'CapabilityBoundingSet', 218],
    ['CapabilityBoundingSet=', 'CapabilityBoundingSet', 218],
    ['AmbientCapabilities=CAP_NET_RAW', 'AmbientCapabilities', 218],
    ['AppArmorProfile=strict', 'AppArmorProfile', 231],
    ['DevicePolicy=closed', 'DevicePolicy', 219],
    ['IPAddressDeny=any', 'IPAddressDeny', 219],
    ['RootDirectory=/srv/root', 'RootDirectory', 226],
  ])('%s counts (%s, status %d)', (line, key, status) => {
    const unit = serviceOf(`[Service]\nExecStart=/bin/true\n${line}\n`);
    const got = unenforcedDirectives(unit, none);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ key, status, file: unit.file, line: 3 });
  });

  it.each([
    'PrivateTmp=no',
    'ProtectSystem=no',
    'ProtectSystem=false',
    'ProtectHome=no',
    'ProtectProc=default',
    'ProcSubset=all',
    'PrivateUsers=no',
    'DevicePolicy=auto',
    'RestrictNamespaces=no',
    'RestrictNamespaces=~',
    'NoNewPrivileges=yes',
    'ReadWritePaths=/var/lib/x',
    'SELinuxContext=-system_u:system_r:x_t',
    'AmbientCapabilities=',
    'CapabilityBoundingSet=~',
    'CapabilityBoundingSet=~CAP_NET_ADMIN\nCapabilityBoundingSet=CAP_NET_ADMIN',
    'PrivateTmp=yes\nPrivateTmp=no',
    'SystemCallFilter=@system-service\nSystemCallFilter=',
    'ReadOnlyPaths=/etc\nReadOnlyPaths=',
    'AmbientCapabilities=CAP_NET_RAW\nAmbientCapabilities=~CAP_NET_RAW',
  ])('%s does not count (the effective value restricts nothing)', (lines) => {
    expect(unenforcedDirectives(serviceOf(`[Service]\nExecStart=/bin/true\n${lines}\n`), none)).toEqual([]);
  });

  it('the Accept=yes fast path never takes a template with an unenforced directive or PrivateTmp=yes', () => {
    const tpl = (extra: string): ServiceUnit =>
      serviceOf(`[Service]\nExecStart=/bin/cat\nStandardInput=socket\n${extra}`);
    // A real instance name: its unescaped form (0/127.0.0.1:…) never occurs in the unit's random
    // directory path (`0-x` unescapes to `0/x`, which a path ending in …0/x.service contains).
    const instance = '0-127.0.0.1:9-127.0.0.1:4242';
    expect(fastEligible(tpl(''), instance)).toBe(true);
    expect(fastEligible(tpl('CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n'), instance)).toBe(true); // applied per spawn
    expect(fastEligible(tpl('ProtectSystem=strict\n'), instance)).toBe(false);
    expect(fastEligible(tpl('PrivateTmp=yes\n'), instance)).toBe(false); // directories per instance
  });

  it('names the last assignment, in a drop-in too, in exec_invoke() order (the first gives the status)', () => {
    const unit = serviceOf(
      '[Service]\nExecStart=/bin/true\nSystemCallFilter=@system-service\nPrivateTmp=yes\n',
      '[Service]\nPrivateTmp=\\\n  yes\n',
    );
    const got = unenforcedDirectives(unit, none);
    expect(got.map((d) => [d.key, d.status])).toEqual([
      ['PrivateTmp', 226],
      ['SystemCallFilter', 228],
    ]);
    expect(got[0]?.file).toMatch(/x\.service\.d\/10-sandbox\.conf$/);
    expect(got[0]?.line).toBe(3);
    expect(got[1]).toMatchObject({ file: unit.file, line: 3 });
  });
});

const PROBE = `/bin/sh -c 'grep -E "^(CapBnd|NoNewPrivs)" /proc/self/status'`;

/** startUnit() of a oneshot, resolved once its process has exited (startUnit returns once it started). */
async function runOnce(name: string): Promise<void> {
  const exited = new Promise<void>((resolve) =>
    engine?.on('service-exit', (e) => {
      if (e.unit === name) resolve();
    }),
  );
  await engine?.startUnit(name);
  await exited;
}

async function startEngine(files: Record<string, string>, log: RecordingLogger, allow = false): Promise<string> {
  const dir = unitDir(files);
  engine = new ActivationEngine({ logger: log, ...(allow ? { allowUnenforcedSandbox: true } : {}) });
  expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
  return dir;
}

describe('the engine refuses the process (Accept=yes and Accept=no)', () => {
  it('Accept=yes: each connection fails 226/NAMESPACE with FILE:LINE logged; a plain socket beside it serves; never the fast path', async () => {
    const log = testLogger();
    const [c, plain] = [await loopback(), await loopback()];
    const dir = await startEngine(
      {
        'c.socket': `[Socket]\nListenStream=${c}\nAccept=yes\n`,
        'c@.service': `[Service]\nExecStart=${PROBE}\nStandardInput=socket\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nProtectKernelTunables=yes\nPrivateTmp=yes\nSystemCallFilter=@system-service\nProtectSystem=strict\n`,
        'plain.socket': `[Socket]\nListenStream=${plain}\nAccept=yes\n`,
        'plain@.service': `[Service]\nExecStart=${PROBE}\nStandardInput=socket\nPrivateTmp=no\nSystemCallFilter=\n`,
      },
      log,
    );
    const exits: Array<{ unit: string; code: number | null; result: string }> = [];
    engine?.on('service-exit', (e) => exits.push(e));
    const port = Number(c.split(':')[1]);
    for (let n = 0; n < 3; n++) {
      const reply = await clientOnce(port, { tcp: true });
      expect(reply.received).toBe(''); // nothing ran: EOF
    }
    await waitFor(() => exits.filter((e) => e.unit.startsWith('c@')).length === 3, 10_000, 'three refused instances');
    for (const e of exits.filter((x) => x.unit.startsWith('c@')))
      expect(e).toMatchObject({ code: 226, result: 'exit-code' });
    const file = join(dir, 'c@.service');
    // The native launcher applies PrivateTmp=yes (private-tmp-257.test.ts): not refused.
    expect(log.errors.some((m) => m.includes('PrivateTmp='))).toBe(false);
    expect(log.errors.some((m) => m.includes(`${file}:5: ProtectKernelTunables=yes is not enforced`))).toBe(true);
    // ProtectSystem= likewise (namespace-257.test.ts): not refused.
    expect(log.errors.some((m) => m.includes('ProtectSystem='))).toBe(false);
    expect(log.errors.some((m) => m.includes(`${file}:7: SystemCallFilter=@system-service is not enforced`))).toBe(
      true,
    );
    // The native launcher applies CapabilityBoundingSet= (capabilities-257.test.ts): not refused.
    expect(log.errors.some((m) => m.includes('CapabilityBoundingSet='))).toBe(false);
    expect(log.warnings.some((m) => m.includes('status=226/NAMESPACE'))).toBe(true);
    // The other socket's instances run (permissive values do not block).
    const ok = await clientOnce(Number(plain.split(':')[1]), { tcp: true });
    expect(ok.received).toMatch(/^CapBnd:\s+[0-9a-f]+\nNoNewPrivs:\s+0\n$/);
    expect(engine?.socket('c.socket')).toMatchObject({ state: 'listening', counters: { accepted: 3 } });
  });

  it('Type=oneshot: the start fails, result exit-code, last exit 228/SECCOMP; ExecStartPre= as a control process 226', async () => {
    const log = testLogger();
    const out = join(tmp('sandbox-'), 'ran');
    await startEngine(
      {
        'one.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo ran > ${out}'\nMemoryDenyWriteExecute=yes\n`,
        'pre.service': `[Service]\nType=oneshot\nExecStartPre=/bin/true\nExecStart=/bin/true\nPrivateDevices=yes\n`,
        'ok.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo ran > ${out}'\nProtectSystem=no\nPrivateTmp=false\n`,
      },
      log,
    );
    await expect(engine?.startUnit('one.service')).rejects.toThrow(
      /^Job for \S+ failed because the control process exited with error code\.$/,
    );
    const one = engine?.status().services.find((s) => s.name === 'one.service');
    expect(one).toMatchObject({ state: 'failed', result: 'exit-code', lastExit: { code: 228, signal: null } });
    expect(
      log.errors.some((m) =>
        /one\.service:4: MemoryDenyWriteExecute=yes is not enforced .*status=228\/SECCOMP/.test(m),
      ),
    ).toBe(true);
    expect(log.warnings).toContain('one.service: Main process exited, code=exited, status=228/SECCOMP');
    await expect(engine?.startUnit('pre.service')).rejects.toThrow(/pre\.service failed/);
    const said = [...log.errors, ...log.warnings].join('\n');
    expect(said).toMatch(/pre\.service: .*pre\.service:5: PrivateDevices=yes is not enforced/);
    expect(said).toMatch(/pre\.service: Control process exited, code=exited, status=226\/NAMESPACE$/m);
    expect(engine?.status().services.find((s) => s.name === 'pre.service')).toMatchObject({ state: 'failed' });
    expect(() => readFileSync(out)).toThrow();
    await runOnce('ok.service');
    expect(readFileSync(out, 'utf8')).toBe('ran\n');
  });

  it('the node launcher (no capability steps) refuses CapabilityBoundingSet=/AmbientCapabilities= with 218/CAPABILITIES; the native one applies them', async () => {
    const log = testLogger();
    const out = join(tmp('sandbox-'), 'caps');
    const dir = unitDir({
      'caps.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'grep CapBnd /proc/self/status > ${out}'\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n`,
    });
    engine = new ActivationEngine({ logger: log, spawn: 'node' });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    await expect(engine.startUnit('caps.service')).rejects.toThrow(
      /^Job for \S+ failed because the control process exited with error code\.$/,
    );
    expect(engine.status().services.find((s) => s.name === 'caps.service')?.lastExit).toEqual({
      code: 218,
      signal: null,
    });
    expect(log.errors.join('\n')).toMatch(
      /caps\.service:4: CapabilityBoundingSet=CAP_NET_BIND_SERVICE is not enforced .*218\/CAPABILITIES/,
    );
    // PrivateTmp=yes likewise: a mount namespace only the native launcher sets up; `disconnected` never.
    const pt = (v: string): ServiceUnit => serviceOf(`[Service]\nExecStart=/bin/true\nPrivateTmp=${v}\n`);
    expect(unenforcedDirectives(pt('yes'), enforcementOf(false))).toHaveLength(1);
    expect(unenforcedDirectives(pt('yes'), enforcementOf(true))).toEqual([]);
    expect(unenforcedDirectives(pt('disconnected'), enforcementOf(true))).toHaveLength(1);
    // ProtectSystem=, ProtectHome=, ReadOnlyPaths=, InaccessiblePaths= (and the old *Directories=
    // names): the native launcher's mount namespace (namespace-257.test.ts); the kernel ones are not.
    for (const d of [
      'ProtectSystem=strict',
      'ProtectHome=tmpfs',
      'ReadOnlyPaths=/etc',
      'ReadOnlyDirectories=/etc',
      'InaccessiblePaths=-/nonexistent',
      'InaccessibleDirectories=/nonexistent',
    ]) {
      const u = serviceOf(`[Service]\nExecStart=/bin/true\n${d}\n`);
      expect(unenforcedDirectives(u, enforcementOf(false)), d).toHaveLength(1);
      expect(unenforcedDirectives(u, enforcementOf(true)), d).toEqual([]);
    }
    for (const d of ['ProtectKernelTunables=yes', 'ProtectKernelLogs=yes', 'ProtectControlGroups=yes']) {
      const u = serviceOf(`[Service]\nExecStart=/bin/true\n${d}\n`);
      expect(unenforcedDirectives(u, enforcementOf(true)), d).toHaveLength(1);
    }
    await engine.stop();
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(dir));
    await runOnce('caps.service');
    expect(readFileSync(out, 'utf8')).toMatch(/^CapBnd:\s+0000000000000400\n$/);
  });

  it.each([
    ['CPUSchedulingPolicy=batch', 'CPUSchedulingPolicy', 214],
    ['CPUSchedulingPriority=5', 'CPUSchedulingPriority', 214],
    ['CPUAffinity=0', 'CPUAffinity', 215],
    ['IOSchedulingClass=idle', 'IOSchedulingClass', 211],
    ['IOSchedulingPriority=3', 'IOSchedulingPriority', 211],
    ['TimerSlackNSec=1ms', 'TimerSlackNSec', 212],
    ['CoredumpFilter=all', 'CoredumpFilter', 205],
    ['Personality=x86-64', 'Personality', 230],
  ])('the node launcher refuses %s (%s, status %i); the native launcher applies it', async (line, key, status) => {
    const u = serviceOf(`[Service]\nExecStart=/bin/true\n${line}\n`);
    expect(unenforcedDirectives(u, enforcementOf(false))).toMatchObject([{ key, status, line: 3 }]);
    expect(unenforcedDirectives(u, enforcementOf(true))).toEqual([]);
    // An empty assignment resets: nothing to refuse
    const reset = serviceOf(`[Service]\nExecStart=/bin/true\n${line}\n${key}=\n`);
    // (not CPUSchedulingPriority= nor TimerSlackNSec=: 257 refuses an empty value there, keeping the last)
    if (key !== 'CPUSchedulingPriority' && key !== 'TimerSlackNSec')
      expect(unenforcedDirectives(reset, enforcementOf(false))).toEqual([]);
    // A `+` command skips the sandbox check: the node launcher itself refuses it with the same status.
    const log = testLogger();
    const dir = unitDir({ 'n.service': `[Service]\nType=oneshot\nExecStart=+/bin/true\n${line}\n` });
    engine = new ActivationEngine({ logger: log, spawn: 'node' });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    await expect(engine.startUnit('n.service')).rejects.toThrow(
      /^Job for \S+ failed because the control process exited with error code\.$/,
    );
    expect(engine.status().services.find((s) => s.name === 'n.service')?.lastExit).toEqual({
      code: status,
      signal: null,
    });
  });

  it('CPUAffinity=numa (NUMAMask= is not applied) is refused by both launchers with 215/CPUAFFINITY', () => {
    const u = serviceOf('[Service]\nExecStart=/bin/true\nCPUAffinity=numa\n');
    expect(unenforcedDirectives(u, enforcementOf(true))).toMatchObject([
      { key: 'CPUAffinity', value: 'numa', status: 215 },
    ]);
    const later = serviceOf('[Service]\nExecStart=/bin/true\nCPUAffinity=numa\nCPUAffinity=0\n');
    expect(unenforcedDirectives(later, enforcementOf(true))).toEqual([]);
  });

  it('CPUAffinity=numa fails a `+` command too (215), which skips the sandbox check', async () => {
    const dir = unitDir({ 'numa.service': '[Service]\nType=oneshot\nExecStart=+/bin/true\nCPUAffinity=numa\n' });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    await expect(engine.startUnit('numa.service')).rejects.toThrow(
      /^Job for \S+ failed because the control process exited with error code\.$/,
    );
    expect(engine.status().services.find((s) => s.name === 'numa.service')?.lastExit).toEqual({
      code: 215,
      signal: null,
    });
  });

  it('the node launcher refuses supplementary groups it cannot set (216/GROUP): child_process drops them', async () => {
    const log = testLogger();
    const dir = unitDir({
      'g.service': '[Service]\nType=oneshot\nExecStart=/bin/true\nUser=nobody\nSupplementaryGroups=root\n',
    });
    engine = new ActivationEngine({ logger: log, spawn: 'node' });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    await expect(engine.startUnit('g.service')).rejects.toThrow(
      /^Job for \S+ failed because the control process exited with error code\.$/,
    );
    expect(engine.status().services.find((s) => s.name === 'g.service')?.lastExit).toEqual({ code: 216, signal: null });
  });

  it('`+` commands run without the sandbox (as in systemd); --allow-unenforced-sandbox runs the rest with one warning per unit', async () => {
    const log = testLogger();
    const out = join(tmp('sandbox-'), 'ran');
    await startEngine(
      {
        'plus.service': `[Service]\nType=oneshot\nExecStart=+/bin/sh -c 'echo plus >> ${out}'\nPrivateTmp=yes\nProtectSystem=strict\n`,
      },
      log,
    );
    await runOnce('plus.service');
    expect(readFileSync(out, 'utf8')).toBe('plus\n');
    await engine?.stop();
    const log2 = testLogger();
    await startEngine(
      {
        'weak.service': `[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo weak >> ${out}'\nProtectKernelLogs=yes\nSystemCallFilter=@system-service\n`,
      },
      log2,
      true,
    );
    await runOnce('weak.service');
    await runOnce('weak.service');
    expect(readFileSync(out, 'utf8')).toBe('plus\nweak\nweak\n');
    const warned = log2.warnings.filter((m) => m.includes('is not enforced by mptcpd-lite; running without it'));
    expect(warned).toHaveLength(2); // ProtectKernelLogs= and SystemCallFilter=, once
    expect(log2.errors).toEqual([]);
  });
});
