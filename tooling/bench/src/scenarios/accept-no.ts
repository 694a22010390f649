/**
 * Accept=no through mptcpd-lite, in one run:
 *  - steady state: a Node echo service on the socket mptcpd-lite handed it vs the same script
 *    listening by itself, in 7 pairs. Both services run at once and the load alternates between
 *    them in short slices (A B B A …), so a pair's ratio compares the two under the same machine
 *    load; each pair's ratio is reported, and the worst one;
 *  - cold first byte: connect → first echoed byte when the connection starts the service, against
 *    systemd-socket-activate starting the same service, in interleaved pairs; the service writes
 *    the time it was exec'd, which splits each figure into connect → exec (the activator's share)
 *    and exec → first byte (Node's boot, the same program on both sides).
 */
import { readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../lib/caps.js';
import { control, daemonAvailable, startDaemon, type Daemon } from '../lib/daemon.js';
import { load, oneConnection } from '../lib/loadgen.js';
import { worker } from '../lib/paths.js';
import { cpuSeconds, sleep, start, type Running } from '../lib/proc.js';
import { Skip } from '../lib/result.js';
import { median, quantile, round } from '../lib/stats.js';
import { writeListenUnit } from '../lib/units.js';
import type { Context, Scenario } from '../lib/scenario.js';

const CONCURRENCY = 8;
const PAIRS = 7;

type Pair = {
  /** Connections served per second over the pair's slices. */
  activated: number;
  standalone: number;
  ratio: number;
  /** The daemon's CPU while its service was loaded, s (0: it does not poll a socket in use). */
  daemonCpuSeconds: number;
};

/** Wall clock in ms with sub-ms precision, comparable across processes (the echo service's timing file). */
const wallMs = (): number => performance.timeOrigin + performance.now();

async function steadyState(ctx: Context): Promise<Pair[]> {
  const dir = join(ctx.tmp, 'an');
  const activatedPort = await freePort();
  const standalonePort = await freePort();
  writeListenUnit(join(dir, 'units'), {
    name: 'echo',
    listen: [`127.0.0.1:${activatedPort}`],
    exec: `${process.execPath} ${worker('echo-service')}`,
  });
  // The standalone service gets its own session, as the activated one does (mptcpd-lite, like systemd,
  // calls setsid() for a service). With sched_autogroup_enabled=1 a session is a CPU-scheduling
  // group: left in the bench's session, the standalone service would share its group with the load
  // generator and win 10-40 % from that alone (measured: same script, setsid or not).
  const svc = start(process.execPath, [worker('echo-service'), '--port', String(standalonePort)], {
    detached: true,
  });
  let d: Daemon | undefined;
  try {
    await svc.waitFor(/^LISTENING/);
    d = await startDaemon({ units: join(dir, 'units'), control: join(dir, 'control.sock') });
    // The first connection activates the service; steady state is measured after it.
    const first = await oneConnection(
      { host: '127.0.0.1', ports: [activatedPort], concurrency: 1, seconds: 0, timeoutMs: 10_000 },
      activatedPort,
    );
    if (!first.ok) throw new Error(`activation failed: ${first.error ?? 'no echo'}`);
    const slice = ctx.quick ? 0.25 : 0.3;
    const slicesPerSide = ctx.quick ? 2 : 16;
    const pairs = ctx.quick ? Math.min(ctx.reps, 3) : PAIRS;
    // one warm-up slice each: JIT, the accept queues, the ephemeral port range
    for (const port of [standalonePort, activatedPort])
      await load({ host: '127.0.0.1', ports: [port], concurrency: CONCURRENCY, seconds: slice });
    const out: Pair[] = [];
    for (let p = 0; p < pairs; p++) {
      const served = { activated: 0, standalone: 0 };
      const secs = { activated: 0, standalone: 0 };
      let cpu = 0;
      // A B B A A B B A …: a linear drift of the machine's load cancels within the pair. (Loading both
      // at the same time by two generator processes was tried: ±25 % per pair under the same load,
      // the scheduler's choice among four busy processes being noisier than short alternating slices.)
      for (let i = 0; i < 2 * slicesPerSide; i++) {
        const who = (i + (i >> 1) + p) % 2 === 0 ? 'standalone' : 'activated';
        const cpu0 = who === 'activated' ? cpuSeconds(d.proc.pid) : 0;
        const r = await load({
          host: '127.0.0.1',
          ports: [who === 'activated' ? activatedPort : standalonePort],
          concurrency: CONCURRENCY,
          seconds: slice,
        });
        if (who === 'activated') cpu += cpuSeconds(d.proc.pid) - cpu0;
        served[who] += r.served;
        secs[who] += r.seconds;
      }
      const pair: Pair = {
        activated: served.activated / secs.activated,
        standalone: served.standalone / secs.standalone,
        ratio: served.activated / secs.activated / (served.standalone / secs.standalone),
        daemonCpuSeconds: round(cpu, 3),
      };
      out.push(pair);
      ctx.log(
        `Accept=no pair ${p + 1}: activated ${round(pair.activated, 0)}/s, standalone ${round(pair.standalone, 0)}/s, ratio ${round(pair.ratio, 3)} (daemon CPU ${pair.daemonCpuSeconds} s)`,
      );
    }
    return out;
  } finally {
    await d?.stop();
    await svc.stop();
  }
}

type ColdSample = {
  /** connect() call → first echoed byte, ms. */
  firstByteMs: number;
  /** connect() call → the service process's start (exec), ms. */
  toExecMs: number;
  /** service start → first echoed byte, ms (Node's boot and the service's listen). */
  execToFirstByteMs: number;
};

/** One connection: connect, send 1 byte, time the echo; the service's timing line gives the exec time. */
function coldProbe(port: number, timingFile: string): Promise<ColdSample> {
  return new Promise((resolve, reject) => {
    const t0 = wallMs();
    const s = new Socket();
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('cold probe: no echo within 10 s'));
    }, 10_000);
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`cold probe: ${e.code ?? e.message}`));
    });
    s.once('data', () => {
      const t1 = wallMs();
      clearTimeout(timer);
      s.end();
      const lines = readFileSync(timingFile, 'utf8').trim().split('\n');
      const t = JSON.parse(lines[lines.length - 1]!) as { execAt: number };
      rmSync(timingFile, { force: true });
      resolve({ firstByteMs: t1 - t0, toExecMs: t.execAt - t0, execToFirstByteMs: t1 - t.execAt });
    });
    s.connect({ host: '127.0.0.1', port }, () => s.write('x'));
  });
}

