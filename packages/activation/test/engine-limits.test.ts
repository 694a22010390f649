/** Re-triggering, trigger limit, service start limit, MaxConnections with fd accounting. */
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { mptcp, need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { HELPERS, clientSeq, fdCount, sleep, unitDir, waitFor, loopback } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

function connectOnce(port: number): Promise<{ connected: boolean; data: string; error?: string }> {
  return new Promise((resolve) => {
    let data = '';
    let connected = false;
    const c = net.connect({ port, host: '127.0.0.1' });
    c.on('connect', () => {
      connected = true;
    });
    c.on('data', (d) => {
      data += d.toString();
    });
    c.on('error', (err) => resolve({ connected, data, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    c.on('close', () => resolve({ connected, data }));
  });
}

describe('activation limits', () => {
  it('a service that exits after each connection is re-triggered: 100 sequential connections answered', async (ctx) => {
    need(ctx, mptcp, python3);
    const dir = unitDir({
      'pong.socket': `[Socket]\nListenStream=${await loopback()}\nSocketProtocol=mptcp\nTriggerLimitBurst=0\n`,
      'pong.service': `[Unit]\nStartLimitBurst=0\n[Service]\nExecStart=/usr/bin/python3 ${join(HELPERS, 'one-shot-server.py')}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('pong.socket')?.listen[0]?.port as number;
    const result = await clientSeq(port, 100);
    console.log(
      `100 sequential re-triggered MPTCP connections: ${result.seconds.toFixed(2)} s, median ${result.median_ms.toFixed(1)} ms per connection`,
    );
    expect(result.errors).toEqual([]);
    expect(result.answered).toBe(100);
    await waitFor(() => engine?.socket('pong.socket')?.state === 'listening', 5000, 'socket back to listening');
    const svc = engine.status().services.find((s) => s.name === 'pong.service');
    expect(svc?.starts).toBe(100);
    expect(engine.socket('pong.socket')?.counters.triggers).toBe(100);
  }, 60_000);

  it('a crash-looping service trips the trigger limit: socket failed with trigger-limit-hit', async () => {
    const dir = unitDir({
      'crash.socket': `[Socket]\nListenStream=${await loopback()}\nTriggerLimitIntervalSec=1h\nTriggerLimitBurst=5\n`,
      'crash.service': '[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=/bin/false\n',
    });
    const warnings: string[] = [];
    engine = new ActivationEngine({
      logger: { debug() {}, info() {}, error() {}, warn: (m, f) => warnings.push(`${f?.unit ?? ''}: ${m}`) },
    });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('crash.socket')?.listen[0]?.port as number;
    const states: string[] = [];
    engine.on('socket-state', (e) => states.push(`${e.state}/${e.result}`));
    const client = connectOnce(port); // never answered: the service dies without accepting
    await waitFor(() => engine?.socket('crash.socket')?.state === 'failed', 60_000, 'socket to fail');
    expect(engine.socket('crash.socket')).toMatchObject({
      state: 'failed',
      result: 'trigger-limit-hit',
      counters: { triggers: 5 },
    });
    expect(warnings).toContain('crash.socket: Trigger limit hit, refusing further activation.');
    expect(states.at(-1)).toBe('failed/trigger-limit-hit');
    expect(engine.socket('crash.socket')?.listen).toEqual([]);
    const r = await client;
    expect(r.data).toBe('');
    // Not connectable any more.
    expect((await connectOnce(port)).error).toBe('ECONNREFUSED');
  });

  it("the service's start limit (default burst 5) fails the socket with service-start-limit-hit", async () => {
    const dir = unitDir({
      'sl.socket': `[Socket]\nListenStream=${await loopback()}\n`,
      // an interval far longer than the test: the limit counts starts, however slow the machine
      'sl.service': '[Unit]\nStartLimitIntervalSec=1h\n[Service]\nExecStart=/bin/false\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('sl.socket')?.listen[0]?.port as number;
    void connectOnce(port);
    await waitFor(() => engine?.socket('sl.socket')?.state === 'failed', 60_000, 'socket to fail');
    expect(engine.socket('sl.socket')?.result).toBe('service-start-limit-hit');
    const svc = engine.status().services.find((s) => s.name === 'sl.service');
    // 257 keeps the failure of the last run (exit-code) as the service's result: fixtures/v257/start-limit.
    expect(svc).toMatchObject({ state: 'failed', result: 'exit-code', starts: 5 });
  });

  it('MaxConnections=4 with 50 concurrent clients: exactly 46 closed, service continues, fds back to baseline', async () => {
    const dir = unitDir({
      'hold.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\nMaxConnections=4\n`,
      'hold@.service': "[Service]\nExecStart=/bin/sh -c 'echo hello; read line; echo bye'\nStandardInput=socket\n",
    });
    const warnings: string[] = [];
    engine = new ActivationEngine({ logger: { debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) } });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('hold.socket')?.listen[0]?.port as number;
    await sleep(50);
    // One connection first: the Accept=yes fast path (accept-fast.ts) opens its thread's epoll and
    // eventfd on first use, once per process; they belong in the baseline.
    const first = net.connect({ port, host: '127.0.0.1' });
    await new Promise((resolve) => first.once('data', resolve));
    first.end('x\n');
    await waitFor(() => engine?.socket('hold.socket')?.connections === 0, 60_000, 'the first instance to exit');
    first.destroy();
    const baseline = fdCount();

    // 50 clients at once; each waits for a greeting or for the close.
    const clients = Array.from({ length: 50 }, () => {
      const c = net.connect({ port, host: '127.0.0.1' });
      const greeted = new Promise<boolean>((resolve) => {
        c.once('data', () => resolve(true));
        c.once('close', () => resolve(false));
        c.once('error', () => resolve(false));
      });
      return { c, greeted };
    });
    const greeted = await Promise.all(clients.map((x) => x.greeted));
    expect(greeted.filter(Boolean).length).toBe(4);
    // The Accept=yes fast path reports in batches: the counts may follow the clients by a few ms.
    await waitFor(
      () => {
        const c = engine?.socket('hold.socket')?.counters;
        return c !== undefined && c.accepted + c.refused === 51;
      },
      10_000,
      'every connection counted',
    );
    expect(engine.socket('hold.socket')).toMatchObject({ connections: 4, counters: { accepted: 5, refused: 46 } });
    expect(warnings.filter((w) => w === 'Too many incoming connections (4), dropping connection.').length).toBe(46);

    // Let the four go: instances exit, slots are released, the socket still serves.
    for (const [i, x] of clients.entries()) if (greeted[i]) x.c.end('done\n');
    await waitFor(() => engine?.socket('hold.socket')?.connections === 0, 60_000, 'instances to exit');
    for (const x of clients) x.c.destroy();
    const later = net.connect({ port, host: '127.0.0.1' });
    const hello = await new Promise<string>((resolve) => later.once('data', (d) => resolve(d.toString())));
    expect(hello).toBe('hello\n');
    later.end('x\n');
    await waitFor(() => engine?.socket('hold.socket')?.connections === 0, 60_000, 'last instance to exit');
    later.destroy();
    await waitFor(() => fdCount() === baseline, 60_000, `fd count back to ${baseline}`);
    expect(fdCount()).toBe(baseline);
    expect(engine.socket('hold.socket')?.state).toBe('listening');
  });
});
