/**
 * The service manager against real peers: systemd-notify (the real binary), python3-systemd's
 * systemd.daemon.notify, and a Node service on @mptcp/sd. Type=notify readiness, TimeoutStartSec=,
 * WatchdogSec=, the fd store across a crash, and `restart` under load.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { echoRoundTrip } from '@mptcp/testkit/net';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine, NotifySocket, loadNative } from '../src/index.js';
import { IN_CI, need } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { stateOf } from './helpers/engine.js';
import { testLogger } from './helpers/log.js';
import { HELPERS, freePort, unitDir, waitFor } from './helpers/run.js';

const PY = '/usr/bin/python3';
const SD_EXAMPLE = new URL('../../sd/examples/echo-service.mjs', import.meta.url).pathname;

function probe(ok: () => boolean, reason: string): { ok: boolean; reason: string } {
  try {
    return { ok: ok(), reason };
  } catch {
    return { ok: false, reason };
  }
}
const systemdNotify = probe(
  () => existsSync('/usr/bin/systemd-notify'),
  '/usr/bin/systemd-notify is not installed (apt-get install systemd)',
);
const pythonSystemd = probe(
  () => execFileSync(PY, ['-c', 'import systemd.daemon; print("ok")'], { encoding: 'utf8' }).trim() === 'ok',
  'python3-systemd is not installed (apt-get install python3-systemd)',
);
const notifySupport = {
  ok: false,
  reason: '@mptcp/native cannot receive credentials+fds (prebuild without recvWithCredentials: rebuild the addon)',
};
notifySupport.ok = await loadNative().then(
  (n) => NotifySocket.supported(n),
  () => false,
);

/** Services load the addon themselves: a development build named in the test environment goes with them. */
const addonEnv = process.env.MPTCP_NATIVE_ADDON
  ? `Environment=MPTCP_NATIVE_ADDON=${process.env.MPTCP_NATIVE_ADDON}\n`
  : '';
const node = process.execPath;

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

function serviceSnapshot(e: ActivationEngine, name: string) {
  const s = e.status().services.find((x) => x.name === name);
  if (!s) throw new Error(`no service ${name}`);
  return s;
}