/** Resolves when no service runs and every socket is listening (polls the control socket). */
async function idle(ctl: string): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const r = (await control(ctl, 'status')) as {
      status?: { sockets?: Array<{ state: string }>; services?: Array<{ state: string; pids: number[] }> };
    };
    const st = r.status;
    if (st?.sockets?.every((s) => s.state === 'listening') && st.services?.every((s) => s.pids.length === 0)) return;
    if (Date.now() - t0 > 10_000) throw new Error(`daemon not idle after 10 s: ${JSON.stringify(st)}`);
    await sleep(20);
  }
}

async function coldPairs(ctx: Context, count: number): Promise<{ ours: ColdSample[]; theirs: ColdSample[] }> {
  const ours: ColdSample[] = [];
  const theirs: ColdSample[] = [];
  const timingFile = join(ctx.tmp, 'cold-timing.jsonl');
  const exec = [process.execPath, worker('echo-service'), '--once', '--timing-file', timingFile];
  const port = await freePort();
  const dir = join(ctx.tmp, 'cold');
  // Every probe starts the service again: without StartLimitIntervalSec=0 the sixth start within
  // 10 s would hit the default start limit (5 per 10 s) and fail the socket, as in systemd.
  writeListenUnit(join(dir, 'units'), {
    name: 'once',
    listen: [`127.0.0.1:${port}`],
    exec: exec.join(' '),
    unit: ['StartLimitIntervalSec=0'],
  });
  const ctl = join(dir, 'control.sock');
  const d = await startDaemon({ units: join(dir, 'units'), control: ctl });
  try {
    for (let i = 0; i < count; i++) {
      for (const who of i % 2 === 0 ? (['theirs', 'ours'] as const) : (['ours', 'theirs'] as const)) {
        if (who === 'theirs') {
          const saPort = await freePort();
          // systemd-socket-activate without --accept execs the service itself on the first connection
          // The service gets the environment mptcpd-lite gives its own (PATH, LANG; no
          // NODE_OPTIONS, NODE_EXTRA_CA_CERTS… from the bench's shell, which change Node's boot).
          const sa: Running = start('systemd-socket-activate', ['-l', `127.0.0.1:${saPort}`, ...exec], {
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
          });
          await sa.waitFor(/Listening on/, 5000);
          try {
            theirs.push(await coldProbe(saPort, timingFile));
          } finally {
            await sa.stop();
          }
        } else {
          // the previous instance exits after its connection: wait until the daemon has seen it and
          // the socket is listening again, so every probe is a cold activation
          await idle(ctl);
          await sleep(50); // let the status round-trips settle: the daemon is idle when the probe connects
          ours.push(await coldProbe(port, timingFile));
        }
      }
      const o = ours[ours.length - 1]!;
      const t = theirs[theirs.length - 1]!;
      ctx.log(
        `cold pair ${i + 1}: mptcpd-lite ${round(o.firstByteMs, 1)} ms (exec at +${round(o.toExecMs, 1)}), systemd-socket-activate ${round(t.firstByteMs, 1)} ms (exec at +${round(t.toExecMs, 1)})`,
      );
    }
  } finally {
    await d.stop();
  }
  return { ours, theirs };
}

