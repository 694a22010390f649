/**
 * Burst: 10,000 connections at an Accept=yes socket with MaxConnections=64 and
 * MaxConnectionsPerSource=16, from 8 source addresses, 200 in flight. The daemon must stay up, its
 * RSS bounded, every refused connection closed cleanly (no hang), the limits respected exactly, and
 * its fd count back to the baseline afterwards.
 *
 * Deterministic by construction: the service (/bin/cat) holds its connection until the test
 * releases it (the client ends its side), so the served connections of a round are all alive when
 * the rest arrive. Each round's counts are therefore exact — whatever the machine's speed.
 */
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '@mptcp/testkit/net';
import { fdCount, rssBytes } from '@mptcp/testkit/proc';
import { writeAcceptUnit } from '@mptcp/testkit/units';
import { until } from '../src/fixture.js';
import { scratchDirs, withFixture } from './helpers/case.js';
import { report, requireCaps } from '../src/require.js';

const TOTAL = 10_000;
const IN_FLIGHT = 200;
const MAX = 64;
const PER_SOURCE = 16;
const SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${10 + i}`);
/** Safety net per connection only (a hang is a failure, reported as `timeout`), never a pass condition. */
const SAFETY_MS = 120_000;

type Outcome = 'served' | 'refused' | 'timeout' | 'connect-error';

/** A connection whose outcome is known while it is still held open. */
interface Held {
  source: string;
  outcome: Promise<Outcome>;
  /** Ends the client's side (the instance's cat sees EOF and exits); resolves when the socket closed. */
  release(): Promise<void>;
}

/**
 * Connects from `localAddress` and sends one byte. `served` once the instance echoes it back (the
 * connection then stays open until release()); `refused` when the daemon closes the connection
 * without an instance (close or reset before any data).
 */
function open(port: number, localAddress: string): Held {
  const s = new Socket();
  let got = 0;
  let connected = false;
  let settle!: (o: Outcome) => void;
  const outcome = new Promise<Outcome>((r) => (settle = r));
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  const timer = setTimeout(() => {
    settle('timeout');
    s.destroy();
  }, SAFETY_MS);
  s.on('data', (d: Buffer) => {
    got += d.length;
    settle('served');
  });
  s.on('error', () => settle(connected ? 'refused' : 'connect-error'));
  s.on('close', () => {
    clearTimeout(timer);
    settle(got > 0 ? 'served' : 'refused');
  });
  s.connect({ host: '127.0.0.1', port, localAddress }, () => {
    connected = true;
    s.write('x');
  });
  return {
    source: localAddress,
    outcome,
    release: async () => {
      if (!s.destroyed) s.end();
      await closed;
    },
  };
}

/** Opens `sources.length` connections at once and waits for every outcome (nothing is released). */
async function round(port: number, sources: readonly string[]): Promise<{ held: Held[]; outcomes: Outcome[] }> {
  const held = sources.map((src) => open(port, src));
  return { held, outcomes: await Promise.all(held.map((h) => h.outcome)) };
}

describe('burst', () => {
  const fresh = scratchDirs();

  it('10,000 connections against MaxConnections=64 / MaxConnectionsPerSource=16', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('burst');
    const port = await freePort();
    writeAcceptUnit(`${dir}/units`, {
      name: 'burst',
      listen: `127.0.0.1:${port}`,
      exec: '/bin/cat',
      maxConnections: MAX,
      maxConnectionsPerSource: PER_SOURCE,
    });
    await withFixture(dir, async (fx) => {
      const pid = fx.daemon.proc.pid;
      const sock = async (): Promise<{ connections: number; refused: number }> => {
        const s = (await fx.status()).sockets?.[0];
        if (!s) throw new Error('no socket in the status reply');
        return s;
      };
      // warm-up: the first connections may open what the daemon opens lazily
      const warm = await round(port, SOURCES.slice(0, 2));
      expect(warm.outcomes).toEqual(['served', 'served']);
      await Promise.all(warm.held.map((h) => h.release()));
      await until(async () => (await sock()).connections === 0, 60_000, 'warm-up instances to exit');
      const fdBase = fdCount(pid);
      const rssBase = rssBytes(pid);
      let rssPeak = rssBase;
      const sampler = setInterval(() => {
        try {
          rssPeak = Math.max(rssPeak, rssBytes(pid));
        } catch {
          /* checked below */
        }
      }, 100);
      const totals: Record<Outcome, number> = { served: 0, refused: 0, timeout: 0, 'connect-error': 0 };
      const refusedBefore = (await sock()).refused;
      const bad: string[] = [];
      const t0 = performance.now();
      for (let r = 0; r < TOTAL / IN_FLIGHT; r++) {
        // Even rounds: 4 sources × 50 — the per-source limit decides (exactly 16 each, 64 in all).
        // Odd rounds: 8 sources × 25 — MaxConnections decides (exactly 64, none above 16).
        const srcs = r % 2 === 0 ? SOURCES.slice((r / 2) % 2 === 0 ? 0 : 4, (r / 2) % 2 === 0 ? 4 : 8) : SOURCES;
        const { held, outcomes } = await round(
          port,
          Array.from({ length: IN_FLIGHT }, (_, i) => srcs[i % srcs.length]!),
        );
        for (const o of outcomes) totals[o]++;
        const servedBy = new Map<string, number>();
        outcomes.forEach(
          (o, i) => o === 'served' && servedBy.set(held[i]!.source, (servedBy.get(held[i]!.source) ?? 0) + 1),
        );
        const served = outcomes.filter((o) => o === 'served').length;
        // On the accept thread (Accept=yes fast path) the daemon hears of its instances in batches
        // (at most 10 ms late): wait for the count to settle, never past the limit.
        let conns = (await sock()).connections;
        if (served === MAX && conns < MAX)
          conns = await until(
            async () => {
              const c = (await sock()).connections;
              return c >= MAX ? c : undefined;
            },
            10_000,
            `round ${r}'s ${MAX} instances in the status`,
          ).catch(async () => (await sock()).connections);
        const perSource = [...servedBy.values()];
        if (served !== MAX || conns !== MAX) bad.push(`round ${r}: ${served} served, ${conns} instances (want ${MAX})`);
        if (perSource.some((n) => n > PER_SOURCE))
          bad.push(`round ${r}: a source served ${Math.max(...perSource)} (> ${PER_SOURCE})`);
        if (srcs.length === 4 && (perSource.length !== 4 || perSource.some((n) => n !== PER_SOURCE)))
          bad.push(`round ${r}: per source ${perSource.join(',')} (want 16 each)`);
        // release every held connection; the next round starts from zero instances
        await Promise.all(held.map((h) => h.release()));
        await until(async () => (await sock()).connections === 0, 60_000, `round ${r}'s instances to exit`);
      }
      const burstSeconds = (performance.now() - t0) / 1000;
      clearInterval(sampler);
      const alive = fx.daemon.proc.child.exitCode === null && fx.daemon.proc.child.signalCode === null;
      expect(alive).toBe(true);
      const daemonRefused = (await sock()).refused - refusedBefore;
      // every instance went away, and with it the fds
      const fdAfter = await until(() => fdCount(pid) <= fdBase, 30_000, `fd count back to ${fdBase}`).then(
        () => fdCount(pid),
        () => fdCount(pid),
      );
      const rssAfter = rssBytes(pid);
      report(
        'burst',
        `${TOTAL} connections in rounds of ${IN_FLIGHT} held at once from ${SOURCES.length} sources, Accept=yes /bin/cat, MaxConnections=${MAX}, MaxConnectionsPerSource=${PER_SOURCE}`,
        `daemon up; every connection ended (${totals.timeout} hung); ${bad.length} rounds off the limits; fds ${fdBase} → ${fdAfter}`,
        {
          seconds: burstSeconds,
          served: totals.served,
          refused: totals.refused,
          connectErrors: totals['connect-error'],
          daemonRefused,
          rssBaseMB: rssBase / 2 ** 20,
          rssPeakMB: rssPeak / 2 ** 20,
          rssAfterMB: rssAfter / 2 ** 20,
        },
      );
      expect(bad).toEqual([]);
      expect(totals.timeout).toBe(0);
      expect(totals['connect-error']).toBe(0);
      expect(totals.served).toBe((TOTAL / IN_FLIGHT) * MAX);
      expect(totals.refused).toBe(TOTAL - (TOTAL / IN_FLIGHT) * MAX);
      expect(daemonRefused).toBe(totals.refused);
      expect(fdAfter).toBeLessThanOrEqual(fdBase);
      expect(rssPeak - rssBase).toBeLessThan(150 * 2 ** 20);
      expect(rssAfter - rssBase).toBeLessThan(50 * 2 ** 20);
    });
  }, 900_000); // a safety net for a loaded machine, not a speed target

  it('one source is held to MaxConnectionsPerSource=16', async (ctx) => {
    requireCaps(ctx, ['daemon']);
    const dir = fresh('persource');
    const port = await freePort();
    writeAcceptUnit(`${dir}/units`, {
      name: 'ps',
      listen: `127.0.0.1:${port}`,
      exec: '/bin/cat',
      maxConnections: MAX,
      maxConnectionsPerSource: PER_SOURCE,
    });
    await withFixture(dir, async (fx) => {
      // 48 connections from one source, all held open until every outcome is known
      const { held, outcomes } = await round(
        port,
        Array.from({ length: 48 }, () => '127.0.0.99'),
      );
      const served = outcomes.filter((o) => o === 'served').length;
      // The Accept=yes fast path reports instances and refusals in batches (at most 10 ms late).
      const settled = (x: { connections?: number; refused?: number } | undefined): boolean =>
        x?.connections === served && Number(x?.refused) >= 48 - served;
      const st = await until(
        async () => {
          const x = (await fx.status()).sockets?.[0];
          return settled(x) ? x : undefined;
        },
        10_000,
        'the status to count every outcome',
      ).catch(async () => (await fx.status()).sockets?.[0]);
      report(
        'burst-per-source',
        '48 simultaneous connections from one source, each held until all 48 were answered',
        `${st?.connections} instances at once`,
        { served, refused: 48 - served, daemonRefused: Number(st?.refused) },
      );
      expect(outcomes.filter((o) => o === 'timeout' || o === 'connect-error')).toEqual([]);
      expect(served).toBe(PER_SOURCE);
      expect(st?.connections).toBe(PER_SOURCE);
      expect(st?.refused).toBe(48 - PER_SOURCE);
      await Promise.all(held.map((h) => h.release()));
      await until(async () => (await fx.status()).sockets?.[0]?.connections === 0, 60_000, 'instances to exit');
    });
  }, 300_000);
});
