/**
 * How Accept=yes throughput and daemon RSS grow with the number of socket units (1…1,000, load
 * spread over all of them) and with the number of concurrent clients (1…256, one unit; the
 * systemd-socket-activate reference measured at the same points).
 */
import { join } from 'node:path';
import { socketActivate } from '../lib/baseline.js';
import { freePort, missing } from '../lib/caps.js';
import { daemonAvailable, startDaemon } from '../lib/daemon.js';
import { rssBytes } from '../lib/proc.js';
import { Skip, type JsonObject } from '../lib/result.js';
import { sampleRss } from '../lib/rss.js';
import { runLoad } from '../lib/runload.js';
import { lineChart } from '../report/svg.js';
import { median, round } from '../lib/stats.js';
import type { Context, Scenario } from '../lib/scenario.js';
import { UNIT_HOST, UNIT_PORT_BASE, writeManyAcceptUnits } from './daemon.js';

interface Point {
  x: number;
  perSecond: number;
  idleRssMB: number;
  peakRssMB: number;
  readyMs: number;
}

async function unitsPoint(ctx: Context, n: number, seconds: number): Promise<Point> {
  const per: number[] = [];
  const idle: number[] = [];
  const peak: number[] = [];
  const ready: number[] = [];
  const dir = join(ctx.tmp, `units-${n}`);
  writeManyAcceptUnits(join(dir, 'units'), n, { mptcp: false });
  for (let rep = 0; rep < ctx.reps; rep++) {
    const d = await startDaemon({ units: join(dir, 'units'), control: join(dir, 'control.sock') });
    try {
      ready.push(d.readyMs);
      idle.push(rssBytes(d.proc.pid) / 2 ** 20);
      const rss = sampleRss(d.proc.pid);
      const ports = n === 1 ? `${UNIT_PORT_BASE}` : `${UNIT_PORT_BASE}-${UNIT_PORT_BASE + n - 1}`;
      const r = await runLoad({ host: UNIT_HOST, port: ports, concurrency: 8, seconds });
      peak.push(rss.stop().peakMB);
      per.push(r.perSecond);
    } finally {
      await d.stop();
    }
  }
  const p = { x: n, perSecond: median(per), idleRssMB: median(idle), peakRssMB: median(peak), readyMs: median(ready) };
  ctx.log(
    `${n} units: ${round(p.perSecond, 0)} conn/s, idle RSS ${round(p.idleRssMB, 1)} MB, peak ${round(p.peakRssMB, 1)} MB, ready ${round(p.readyMs, 0)} ms`,
  );
  return p;
}

async function clientsPoint(
  ctx: Context,
  c: number,
  seconds: number,
  withReference: boolean,
): Promise<{ ours: Point; theirs: number }> {
  const per: number[] = [];
  const theirs: number[] = [];
  const idle: number[] = [];
  const peak: number[] = [];
  const dir = join(ctx.tmp, `clients-${c}`);
  writeManyAcceptUnits(join(dir, 'units'), 1, { mptcp: false, maxConnections: 1024 });
  for (let rep = 0; rep < ctx.reps; rep++) {
    const d = await startDaemon({ units: join(dir, 'units'), control: join(dir, 'control.sock') });
    try {
      idle.push(rssBytes(d.proc.pid) / 2 ** 20);
      const rss = sampleRss(d.proc.pid);
      const r = await runLoad({ host: UNIT_HOST, port: UNIT_PORT_BASE, concurrency: c, seconds });
      peak.push(rss.stop().peakMB);
      per.push(r.perSecond);
    } finally {
      await d.stop();
    }
    if (withReference) {
      const port = await freePort();
      const sa = await socketActivate(`127.0.0.1:${port}`, ['--accept', '--inetd'], ['/bin/cat']);
      try {
        theirs.push((await runLoad({ port, concurrency: c, seconds })).perSecond);
      } finally {
        await sa.stop();
      }
    }
  }
  const ours = { x: c, perSecond: median(per), idleRssMB: median(idle), peakRssMB: median(peak), readyMs: 0 };
  const ref = theirs.length ? median(theirs) : Number.NaN;
  ctx.log(
    `${c} clients: ${round(ours.perSecond, 0)} conn/s (systemd-socket-activate ${round(ref, 0)}), peak RSS ${round(ours.peakRssMB, 1)} MB`,
  );
  return { ours, theirs: ref };
}

const asJson = (p: Point): JsonObject => ({
  x: p.x,
  perSecond: round(p.perSecond, 1),
  idleRssMB: round(p.idleRssMB, 1),
  peakRssMB: round(p.peakRssMB, 1),
  readyMs: round(p.readyMs, 1),
});

