/**
 * Socket activation through mptcpd-lite (the @mptcp/activation engine in its daemon) against
 * systemd-socket-activate, in one run:
 *  - Accept=yes: connections served per second, same trivial service (`/bin/cat` echoing 1 byte).
 * Accept=no (steady state vs standalone, cold first byte) is the `acceptno` scenario (accept-no.ts).
 */
import { join } from 'node:path';
import { LOCALE_VARS } from '@mptcp/activation';
import { socketActivate } from '../lib/baseline.js';
import { freePort } from '../lib/caps.js';
import { daemonAvailable, startDaemon } from '../lib/daemon.js';
import { cpuSeconds } from '../lib/proc.js';
import { Skip } from '../lib/result.js';
import { runLoad } from '../lib/runload.js';
import { barChart } from '../report/svg.js';
import { median, round, sampled } from '../lib/stats.js';
import { writeAcceptUnit } from '../lib/units.js';
import type { Context, Scenario } from '../lib/scenario.js';
import { type SpawnLatency, traceSpawns, traceUnavailable } from './spawn-trace.js';

const CONCURRENCY = 8;

/**
 * The locale variables mptcpd-lite hands its services from its own environment (as systemd does from
 * locale.conf; @mptcp/activation environment.ts LOCALE_VARS). systemd-socket-activate passes only
 * a few fixed variables, so without `-E` the two /bin/cat differ: with LANG=C.UTF-8 cat's
 * setlocale() opens ~20 locale files (~200 µs of the service's start, measured with tracefs:
 * exec → first read 659 vs 451 µs). The same service means the same environment: both get them,
 * as `-E NAME=value` for every locale variable the daemon (started with our environment) passes on.
 */
export function localeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return LOCALE_VARS.flatMap((name) => (env[name] !== undefined ? ['-E', `${name}=${env[name]}`] : []));
}

interface AcceptYes {
  ours: number[];
  theirs: number[];
  /** Daemon (or systemd-socket-activate) CPU per served connection, µs, per run. */
  oursCpuUs: number[];
  theirsCpuUs: number[];
}

async function acceptYes(ctx: Context, seconds: number, concurrency: number): Promise<AcceptYes> {
  const r0: AcceptYes = { ours: [], theirs: [], oursCpuUs: [], theirsCpuUs: [] };
  // 5 interleaved pairs: fork/exec rates swing with whatever else the machine is doing
  const reps = ctx.quick ? ctx.reps : Math.max(ctx.reps, 5);
  const measure = async (pid: number, port: number): Promise<{ perSecond: number; cpuUs: number; line: string }> => {
    const cpu0 = cpuSeconds(pid);
    const r = await runLoad({ port, concurrency, seconds });
    const served = Math.max(1, r.served);
    return {
      perSecond: r.perSecond,
      cpuUs: ((cpuSeconds(pid) - cpu0) * 1e6) / served,
      line: `(dropped ${r.dropped}, failed ${r.failed})`,
    };
  };
  for (let rep = 0; rep < reps; rep++) {
    for (const who of rep % 2 === 0 ? (['theirs', 'ours'] as const) : (['ours', 'theirs'] as const)) {
      const port = await freePort();
      if (who === 'theirs') {
        const sa = await socketActivate(`127.0.0.1:${port}`, ['--accept', '--inetd', ...localeFlags()], ['/bin/cat']);
        try {
          const m = await measure(sa.pid, port);
          r0.theirs.push(m.perSecond);
          r0.theirsCpuUs.push(m.cpuUs);
          ctx.log(
            `Accept=yes ×${concurrency} systemd-socket-activate: ${round(m.perSecond, 0)}/s, ${round(m.cpuUs, 0)} µs CPU/conn ${m.line}`,
          );
        } finally {
          await sa.stop();
        }
      } else {
        const units = join(ctx.tmp, `ay-${concurrency}-${rep}`, 'units');
        writeAcceptUnit(units, { name: 'echo', listen: `127.0.0.1:${port}`, exec: '/bin/cat' });
        const d = await startDaemon({ units, control: join(ctx.tmp, `ay-${concurrency}-${rep}`, 'control.sock') });
        try {
          const m = await measure(d.proc.pid, port);
          r0.ours.push(m.perSecond);
          r0.oursCpuUs.push(m.cpuUs);
          ctx.log(
            `Accept=yes ×${concurrency} mptcpd-lite: ${round(m.perSecond, 0)}/s, ${round(m.cpuUs, 0)} µs CPU/conn ${m.line}`,
          );
        } finally {
          await d.stop();
        }
      }
    }
  }
  return r0;
}