function lines(file: string): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('Type=notify with real notifiers', () => {
  it('systemd-notify --ready (NotifyAccess=all): activating until READY=1, then active', async (ctx) => {
    need(ctx, systemdNotify, notifySupport);
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'svc-notify-'));
    const gate = join(dir, 'gate');
    execFileSync('mkfifo', [gate]);
    const units = unitDir({
      'gate.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'gate.service': `[Service]\nType=notify\nNotifyAccess=all\nExecStart=/bin/sh -c 'read x < ${gate}; systemd-notify --ready --status="gate opened"; exec sleep infinity'\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(units));
    const activating = stateOf(engine, 'gate.service', 'activating');
    const active = stateOf(engine, 'gate.service', 'active');
    const client = net.connect(port, '127.0.0.1');
    await activating;
    // Nothing makes it ready but the notification: the socket's service stays activating.
    expect(serviceSnapshot(engine, 'gate.service').state).toBe('activating');
    expect(engine.socket('gate.socket')?.state).toBe('running');
    await writeFile(gate, 'go\n');
    await active;
    const snap = serviceSnapshot(engine, 'gate.service');
    expect(snap.state).toBe('active');
    expect(snap.subState).toBe('running');
    expect(snap.statusText).toBe('gate opened');
    client.destroy();
  });

  it("python3-systemd's systemd.daemon.notify (default NotifyAccess=main): READY=1, STATUS=, then serves", async (ctx) => {
    need(ctx, pythonSystemd, notifySupport);
    const port = await freePort();
    const report = join(mkdtempSync(join(tmpdir(), 'svc-py-')), 'report');
    const units = unitDir({
      'py.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'py.service': `[Service]\nType=notify\nExecStart=${PY} ${join(HELPERS, 'notify-service.py')} ${report} ready\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(units));
    const active = stateOf(engine, 'py.service', 'active');
    expect(await echoRoundTrip(port, 'hello')).toBe('hello');
    await active;
    const snap = serviceSnapshot(engine, 'py.service');
    expect(snap.statusText).toBe('serving from python3-systemd');
    const [start] = lines(report);
    expect(start?.notify_socket).toMatch(/^@/);
    expect(start?.pid).toBe(snap.pid);
  });

  it('TimeoutStartSec= without READY=1: the start times out, the service fails with result timeout', async (ctx) => {
    need(ctx, notifySupport);
    const port = await freePort();
    const log = testLogger();
    const units = unitDir({
      'slow.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'slow.service': `[Service]\nType=notify\nTimeoutStartSec=1\nExecStart=/bin/sleep infinity\n`,
    });
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(units));
    const failed = stateOf(engine, 'slow.service', 'failed');
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await failed;
    const snap = serviceSnapshot(engine, 'slow.service');
    expect(snap.result).toBe('timeout');
    expect(log.warnings).toContain('slow.service: start operation timed out. Terminating.');
    expect(log.warnings).toContain("slow.service: Failed with result 'timeout'.");
    client.destroy();
  });
});

describe('WatchdogSec=', () => {
  it('a missed watchdog kills the service (WatchdogSignal=SIGABRT, result watchdog) and Restart=on-watchdog restarts it', async (ctx) => {
    need(ctx, pythonSystemd, notifySupport);
    const report = join(mkdtempSync(join(tmpdir(), 'svc-wd-')), 'report');
    const port = await freePort();
    const log = testLogger();
    const units = unitDir({
      'wd.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'wd.service': `[Service]\nType=notify\nWatchdogSec=1\nRestart=on-watchdog\nRestartSec=0\nExecStart=${PY} ${join(HELPERS, 'notify-service.py')} ${report} watchdog 3\n`,
    });
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(units));
    const exits: Array<{ result: string; restart: boolean; signal: string | null }> = [];
    const secondStart = new Promise<void>((resolve) => {
      let starts = 0;
      engine?.on('started', (e) => {
        if (e.service === 'wd.service' && ++starts === 2) resolve();
      });
    });
    engine.on('service-exit', (e) => exits.push({ result: e.result, restart: e.restart, signal: e.signal }));
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await secondStart;
    expect(exits[0]).toEqual({ result: 'watchdog', restart: true, signal: 'SIGABRT' });
    expect(log.errors.some((l) => l.startsWith('wd.service: Watchdog timeout (limit 1s)!'))).toBe(true);
    const [first] = lines(report);
    expect(first?.watchdog_usec).toBe('1000000');
    expect(first?.watchdog_pid).toBe(String(first?.pid));
    expect(serviceSnapshot(engine, 'wd.service').restarts).toBe(1);
    client.destroy();
  });

  it('a WATCHDOG=1 queued while the daemon could not run counts before the watchdog expires (systemd: the watchdog is an idle-priority source)', async (ctx) => {
    need(ctx, pythonSystemd, notifySupport);
    const report = join(mkdtempSync(join(tmpdir(), 'svc-wd-stall-')), 'report');
    const port = await freePort();
    const log = testLogger();
    const units = unitDir({
      'stall.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'stall.service': `[Service]\nType=notify\nWatchdogSec=1\nExecStart=${PY} ${join(HELPERS, 'notify-service.py')} ${report} pings\n`,
    });
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(units));
    const e = engine;
    const exits: string[] = [];
    e.on('service-exit', (x) => exits.push(x.result));
    const active = stateOf(e, 'stall.service', 'active');
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await active;
    const pings = (): number => lines(report).filter((l) => 'ping' in l).length;
    const readPing = (): number =>
      Number(/^ping (\d+)$/.exec(serviceSnapshot(e, 'stall.service').statusText ?? '')?.[1] ?? 0);
    await waitFor(() => readPing() >= 1, 30_000, 'the first ping read');
    const pid = serviceSnapshot(e, 'stall.service').pid;
    // The daemon stalls (this thread blocks) while the service pings on. The last ping the engine read
    // came before the stall; the 4th one sent during it comes at least 3 × 0.5 s after the 1st: the
    // 1 s watchdog is due when the daemon runs again, with the pings that kept it alive queued unread.
    const from = pings();
    const cell = new Int32Array(new SharedArrayBuffer(4));
    for (const end = Date.now() + 30_000; pings() < from + 4; Atomics.wait(cell, 0, 0, 10))
      if (Date.now() > end) throw new Error('the service stopped pinging');
    const sent = pings();
    await waitFor(() => exits.length > 0 || readPing() >= sent + 1, 30_000, 'a ping after the stall read, or an exit');
    expect(exits).toEqual([]);
    expect(log.errors.filter((l) => l.includes('Watchdog timeout'))).toEqual([]);
    expect(serviceSnapshot(e, 'stall.service')).toMatchObject({ state: 'active', pid });
    client.destroy();
  });
});

