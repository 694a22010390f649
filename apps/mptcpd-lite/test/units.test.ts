/**
 * Per-unit control as an operator uses it: `mptcpd-lite run`, then start/stop/restart/reload,
 * list-sockets, list-units and `status UNIT` through the control socket, with systemctl's exit codes.
 * The service is a Node service on @mptcp/sd (Type=notify), the clients real MPTCP sockets.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rmSync } from 'node:fs';
import { echoRoundTrip } from '@mptcp/testkit/net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need } from './helpers/capability.js';
import { runCli, startCli, stopProcess, type Running } from './helpers/cli.js';
import { freePort, tempDir, writeUnits } from './helpers/units.js';

const SD_EXAMPLE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../packages/sd/examples/echo-service.mjs',
);
const addonEnv = process.env.MPTCP_NATIVE_ADDON
  ? `Environment=MPTCP_NATIVE_ADDON=${process.env.MPTCP_NATIVE_ADDON}\n`
  : '';

let dir: string;
let daemon: Running | undefined;
beforeEach(() => {
  dir = tempDir('mdl-units-');
});
afterEach(async () => {
  if (daemon) await stopProcess(daemon, 'SIGTERM');
  daemon = undefined;
  rmSync(dir, { recursive: true, force: true });
});

interface UnitJson {
  unit: string;
  activeState: string;
  subState: string;
  result: string;
  mainPid?: number;
  tasks?: number;
  statusText?: string;
  listen: Array<{ address: string; protocol: string }>;
  log?: string[];
}

async function setup(): Promise<{ control: string; port: number }> {
  const port = await freePort();
  const units = writeUnits(path.join(dir, 'units'), {
    'echo.socket': `[Unit]\nDescription=Echo over MPTCP\n[Socket]\nListenStream=127.0.0.1:${port}\nSocketProtocol=mptcp\nFileDescriptorName=echo\n`,
    // Six starts within seconds in the restart test: systemd counts manual starts against the limit too.
    'echo.service': `[Unit]\nDescription=Node echo on @mptcp/sd\nStartLimitBurst=20\n[Service]\nType=notify\nWatchdogSec=10\n${addonEnv}ExecStart=${process.execPath} ${SD_EXAMPLE}\nExecReload=/bin/echo reload requested\n`,
    'chatty.service': "[Service]\nExecStart=/bin/sh -c 'echo hello from chatty; echo oops >&2; exec sleep infinity'\n",
  });
  const control = path.join(dir, 'control.sock');
  daemon = startCli(['run', '--units', units, '--control', control]);
  await daemon.waitFor(/^\{"event":"ready"/, 15000);
  return { control, port };
}

async function unitStatus(
  control: string,
  unit: string,
): Promise<{ code: number | null; units: Array<UnitJson | { unit: string; missing: true }> }> {
  const r = await runCli(['status', unit, '--json', '-n', '50', '--control', control]);
  return { code: r.code, units: JSON.parse(r.stdout) as Array<UnitJson | { unit: string; missing: true }> };
}

/** Asks the daemon until `unit` is in `state` (the control socket answers; nothing sleeps). */
async function until(control: string, unit: string, state: string, timeoutMs = 20000): Promise<UnitJson> {
  const t0 = Date.now();
  for (;;) {
    const [u] = (await unitStatus(control, unit)).units;
    if (u && !('missing' in u) && u.activeState === state) return u;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${unit} did not become ${state}: ${JSON.stringify(u)}`);
  }
}

describe('per-unit control', () => {
  it('status shows an unmet start condition as systemctl status does (Condition: lines)', async () => {
    const units = writeUnits(path.join(dir, 'units'), {
      'cond.service': '[Unit]\nConditionPathExists=/nonexistent-mdl-cond\n[Service]\nExecStart=/bin/true\n',
    });
    const control = path.join(dir, 'control.sock');
    daemon = startCli(['run', '--units', units, '--control', control]);
    await daemon.waitFor(/^\{"event":"ready"/, 15000);
    // 257: the start succeeds (rc 0), nothing runs, the unit stays inactive (dead).
    expect((await runCli(['start', 'cond.service', '--control', control])).code).toBe(0);
    const text = await runCli(['status', 'cond.service', '--control', control]);
    // 257's times: `Wed 2026-12-02 17:32:19 UTC; 9ms ago`.
    const time = '[A-Z][a-z]{2} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\S+; (\\S+ )+ago|now';
    expect(text.stdout).toMatch(new RegExp(`^ {5}Active: inactive \\(dead\\)( since (${time}))?$`, 'm'));
    expect(text.stdout).toMatch(new RegExp(`^ {2}Condition: start condition unmet at (${time})$`, 'm'));
    expect(text.stdout).toMatch(/^ {13}└─ ConditionPathExists=\/nonexistent-mdl-cond was not met$/m);
    const [json] = JSON.parse(
      (await runCli(['status', 'cond.service', '--json', '--control', control])).stdout,
    ) as Array<{
      conditionLines?: string[];
    }>;
    expect(json?.conditionLines?.[1]).toBe(`${' '.repeat(13)}└─ ConditionPathExists=/nonexistent-mdl-cond was not met`);
  });

  it('list-sockets, list-units, status UNIT, start/stop/reload with systemctl exit codes; service output goes to the log', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const { control, port } = await setup();

    const ls = await runCli(['list-sockets', '--control', control]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^LISTEN\s+UNIT\s+ACTIVATES$/m);
    expect(ls.stdout).toContain(`127.0.0.1:${port} (mptcp) echo.socket echo.service`);
    expect(ls.stdout).toContain('1 sockets listed.');
    const lsJson = JSON.parse((await runCli(['list-sockets', '--json', '--control', control])).stdout) as Array<
      Record<string, string>
    >;
    expect(lsJson).toEqual([
      {
        listen: `127.0.0.1:${port}`,
        kind: 'stream',
        protocol: 'mptcp',
        unit: 'echo.socket',
        activates: 'echo.service',
      },
    ]);

    // Not started yet: status exits 3, as systemctl's for an inactive unit.
    const before = await runCli(['status', 'echo.service', '--control', control]);
    expect(before.code).toBe(3);
    expect(before.stdout).toMatch(/Active: inactive \(dead\)/);

    expect(await echoRoundTrip(port, 'hello')).toBe('hello');
    const active = await until(control, 'echo.service', 'active');
    expect(active.subState).toBe('running');
    expect(active.statusText).toBe('echoing on echo');
    expect(active.tasks).toBe(1);
    const text = await runCli(['status', 'echo.service', '--control', control]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^● echo.service - Node echo on @mptcp\/sd$/m);
    expect(text.stdout).toMatch(/Active: active \(running\) since /);
    expect(text.stdout).toContain('TriggeredBy: ● echo.socket');
    expect(text.stdout).toContain(`Main PID: ${active.mainPid}`);
    const sock = await runCli(['status', 'echo.socket', '--control', control]);
    expect(sock.code).toBe(0);
    // systemctl status words (the protocol, mptcp or tcp, is in --json and list-sockets).
    expect(sock.stdout).toContain(`Listen: 127.0.0.1:${port} (Stream)`);

    const units = JSON.parse((await runCli(['list-units', '--json', '--control', control])).stdout) as UnitJson[];
    expect(units.map((u) => `${u.unit} ${u.activeState} ${u.subState}`).sort()).toEqual([
      'chatty.service inactive dead',
      'echo.service active running',
      'echo.socket active running',
    ]);

    // A service's output: in the daemon's log as unit[pid]: line, and in `status UNIT`, never on stdout.
    expect((await runCli(['start', 'chatty', '--control', control])).code).toBe(0);
    const line = await daemon?.waitFor(/chatty\.service\[\d+\]: hello from chatty/);
    await daemon?.waitFor(/chatty\.service\[\d+\]: oops/);
    expect(daemon?.stdout()).not.toContain('hello from chatty');
    const chatty = (await unitStatus(control, 'chatty')).units[0] as UnitJson;
    expect(chatty.activeState).toBe('active');
    expect(line).toContain(`chatty.service[${chatty.mainPid}]: hello from chatty`);
    expect(chatty.log?.some((l) => l.endsWith(`chatty.service[${chatty.mainPid}]: hello from chatty`))).toBe(true);

    expect((await runCli(['reload', 'echo.service', '--control', control])).code).toBe(0);
    await daemon?.waitFor(/echo\.service\[\d+\]: reload requested/);
    const reloadSocket = await runCli(['reload', 'echo.socket', '--control', control]);
    expect(reloadSocket.code).toBe(1);
    expect(reloadSocket.stderr).toContain('Job type reload is not applicable for unit echo.socket.');

    expect((await runCli(['stop', 'chatty', '--control', control])).code).toBe(0);
    const stopped = await unitStatus(control, 'chatty.service');
    expect(stopped.code).toBe(3);
    expect(stopped.units[0]).toMatchObject({ activeState: 'inactive', subState: 'dead' });

    const missing = await runCli(['status', 'nosuch', '--control', control]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('Unit nosuch.service could not be found.');
    const stopMissing = await runCli(['stop', 'nosuch.service', '--control', control]);
    expect(stopMissing.code).toBe(5);
    expect(stopMissing.stderr).toContain('Failed to stop nosuch.service: Unit nosuch.service not found.');
  }, 90_000);

  it('restart of an Accept=no service 5 times while 4 clients loop: 0 refused or reset', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const { control, port } = await setup();
    expect(await echoRoundTrip(port, 'warm up')).toBe('warm up');
    await until(control, 'echo.service', 'active');
    let running = true;
    let answered = 0;
    const errors: string[] = [];
    const loop = async (): Promise<void> => {
      while (running) {
        const text = `ping ${answered}`;
        try {
          const got = await echoRoundTrip(port, text);
          if (got !== text) errors.push(`wrong echo ${JSON.stringify(got)}`);
          else answered += 1;
        } catch (err) {
          errors.push((err as NodeJS.ErrnoException).code ?? String(err));
        }
      }
    };
    const clients = [loop(), loop(), loop(), loop()];
    const pids = new Set<number>();
    for (let i = 0; i < 5; i++) {
      const r = await runCli(['restart', 'echo.service', '--control', control], { timeoutMs: 60000 });
      expect(r.code, r.stderr).toBe(0);
      const u = await until(control, 'echo.service', 'active');
      if (u.mainPid !== undefined) pids.add(u.mainPid);
      // The new process answers before the next restart.
      const seen = answered;
      while (answered < seen + 4 && errors.length === 0) await new Promise((r) => setImmediate(r));
    }
    running = false;
    await Promise.all(clients);
    expect(errors).toEqual([]);
    expect(pids.size).toBe(5);
    console.log(`restart under load: ${answered} echoes answered, 0 refused/reset`);
  }, 120_000);
});