/**
 * Medians (µs) of one traced run, the whole cycle of a connection with one client: accept → fork
 * (and its part after the hand-off to another thread), fork → exec, accept → exec, the service's run
 * (exec → exit) and exit → next accept (the client sees the close and connects again).
 */
type LatencySplit = {
  connections: number;
  acceptToFork: number;
  /** null: the activator forks on its main thread. */
  handoffToFork: number | null;
  forkToExec: number;
  acceptToExec: number;
  execToExit: number | null;
  exitToAccept: number | null;
};

function split(l: SpawnLatency): LatencySplit {
  return {
    connections: l.forkToExec.length,
    acceptToFork: round(median(l.acceptToFork), 0),
    handoffToFork: l.handoffToFork.length > 0 ? round(median(l.handoffToFork), 0) : null,
    forkToExec: round(median(l.forkToExec), 0),
    acceptToExec: round(median(l.acceptToFork.map((a, i) => a + (l.forkToExec[i] ?? 0))), 0),
    execToExit: l.execToExit.length > 0 ? round(median(l.execToExit), 0) : null,
    exitToAccept: l.exitToAccept.length > 0 ? round(median(l.exitToAccept), 0) : null,
  };
}

/**
 * One extra 1-client run per activator with kernel tracepoints (spawn-trace.ts), after the measured
 * runs so that tracing costs them nothing: where the activator's share of a connection's latency goes.
 */
async function latency(ctx: Context, seconds: number): Promise<{ ours: LatencySplit; theirs: LatencySplit }> {
  let port = await freePort();
  const sa = await socketActivate(`127.0.0.1:${port}`, ['--accept', '--inetd', ...localeFlags()], ['/bin/cat']);
  let theirs: SpawnLatency;
  try {
    // Both activators warm up first (mptcpd-lite starts its accept threads with the first instance).
    await runLoad({ port, concurrency: 1, seconds: 1 });
    theirs = await traceSpawns(sa.pid, '/bin/cat', async () => void (await runLoad({ port, concurrency: 1, seconds })));
  } finally {
    await sa.stop();
  }
  port = await freePort();
  const units = join(ctx.tmp, 'ay-trace', 'units');
  writeAcceptUnit(units, { name: 'echo', listen: `127.0.0.1:${port}`, exec: '/bin/cat' });
  const d = await startDaemon({ units, control: join(ctx.tmp, 'ay-trace', 'control.sock') });
  let ours: SpawnLatency;
  try {
    await runLoad({ port, concurrency: 1, seconds: 1 });
    ours = await traceSpawns(
      d.proc.pid,
      '/bin/cat',
      async () => void (await runLoad({ port, concurrency: 1, seconds })),
    );
  } finally {
    await d.stop();
  }
  const r = { ours: split(ours), theirs: split(theirs) };
  ctx.log(
    `Accept=yes ×1 accept → exec (tracefs): mptcpd-lite ${JSON.stringify(r.ours)}, systemd-socket-activate ${JSON.stringify(r.theirs)}`,
  );
  return r;
}

