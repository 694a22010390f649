/** Accept=no details: several sockets → one service, Restart=, MaxConnectionsPerSource=, stop(). */
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { HELPERS, clientOnce, freePort, sleep, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

interface FdReport {
  pid: number;
  listen_pid: string;
  names: string[];
  ports: number[];
  fds: Record<string, string>;
}

describe('Accept=no services', () => {
  it('two socket units trigger one service: all fds passed, named, in order; nothing else leaks', async (ctx) => {
    need(ctx, python3);
    const [pa, pb1, pb2] = [await freePort(), await freePort(), await freePort()];
    const dir = unitDir({
      'a.socket': `[Socket]\nListenStream=127.0.0.1:${pa}\nService=both.service\n`,
      'b.socket': `[Socket]\nListenStream=127.0.0.1:${pb1}\nListenStream=127.0.0.1:${pb2}\nService=both.service\nFileDescriptorName=bee\n`,
      'both.service': `[Service]\nExecStart=/usr/bin/python3 ${join(HELPERS, 'fd-report.py')}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const states: string[] = [];
    engine.on('socket-state', (e) => states.push(`${e.socket}:${e.state}`));
    const r = JSON.parse((await clientOnce(pb2, { tcp: true })).received) as FdReport;
    expect(r.listen_pid).toBe(String(r.pid));
    expect(r.names).toEqual(['a.socket', 'bee', 'bee']);
    expect(r.ports).toEqual([pa, pb1, pb2]);
    const extraSockets = Object.entries(r.fds).filter(([f, t]) => Number(f) > 5 && t.startsWith('socket:'));
    expect(extraSockets).toEqual([]);
    // The connection came to b.socket, but a.socket was lent to the service as well.
    expect(states.slice(0, 2).sort()).toEqual(['a.socket:running', 'b.socket:running']);
    await waitFor(
      () => engine?.socket('a.socket')?.state === 'listening' && engine.socket('b.socket')?.state === 'listening',
      5000,
      'both sockets listening again',
    );
  });

  it('an instance socket (foo@bar.socket) triggers foo@bar.service, loaded from the template with %i', async (ctx) => {
    need(ctx, python3);
    const port = await freePort();
    const marker = join(unitDir({}), 'instance');
    const dir = unitDir({
      'inst@one.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'inst@.service': `[Service]\nExecStartPre=/bin/sh -c 'echo %i > ${marker}'\nExecStart=/usr/bin/python3 ${join(HELPERS, 'one-shot-server.py')}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    expect(engine.socket('inst@one.socket')?.service).toBe('inst@one.service');
    expect((await clientOnce(port, { tcp: true })).received).toMatch(/^pong \d+\n$/);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(marker, 'utf8')).toBe('one\n');
  });

  it('FlushPending=yes drops connections queued while the service ran; without it they re-trigger', async (ctx) => {
    need(ctx, python3);
    for (const flush of [true, false]) {
      const port = await freePort();
      const gate = join(unitDir({}), 'gate');
      execFileSync('mkfifo', [gate]);
      const dir = unitDir({
        'fp.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nFlushPending=${flush ? 'yes' : 'no'}\n`,
        // Answers one connection, then waits for the gate to open and close before exiting.
        'fp.service': `[Service]\nExecStart=/usr/bin/python3 ${join(HELPERS, 'one-shot-server.py')} ${gate}\n`,
      });
      engine = new ActivationEngine({ logger: testLogger() });
      await engine.start(await loadUnits(dir));
      const first = await clientOnce(port, { tcp: true });
      expect(first.received).toMatch(/^pong/);
      // The service is still running: this connection completes its handshake into the backlog.
      const second = net.connect({ port, host: '127.0.0.1' });
      let received = '';
      second.on('data', (d: Buffer) => (received += d.toString()));
      second.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => second.on('close', () => resolve()));
      await new Promise<void>((resolve) => second.once('connect', () => resolve()));
      second.end();
      // Now let the service exit (opening the FIFO for writing waits for the service to read it).
      const g = await open(gate, 'w');
      await g.close();
      await closed;
      expect(received === '').toBe(flush);
      if (!flush) expect(received).toMatch(/^pong/);
      await engine.stop();
      engine = undefined;
    }
  });

  it('Restart=on-failure restarts after RestartSec and hands the fds over again', async (ctx) => {
    need(ctx, python3);
    const port = await freePort();
    const marker = join(unitDir({}), 'crashed-once');
    const dir = unitDir({
      'r.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      // First run: exits 1 without touching the listener; second run: serves.
      'r.service': `[Service]\nExecStart=/bin/sh -c 'if [ ! -e ${marker} ]; then touch ${marker}; exit 1; fi; exec /usr/bin/python3 ${join(HELPERS, 'fd-report.py')}'\nRestart=on-failure\nRestartSec=200ms\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const t0 = Date.now();
    const r = JSON.parse((await clientOnce(port, { tcp: true })).received) as FdReport;
    expect(existsSync(marker)).toBe(true);
    expect(r.names).toEqual(['r.socket']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    const svc = engine.status().services.find((s) => s.name === 'r.service');
    expect(svc).toMatchObject({ starts: 2, restarts: 1 });
  });

  it('stop() ends running services with KillSignal= and closes everything', async () => {
    const port = await freePort();
    const dir = unitDir({
      's.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      's.service': '[Service]\nExecStart=/bin/sleep 60\nKillSignal=SIGINT\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(dir));
    const exits: Array<string | null> = [];
    engine.on('service-exit', (e) => exits.push(e.signal));
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    const pid = (await waitFor(
      () => engine?.status().services.find((s) => s.name === 's.service')?.pid,
      5000,
      'service pid',
    )) as number;
    await engine.stop();
    engine = undefined;
    expect(exits).toEqual(['SIGINT']);
    expect(() => process.kill(pid, 0)).toThrow();
    c.destroy();
    const refused = await new Promise<string>((resolve) => {
      const d = net.connect(port, '127.0.0.1');
      d.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? ''));
      d.on('connect', () => resolve('connected'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('stop() while starting', () => {
  it('during ExecStartPre=: the control process is ended and the main process never starts', async () => {
    const port = await freePort();
    const marker = join(unitDir({}), 'main-started');
    const dir = unitDir({
      'p.socket': `[Socket]\nListenStream=127.0.0.1:${port}\n`,
      'p.service': `[Service]\nExecStartPre=/bin/sleep 30\nExecStart=/bin/touch ${marker}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    await engine.start(await loadUnits(dir));
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => undefined);
    await waitFor(
      () => engine?.status().services.find((s) => s.name === 'p.service')?.state === 'activating',
      5000,
      'activating',
    );
    const t0 = Date.now();
    await engine.stop();
    engine = undefined;
    await sleep(300);
    c.destroy();
    // ExecStartPre= sleeps 30 s: the stop must not wait for it (the bound is far below 30 s, far above a loaded machine's delays)
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(existsSync(marker)).toBe(false);
  });
});

describe('Accept=yes per-source limit', () => {
  it('MaxConnectionsPerSource= drops the extra connection from one address, not from another', async () => {
    const port = await freePort();
    const dir = unitDir({
      'ps.socket': `[Socket]\nListenStream=127.0.0.1:${port}\nAccept=yes\nMaxConnectionsPerSource=1\n`,
      'ps@.service': "[Service]\nExecStart=/bin/sh -c 'echo hi; read x'\nStandardInput=socket\n",
    });
    const log = testLogger();
    engine = new ActivationEngine({ logger: log });
    await engine.start(await loadUnits(dir));
    const open = (localAddress: string): Promise<{ c: net.Socket; greeted: boolean }> =>
      new Promise((resolve) => {
        const c = net.connect({ port, host: '127.0.0.1', localAddress });
        c.once('data', () => resolve({ c, greeted: true }));
        c.once('close', () => resolve({ c, greeted: false }));
        c.on('error', () => undefined);
      });
    const first = await open('127.0.0.1');
    const second = await open('127.0.0.1');
    const other = await open('127.0.0.2');
    expect([first.greeted, second.greeted, other.greeted]).toEqual([true, false, true]);
    expect(log.warnings).toContain(
      'ps.socket: Too many incoming connections (2) from source 127.0.0.1, dropping connection.',
    );
    for (const x of [first, second, other]) x.c.destroy();
    await sleep(50);
  });
});