describe('fd store', () => {
  it('a Node service stores an fd (FDSTORE=1, FDNAME=state), crashes, and gets it back after the socket fds', async (ctx) => {
    need(ctx, notifySupport);
    const dir = mkdtempSync(join(tmpdir(), 'svc-fds-'));
    const report = join(dir, 'report');
    const state = join(dir, 'state.txt');
    writeFileSync(state, 'survived the crash');
    const port = await freePort();
    const units = unitDir({
      'keep.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nFileDescriptorName=web\n`,
      'keep.service': `[Service]\nType=notify\nFileDescriptorStoreMax=4\nRestart=on-failure\nRestartSec=0\n${addonEnv}ExecStart=${node} ${join(HELPERS, 'fd-store-service.mjs')} ${report} ${state}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(units));
    const recovered = new Promise<void>((resolve) => {
      let actives = 0;
      engine?.on('service-state', (e) => {
        if (e.service === 'keep.service' && e.state === 'active' && ++actives === 2) resolve();
      });
    });
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await recovered;
    const [first, second] = lines(report);
    expect(first).toMatchObject({ names: ['web'], stored: true });
    expect(second).toMatchObject({ names: ['web', 'state'], content: 'survived the crash' });
    expect(serviceSnapshot(engine, 'keep.service').fdStore).toEqual(['state']);
    client.destroy();
  });
});

describe('fd store: a connection survives its service', () => {
  it('a service stores a client connection, crashes, and the restarted one answers on the same connection', async (ctx) => {
    need(ctx, notifySupport);
    const port = await freePort();
    const units = unitDir({
      'conn.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nFileDescriptorName=web\n`,
      'conn.service': `[Service]\nType=notify\nFileDescriptorStoreMax=8\nRestart=on-failure\nRestartSec=0\n${addonEnv}ExecStart=${node} ${join(HELPERS, 'keep-connection-service.mjs')}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(units));
    const text = await new Promise<string>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1');
      let got = '';
      c.on('data', (d) => (got += d.toString()));
      c.on('end', () => resolve(got));
      c.on('error', reject);
    });
    const lines = text.trim().split('\n');
    expect(lines[0]).toBe('stored');
    expect(lines[1]).toMatch(/^resumed by \d+$/);
    const snap = serviceSnapshot(engine, 'conn.service');
    expect(lines[1]).toBe(`resumed by ${snap.pid}`);
    expect(snap.restarts).toBe(1);
  });
});

describe('a Node service on @mptcp/sd', () => {
  it('runs unchanged under the engine: READY=1 makes it active, WatchdogSec= is fed, it echoes', async (ctx) => {
    need(ctx, notifySupport);
    const port = await freePort();
    const units = unitDir({
      'echo.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nFileDescriptorName=echo\n`,
      'echo.service': `[Service]\nType=notify\nWatchdogSec=2\n${addonEnv}ExecStart=${node} ${SD_EXAMPLE}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(units));
    const active = stateOf(engine, 'echo.service', 'active');
    expect(await echoRoundTrip(port, 'over mptcpd-lite')).toBe('over mptcpd-lite');
    await active;
    expect(serviceSnapshot(engine, 'echo.service').statusText).toBe('echoing on echo');
  });

  it('restart 5 times while 4 clients loop: no connection refused or reset (the socket stays open in the daemon)', async (ctx) => {
    need(ctx, notifySupport);
    const port = await freePort();
    const units = unitDir({
      'loop.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nFileDescriptorName=echo\n`,
      // Six starts in a few seconds: systemd counts manual starts against StartLimitBurst= too.
      'loop.service': `[Unit]\nStartLimitBurst=20\n[Service]\nType=notify\n${addonEnv}ExecStart=${node} ${SD_EXAMPLE}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(units));
    let running = true;
    const errors: string[] = [];
    let done = 0;
    const loop = async (): Promise<void> => {
      while (running) {
        try {
          const text = `ping ${done}`;
          const got = await echoRoundTrip(port, text);
          if (got !== text) errors.push(`wrong echo: ${JSON.stringify(got)}`);
          done += 1;
        } catch (err) {
          errors.push((err as NodeJS.ErrnoException).code ?? String(err));
        }
      }
    };
    const clients = [loop(), loop(), loop(), loop()];
    const e = engine;
    await stateOf(e, 'loop.service', 'active');
    for (let i = 0; i < 5; i++) {
      const before = done;
      const active = stateOf(e, 'loop.service', 'active');
      await e.restartUnit('loop.service');
      await active;
      // Connections are answered by the new process before the next restart.
      await new Promise<void>((resolve) => {
        const check = (): void => (done > before + 4 ? resolve() : void setImmediate(check));
        check();
      });
    }
    running = false;
    await Promise.all(clients);
    expect(errors).toEqual([]);
    expect(serviceSnapshot(e, 'loop.service').starts).toBe(6);
    if (IN_CI) expect(done).toBeGreaterThan(20);
  }, 60_000);
});