export const scaling: Scenario = {
  name: 'scaling',
  title: 'Scaling: Accept=yes throughput and daemon RSS vs socket units and concurrent clients',
  needs: ['mptcp', 'python3'],
  async run(ctx) {
    if (!daemonAvailable()) throw new Skip('apps/mptcpd-lite is not built (dist/cli.cjs missing)');
    const seconds = ctx.quick ? 1.5 : 3;
    const unitCounts = ctx.quick ? [1, 10, 100] : [1, 10, 100, 1000];
    const clientCounts = ctx.quick ? [1, 16, 256] : [1, 2, 4, 8, 16, 32, 64, 128, 256];
    const withReference = missing(['systemd-socket-activate']) === null;
    const byUnits: Point[] = [];
    for (const n of unitCounts) byUnits.push(await unitsPoint(ctx, n, seconds));
    const byClients: Array<{ ours: Point; theirs: number }> = [];
    for (const c of clientCounts) byClients.push(await clientsPoint(ctx, c, seconds, withReference));
    const last = byUnits[byUnits.length - 1]!;
    const c256 = byClients[byClients.length - 1]!.ours;
    const pts = (xs: Point[], f: (p: Point) => number): Array<[number, number]> => xs.map((p) => [p.x, round(f(p), 2)]);
    return {
      summary: {
        scaling: {
          units: byUnits.map(asJson),
          clients: byClients.map((b) => ({ ...asJson(b.ours), systemdPerSecond: round(b.theirs, 1) })),
        },
      },
      metrics: [
        {
          key: 'scaling.throughputAtMaxUnits',
          label: `Accept=yes throughput with ${last.x} units (load over all)`,
          value: round(last.perSecond, 0),
          unit: 'conn/s',
          how: `8 concurrent clients spread round-robin over every unit's port, ${seconds} s per point, median of ${ctx.reps}; /bin/cat service.`,
        },
        {
          key: 'scaling.peakRssAtMaxUnits',
          label: `Daemon peak RSS under load, ${last.x} units`,
          value: round(last.peakRssMB, 1),
          unit: 'MB',
        },
        {
          key: 'scaling.throughputAt256Clients',
          label: `Accept=yes throughput with ${c256.x} concurrent clients`,
          value: round(c256.perSecond, 0),
          unit: 'conn/s',
          how: `one unit, MaxConnections=1024, ${seconds} s per point, median of ${ctx.reps}.`,
        },
        {
          key: 'scaling.peakRssAt256Clients',
          label: `Daemon peak RSS, ${c256.x} concurrent clients`,
          value: round(c256.peakRssMB, 1),
          unit: 'MB',
        },
      ],
      data: { secondsPerPoint: seconds, unitCounts, clientCounts },
      charts: [
        {
          file: 'scaling-units.svg',
          title: 'Throughput vs socket units',
          svg: lineChart({
            title: 'Accept=yes throughput vs number of socket units',
            xLabel: 'socket units (log scale)',
            yLabel: 'connections per second',
            logX: true,
            markers: true,
            series: [{ name: 'mptcpd-lite', points: pts(byUnits, (p) => p.perSecond) }],
          }),
        },
        {
          file: 'scaling-units-rss.svg',
          title: 'RSS vs socket units',
          svg: lineChart({
            title: 'Daemon RSS vs number of socket units',
            xLabel: 'socket units (log scale)',
            yLabel: 'MB',
            logX: true,
            markers: true,
            series: [
              { name: 'idle', points: pts(byUnits, (p) => p.idleRssMB) },
              { name: 'peak under load', points: pts(byUnits, (p) => p.peakRssMB) },
            ],
          }),
        },
        {
          file: 'scaling-clients.svg',
          title: 'Throughput vs concurrent clients',
          svg: lineChart({
            title: 'Accept=yes throughput vs concurrent clients',
            xLabel: 'concurrent clients (log scale)',
            yLabel: 'connections per second',
            logX: true,
            markers: true,
            series: [
              {
                name: 'mptcpd-lite',
                points: byClients.map((b) => [b.ours.x, round(b.ours.perSecond, 1)] as [number, number]),
              },
              ...(withReference
                ? [
                    {
                      name: 'systemd-socket-activate',
                      points: byClients.map((b) => [b.ours.x, round(b.theirs, 1)] as [number, number]),
                    },
                  ]
                : []),
            ],
          }),
        },
        {
          file: 'scaling-clients-rss.svg',
          title: 'RSS vs concurrent clients',
          svg: lineChart({
            title: 'Daemon RSS vs concurrent clients',
            xLabel: 'concurrent clients (log scale)',
            yLabel: 'MB',
            logX: true,
            markers: true,
            series: [
              {
                name: 'idle',
                points: byClients.map((b) => [b.ours.x, round(b.ours.idleRssMB, 1)] as [number, number]),
              },
              {
                name: 'peak under load',
                points: byClients.map((b) => [b.ours.x, round(b.ours.peakRssMB, 1)] as [number, number]),
              },
            ],
          }),
        },
      ],
      notes: [],
    };
  },
};
