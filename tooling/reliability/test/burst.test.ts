/**
 * Burst: 10,000 connections at an Accept=yes socket with MaxConnections=64 and
 * MaxConnectionsPerSource=16, from 8 source addresses, 200 in flight. The daemon must stay up, its
 * RSS bounded, every refused connection closed cleanly (no hang), the limits respected, and its fd
 * count back to the baseline afterwards.
 */
import { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@mptcp/bench/lib/caps';
import { fdCount, rssBytes } from '@mptcp/bench/lib/proc';
import { writeAcceptUnit } from '@mptcp/bench/lib/units';
import { cleanup, scratch, startFixture, until, type Fixture } from '../src/fixture.js';
import { report, requireCaps } from '../src/require.js';

const TOTAL = 10_000;
const IN_FLIGHT = 200;
const SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${10 + i}`);
/** Set per test from a free port (a fixed one collides with anything left on it). */
let PORT = 0;

type Outcome = 'served' | 'closed' | 'reset' | 'timeout' | 'connect-error';

function hit(localAddress: string, holdMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = new Socket();
    let got = 0;
    let done = false;
    const finish = (o: Outcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish('timeout'), 10_000);
    let connected = false;
    s.on('data', (d: Buffer) => (got += d.length));
    s.on('error', () => finish(connected ? 'reset' : 'connect-error'));
    s.on('close', () => finish(got > 0 ? 'served' : 'closed'));
    s.connect({ host: '127.0.0.1', port: PORT, localAddress }, () => {
      connected = true;
      setTimeout(() => {
        if (!s.destroyed) s.end('x');
      }, holdMs);
    });
  });
}

describe('burst', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(cleanup));

  it('10,000 connections against MaxConnections=64 / MaxConnectionsPerSource=16', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = scratch('burst');
    dirs.push(dir);
    PORT = await freePort();
    writeAcceptUnit(`${dir}/units`, { name: 'burst', listen: `127.0.0.1:${PORT}`, exec: '/bin/cat', maxConnections: 64, maxConnectionsPerSource: 16 });
    const fx: Fixture = await startFixture(dir);
    try {
      const pid = fx.daemon.proc.pid;
      // warm-up: the first connections may open what the daemon opens lazily
      for (const src of SOURCES.slice(0, 2)) expect(await hit(src, 0)).toBe('served');
      await until(async () => (await fx.status()).sockets?.[0]?.connections === 0, 5000, 'warm-up instances to exit');
      const fdBase = fdCount(pid);
      const rssBase = rssBytes(pid);
      let rssPeak = rssBase;
      let maxConns = 0;
      const sampler = setInterval(() => {
        try {
          rssPeak = Math.max(rssPeak, rssBytes(pid));
        } catch {
          /* checked below */
        }
        void fx.status().then(
          (s) => (maxConns = Math.max(maxConns, s.sockets?.[0]?.connections ?? 0)),
          () => undefined,
        );
      }, 100);
      const outcomes: Record<Outcome, number> = { served: 0, closed: 0, reset: 0, timeout: 0, 'connect-error': 0 };
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < TOTAL) {
            const i = next++;
            outcomes[await hit(SOURCES[i % SOURCES.length]!, 20)]++;
          }
        }),
      );
      const burstSeconds = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      const alive = fx.daemon.proc.child.exitCode === null && fx.daemon.proc.child.signalCode === null;
      expect(alive).toBe(true);
      const st = await fx.status();
      const sock = st.sockets?.[0];
      // every instance goes away, and with it the fds
      await until(async () => (await fx.status()).sockets?.[0]?.connections === 0, 15_000, 'instances to exit');
      const fdAfter = await until(() => fdCount(pid) <= fdBase, 10_000, `fd count back to ${fdBase}`).then(
        () => fdCount(pid),
        () => fdCount(pid),
      );
      const rssAfter = rssBytes(pid);
      report(
        'burst',
        `${TOTAL} connections, ${IN_FLIGHT} in flight from ${SOURCES.length} sources, Accept=yes /bin/cat, MaxConnections=64, MaxConnectionsPerSource=16`,
        `daemon up; every connection ended (${outcomes.timeout} hung); max ${maxConns} concurrent instances; fds ${fdBase} → ${fdAfter}`,
        {
          seconds: burstSeconds,
          served: outcomes.served,
          refusedClosed: outcomes.closed + outcomes.reset,
          connectErrors: outcomes['connect-error'],
          daemonRefused: Number(sock?.refused ?? -1),
          rssBaseMB: rssBase / 2 ** 20,
          rssPeakMB: rssPeak / 2 ** 20,
          rssAfterMB: rssAfter / 2 ** 20,
        },
      );
      expect(outcomes.timeout).toBe(0);
      expect(outcomes['connect-error']).toBe(0);
      expect(outcomes.served + outcomes.closed + outcomes.reset).toBe(TOTAL);
      expect(outcomes.served).toBeGreaterThan(0);
      expect(outcomes.closed + outcomes.reset).toBeGreaterThan(0); // the limits engaged
      expect(maxConns).toBeLessThanOrEqual(64);
      expect(fdAfter).toBeLessThanOrEqual(fdBase);
      expect(rssPeak - rssBase).toBeLessThan(150 * 2 ** 20);
      expect(rssAfter - rssBase).toBeLessThan(50 * 2 ** 20);
    } finally {
      await fx.stop();
    }
  }, 300_000); // a safety net for a loaded machine: 10,000 connections take ~60 s on 2 idle cores

  it('one source is held to MaxConnectionsPerSource=16', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = scratch('persource');
    dirs.push(dir);
    PORT = await freePort();
    writeAcceptUnit(`${dir}/units`, { name: 'ps', listen: `127.0.0.1:${PORT}`, exec: '/bin/cat', maxConnections: 64, maxConnectionsPerSource: 16 });
    const fx = await startFixture(dir);
    try {
      let max = 0;
      const sampler = setInterval(() => {
        void fx.status().then(
          (s) => (max = Math.max(max, s.sockets?.[0]?.connections ?? 0)),
          () => undefined,
        );
      }, 50);
      const outcomes = await Promise.all(Array.from({ length: 48 }, () => hit('127.0.0.99', 500)));
      clearInterval(sampler);
      const served = outcomes.filter((o) => o === 'served').length;
      report('burst-per-source', '48 simultaneous connections from one source, each held 500 ms', `at most ${max} instances at once`, { served, refused: 48 - served });
      expect(outcomes.filter((o) => o === 'timeout')).toEqual([]);
      expect(served).toBeGreaterThanOrEqual(16);
      expect(served).toBeLessThan(48);
      expect(max).toBeLessThanOrEqual(16);
    } finally {
      await fx.stop();
    }
  });
});