export const activation: Scenario = {
  name: 'activation',
  title: 'Socket activation: mptcpd-lite vs systemd-socket-activate',
  needs: ['systemd-socket-activate', 'python3'],
  async run(ctx) {
    if (!daemonAvailable()) throw new Skip('apps/mptcpd-lite is not built (dist/cli.cjs missing)');
    const seconds = ctx.quick ? 2 : 4;
    const ay1 = await acceptYes(ctx, seconds, 1);
    const noTrace = traceUnavailable();
    const lat = noTrace === undefined ? await latency(ctx, seconds) : undefined;
    const ay = await acceptYes(ctx, seconds, CONCURRENCY);
    const s = {
      acceptYesOurs: sampled(ay.ours),
      acceptYesSystemd: sampled(ay.theirs),
    };
    const acceptYesRatio = round(s.acceptYesOurs.median / s.acceptYesSystemd.median, 3);
    const acceptYesRatio1 = round(median(ay1.ours) / median(ay1.theirs), 3);
    const cpu = {
      ours1: round(median(ay1.oursCpuUs), 0),
      theirs1: round(median(ay1.theirsCpuUs), 0),
      ours8: round(median(ay.oursCpuUs), 0),
      theirs8: round(median(ay.theirsCpuUs), 0),
    };
    return {
      summary: {
        activation: {
          acceptYesRatio,
          acceptYesRatio1,
          acceptYesPerSecond: round(s.acceptYesOurs.median, 0),
          acceptYesPerSecondSystemd: round(s.acceptYesSystemd.median, 0),
        },
      },
      metrics: [
        {
          key: 'activation.acceptYesRatio',
          label: 'Accept=yes connections/s, mptcpd-lite / systemd-socket-activate',
          value: acceptYesRatio,
          unit: '',
          goal: { op: '>=', value: 1.5 },
          how: `service /bin/cat on the connection (StandardInput=socket vs --accept --inetd; the same locale variables for both: the daemon passes its own, systemd-socket-activate gets them with -E), ${CONCURRENCY} concurrent clients each connecting, sending 1 byte and waiting for the echo, ${seconds} s per run, ${ay.ours.length} runs each, interleaved; ratio of medians. TriggerLimit and PollLimit off for mptcpd-lite (systemd-socket-activate has neither).`,
        },
        {
          key: 'activation.acceptYesRatio1',
          label: 'Accept=yes connections/s with 1 client, mptcpd-lite / systemd-socket-activate',
          value: acceptYesRatio1,
          unit: '',
          goal: { op: '>=', value: 1.5 },
          how: `as above with one client at a time, ${ay1.ours.length} runs each, interleaved; ratio of medians (${round(median(ay1.ours), 0)} vs ${round(median(ay1.theirs), 0)} conn/s).`,
        },
        {
          key: 'activation.acceptYesCpuPerConnUs',
          label: `Accept=yes daemon CPU per connection, ${CONCURRENCY} clients (systemd-socket-activate: ${cpu.theirs8} µs)`,
          value: cpu.ours8,
          unit: 'µs',
          how: `utime+stime of the daemon process (children excluded) over a run / connections served; 1 client: ${cpu.ours1} µs vs ${cpu.theirs1} µs.`,
        },
        ...(lat
          ? [
              {
                key: 'activation.acceptYesLatency1Us',
                label: `Accept=yes, 1 client: accept → exec of the service, mptcpd-lite (systemd-socket-activate: ${lat.theirs.acceptToExec} µs)`,
                value: lat.ours.acceptToExec,
                unit: 'µs',
                how: `kernel tracepoints in one extra ${seconds} s run per activator after the measured ones (accept4 returning, fork/clone by the activator, execve of /bin/cat), medians over ${lat.ours.connections} and ${lat.theirs.connections} connections: mptcpd-lite accept → clone ${lat.ours.acceptToFork} µs (${lat.ours.handoffToFork === null ? 'accept and clone on its accept thread, the Accept=yes fast path' : `of which ${lat.ours.handoffToFork} µs after handing the spawn to the libuv pool thread`}), clone → exec ${lat.ours.forkToExec} µs; systemd-socket-activate accept → fork ${lat.theirs.acceptToFork} µs, fork → exec ${lat.theirs.forkToExec} µs. The rest of the cycle (the same /bin/cat and client on both sides): exec → exit of the service ${lat.ours.execToExit ?? '?'} vs ${lat.theirs.execToExit ?? '?'} µs, exit → next accept ${lat.ours.exitToAccept ?? '?'} vs ${lat.theirs.exitToAccept ?? '?'} µs.`,
              },
            ]
          : []),
        {
          key: 'activation.acceptYesPerSecond',
          label: 'Accept=yes, mptcpd-lite',
          value: round(s.acceptYesOurs.median, 0),
          unit: 'conn/s',
        },
        {
          key: 'activation.acceptYesPerSecondSystemd',
          label: 'Accept=yes, systemd-socket-activate',
          value: round(s.acceptYesSystemd.median, 0),
          unit: 'conn/s',
        },
      ],
      data: {
        concurrency: CONCURRENCY,
        secondsPerRun: seconds,
        ...s,
        acceptYes1Ours: sampled(ay1.ours),
        acceptYes1Systemd: sampled(ay1.theirs),
        acceptYesCpuPerConnUs: cpu,
        acceptYesLatency1Us: lat ?? { skipped: noTrace ?? null },
      },
      charts: [
        {
          file: 'activation.svg',
          title: 'Activation throughput',
          svg: barChart({
            title: `Accept=yes throughput (medians of ${ay.ours.length} runs)`,
            yLabel: 'connections per second',
            series: ['reference', 'mptcpd-lite'],
            groups: [
              {
                label: 'Accept=yes, /bin/cat (ref: systemd-socket-activate)',
                values: [round(s.acceptYesSystemd.median, 0), round(s.acceptYesOurs.median, 0)],
              },
            ],
          }),
        },
      ],
      notes: noTrace === undefined ? [] : [`accept → exec latency split not measured: ${noTrace}`],
    };
  },
};