export const acceptNo: Scenario = {
  name: 'acceptno',
  title: 'Accept=no through mptcpd-lite: steady state vs standalone, cold first byte vs systemd-socket-activate',
  needs: ['systemd-socket-activate'],
  async run(ctx) {
    if (!daemonAvailable()) throw new Skip('apps/mptcpd-lite is not built (dist/cli.js missing)');
    const pairs = await steadyState(ctx);
    const coldCount = ctx.quick ? 3 : Math.max(15, 5 * ctx.reps);
    const cold = await coldPairs(ctx, coldCount);
    const ratios = pairs.map((p) => round(p.ratio, 3));
    const worst = Math.min(...ratios);
    const med = (xs: ColdSample[], k: keyof ColdSample): number => round(median(xs.map((x) => x[k])), 1);
    const pairDiff = cold.ours.map((o, i) => o.firstByteMs - cold.theirs[i]!.firstByteMs);
    const coldOurs = med(cold.ours, 'firstByteMs');
    const coldTheirs = med(cold.theirs, 'firstByteMs');
    return {
      summary: {
        acceptNo: {
          pairRatios: ratios,
          worstPairRatio: worst,
          medianRatio: round(median(ratios), 3),
          daemonCpuSecondsMax: round(Math.max(...pairs.map((p) => p.daemonCpuSeconds)), 3),
        },
        coldFirstByte: {
          mptcpdLiteMs: coldOurs,
          systemdSocketActivateMs: coldTheirs,
          ratio: round(coldOurs / coldTheirs, 3),
          medianPairDifferenceMs: round(median(pairDiff), 1),
          toExecMs: { mptcpdLite: med(cold.ours, 'toExecMs'), systemdSocketActivate: med(cold.theirs, 'toExecMs') },
          execToFirstByteMs: {
            mptcpdLite: med(cold.ours, 'execToFirstByteMs'),
            systemdSocketActivate: med(cold.theirs, 'execToFirstByteMs'),
          },
        },
      },
      metrics: [
        {
          key: 'acceptNo.worstPairRatio',
          label: `Accept=no request rate, activated / standalone, worst of ${pairs.length} pairs`,
          value: worst,
          unit: '',
          goal: { op: '>=', value: 0.99 },
          how: `Node echo service on the socket mptcpd-lite handed it vs the same script listening itself, both running at once; one connection per request, ${CONCURRENCY} concurrent clients; per pair ${ctx.quick ? 2 : 16} slices of ${ctx.quick ? 0.25 : 0.3} s on each, alternating A B B A; pair ratio = served/s activated ÷ served/s standalone. Pairs: ${ratios.join(', ')}.`,
        },
        {
          key: 'acceptNo.medianPairRatio',
          label: 'Accept=no request rate, activated / standalone, median pair',
          value: round(median(ratios), 3),
          unit: '',
        },
        {
          key: 'acceptNo.daemonCpuSeconds',
          label: 'Daemon CPU while its Accept=no service was loaded (all pairs)',
          value: round(
            pairs.reduce((a, p) => a + p.daemonCpuSeconds, 0),
            3,
          ),
          unit: 's',
          how: 'utime+stime of the daemon over the activated slices: it stops polling a socket whose service runs, as systemd does.',
        },
        {
          key: 'coldFirstByte.ratio',
          label: 'Cold activation, connect to first byte, mptcpd-lite / systemd-socket-activate',
          value: round(coldOurs / coldTheirs, 3),
          unit: '',
          goal: { op: '<=', value: 1 },
          how: `Accept=no; Node echo service that exits after each connection, started by the connection; ${cold.ours.length} interleaved pairs (order alternating), a fresh systemd-socket-activate per probe, one mptcpd-lite daemon idle before each probe; ratio of medians (${coldOurs} vs ${coldTheirs} ms); median of the per-pair differences ${round(median(pairDiff), 1)} ms.`,
        },
        {
          key: 'coldFirstByte.mptcpdLiteMs',
          label: 'Cold activation, connect to first byte, mptcpd-lite',
          value: coldOurs,
          unit: 'ms',
        },
        {
          key: 'coldFirstByte.systemdSocketActivateMs',
          label: 'Cold activation, connect to first byte, systemd-socket-activate',
          value: coldTheirs,
          unit: 'ms',
        },
        {
          key: 'coldFirstByte.toExecMs',
          label: 'Cold activation, connect to the service exec, mptcpd-lite',
          value: med(cold.ours, 'toExecMs'),
          unit: 'ms',
          how: `the service's performance.timeOrigin (its process start) minus the probe's connect time; systemd-socket-activate ${med(cold.theirs, 'toExecMs')} ms. Exec to first byte (Node boot + listen, the same on both sides): ${med(cold.ours, 'execToFirstByteMs')} vs ${med(cold.theirs, 'execToFirstByteMs')} ms; p90 connect to first byte ${round(
            quantile(
              cold.ours.map((x) => x.firstByteMs),
              0.9,
            ),
            1,
          )} vs ${round(
            quantile(
              cold.theirs.map((x) => x.firstByteMs),
              0.9,
            ),
            1,
          )} ms.`,
        },
      ],
      data: { pairs, cold },
      charts: [],
      notes: [
        "Steady state: both services run at once and the load generator (in the bench process) alternates between them, so a pair compares them under the same machine load. Both run in a session of their own (setsid): with sched_autogroup a session is a scheduling group, and a standalone service left in the load generator's session ran 10-40 % faster for that reason alone.",
        'Cold: systemd-socket-activate without --accept execs the service in its own process (no fork); mptcpd-lite forks and execs it. Both figures include the same Node boot.',
      ],
    };
  },
};
