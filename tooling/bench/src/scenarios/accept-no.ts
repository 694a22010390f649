/**
 * Accept=no through mptcpd-lite, in one run:
 *  - steady state: a Node echo service on the socket mptcpd-lite handed it vs the same script
 *    listening by itself, in 7 pairs, each with a control (a second standalone copy vs the
 *    standalone, same slices). All run at once, scheduled alike (checked), and the load rotates
 *    between them in short slices (s a t t a s …), so a pair compares them under the same machine
 *    load; the pair's figure is requests per CPU-second of the service (the work per request, which
 *    the machine's load does not change), the request rates of the same slices are reported too;
 *  - cold first byte: connect → first echoed byte when the connection starts the service, against
 *    systemd-socket-activate starting the same service, in interleaved pairs; the service writes
 *    the time it was exec'd, which splits each figure into connect → exec (the activator's share)
 *    and exec → first byte (Node's boot, the same program on both sides).
 */
import { readFileSync, readdirSync, rmSync } from 'node:fs';
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
const SLICE_SECONDS = 0.3;
const SLICES_PER_SIDE = 16;
/** Load per service before the pairs, s. */
const WARMUP_SECONDS = 9;
/** Cold pairs: at least this many, 8 per --reps. */
const COLD_PAIRS_MIN = 25;
/** Idle time of either activator before a cold probe, ms. */
const SETTLE_MS = 50;

type Pair = {
  /** Connections served per second over the pair's slices. */
  activated: number;
  standalone: number;
  /** served/s activated ÷ served/s standalone. */
  rateRatio: number;
  /** Connections served per CPU-second of the service itself (all its threads). */
  activatedPerCpuSecond: number;
  standalonePerCpuSecond: number;
  /** Served per service CPU-second, activated ÷ standalone: the pair's figure. */
  ratio: number;
  /** The daemon's CPU while its service was loaded, s (0: it does not poll a socket in use). */
  daemonCpuSeconds: number;
};

/** CPU time of every thread of a process so far, s (schedstat: ns, unlike stat's 10 ms ticks). */
function runSeconds(pid: number): number {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return ns / 1e9;
}

/**
 * What decides a process's share of the CPU: nice, scheduling policy, the autogroup (a session is a
 * scheduling group with sched_autogroup) and its nice, CPU affinity, cgroup. The pair's figure
 * compares the work per request, so these must be equal for the rates to compare too.
 */
function schedulingOf(pid: number): Record<string, string> {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const read = (file: string): string => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'utf8').trim();
    } catch {
      return 'n/a';
    }
  };
  return {
    nice: f[16] ?? '?',
    policy: f[38] ?? '?',
    autogroupNice: read('autogroup').replace(/^.*nice /, ''),
    ownSession: String(Number(f[3]) === pid),
    cpus: /Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? '?',
    cgroup: read('cgroup').replace(/\s+/g, ' '),
  };
}

/** Wall clock in ms with sub-ms precision, comparable across processes (the echo service's timing file). */
const wallMs = (): number => performance.timeOrigin + performance.now();

/** One side of a pair: a service's port, its pid, and (activated) the daemon whose CPU is watched. */
interface Side {
  port: number;
  pid: number;
  daemonPid?: number;
}

/**
 * One pair and its control: `slicesPerSide` slices of load on each of the activated service (a), the
 * standalone one (s) and a second standalone copy (t), in the palindromic order s a t t a s … (a
 * linear drift of the machine's load cancels for both comparisons; the start rotates per pair). The
 * control (t vs s) has the same history and the same stretch of machine load as the pair (a vs s),
 * so its spread is the method's own. (Loading both at the same time by two generator processes was
 * tried: ±25 % per pair under the same load, the scheduler's choice among four busy processes being
 * noisier than short alternating slices.)
 */
async function measurePair(
  a: Side,
  s: Side,
  t: Side,
  p: number,
  slice: number,
  slicesPerSide: number,
): Promise<{ pair: Pair; control: Pair }> {
  const sides = [a, s, t];
  const round3 = [1, 0, 2, 2, 0, 1];
  const served = [0, 0, 0];
  const secs = [0, 0, 0];
  const svcCpu = [0, 0, 0];
  let cpu = 0;
  for (let i = 0; i < 3 * slicesPerSide; i++) {
    const k = round3[(i + 2 * p) % round3.length]!;
    const side = sides[k]!;
    const cpu0 = side.daemonPid !== undefined ? cpuSeconds(side.daemonPid) : 0;
    const run0 = runSeconds(side.pid);
    const r = await load({ host: '127.0.0.1', ports: [side.port], concurrency: CONCURRENCY, seconds: slice });
    svcCpu[k]! += runSeconds(side.pid) - run0;
    if (side.daemonPid !== undefined) cpu += cpuSeconds(side.daemonPid) - cpu0;
    served[k]! += r.served;
    secs[k]! += r.seconds;
  }
  const compare = (x: number, y: number, daemonCpu: number): Pair => {
    const perCpu = [served[x]! / svcCpu[x]!, served[y]! / svcCpu[y]!];
    return {
      activated: served[x]! / secs[x]!,
      standalone: served[y]! / secs[y]!,
      rateRatio: served[x]! / secs[x]! / (served[y]! / secs[y]!),
      activatedPerCpuSecond: perCpu[0]!,
      standalonePerCpuSecond: perCpu[1]!,
      ratio: perCpu[0]! / perCpu[1]!,
      daemonCpuSeconds: round(daemonCpu, 3),
    };
  };
  return { pair: compare(0, 1, cpu), control: compare(2, 1, 0) };
}

async function steadyState(
  ctx: Context,
): Promise<{ pairs: Pair[]; control: Pair[]; scheduling: Record<string, string> }> {
  const dir = join(ctx.tmp, 'an');
  const activatedPort = await freePort();
  const standalonePort = await freePort();
  const controlPort = await freePort();
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
  // A second standalone copy: the control pairs (standalone vs standalone) show the method's noise.
  const twin = start(process.execPath, [worker('echo-service'), '--port', String(controlPort)], { detached: true });
  let d: Daemon | undefined;
  try {
    await svc.waitFor(/^LISTENING/);
    await twin.waitFor(/^LISTENING/);
    d = await startDaemon({ units: join(dir, 'units'), control: join(dir, 'control.sock') });
    // The first connection activates the service; steady state is measured after it.
    const first = await oneConnection(
      { host: '127.0.0.1', ports: [activatedPort], concurrency: 1, seconds: 0, timeoutMs: 10_000 },
      activatedPort,
    );
    if (!first.ok) throw new Error(`activation failed: ${first.error ?? 'no echo'}`);
    const st = (await control(join(dir, 'control.sock'), 'status')) as {
      status?: { services?: Array<{ unit: string; pids: number[] }> };
    };
    const activatedPid = st.status?.services?.find((x) => x.unit === 'echo.service')?.pids[0];
    if (activatedPid === undefined) throw new Error(`no pid for echo.service in ${JSON.stringify(st)}`);
    const sched = { activated: schedulingOf(activatedPid), standalone: schedulingOf(svc.pid) };
    // sid = pid for both (own session); the autogroup numbers differ by design, their nice must not.
    const differs = Object.keys(sched.activated).filter((k) => sched.activated[k] !== sched.standalone[k]);
    if (differs.length > 0)
      throw new Error(
        `activated and standalone services are scheduled differently (${differs.join(', ')}): ${JSON.stringify(sched)}`,
      );
    const slice = ctx.quick ? 0.25 : SLICE_SECONDS;
    const slicesPerSide = ctx.quick ? 2 : SLICES_PER_SIDE;
    const count = ctx.quick ? Math.min(ctx.reps, 3) : PAIRS;
    const activated: Side = { port: activatedPort, pid: activatedPid, daemonPid: d.proc.pid };
    const standalone: Side = { port: standalonePort, pid: svc.pid };
    const control2: Side = { port: controlPort, pid: twin.pid };
    // Warm-up in rotating slices until the JIT has settled: per-request CPU of a Node echo service
    // still fell ~12 % over its first ~20 s of load (1.5 s of warm-up left pair 1 at 0.967 and the
    // less-loaded control copy at 0.86-0.94); the rotation gives each the same history.
    const warmSlices = ctx.quick ? 2 : Math.round(WARMUP_SECONDS / slice);
    for (let i = 0; i < warmSlices; i++)
      for (const port of [standalonePort, activatedPort, controlPort])
        await load({ host: '127.0.0.1', ports: [port], concurrency: CONCURRENCY, seconds: slice });
    const pairs: Pair[] = [];
    const controls: Pair[] = [];
    const log = (what: string, pair: Pair): void =>
      ctx.log(
        `${what}: per service CPU-second ${round(pair.activatedPerCpuSecond, 0)} vs ${round(pair.standalonePerCpuSecond, 0)}, ratio ${round(pair.ratio, 3)}; rate ${round(pair.activated, 0)}/s vs ${round(pair.standalone, 0)}/s, ratio ${round(pair.rateRatio, 3)} (daemon CPU ${pair.daemonCpuSeconds} s)`,
      );
    for (let p = 0; p < count; p++) {
      const { pair, control: c } = await measurePair(activated, standalone, control2, p, slice, slicesPerSide);
      pairs.push(pair);
      controls.push(c);
      log(`Accept=no pair ${p + 1} (activated vs standalone)`, pair);
      log(`  its control (standalone copy vs standalone)`, c);
    }
    return { pairs, control: controls, scheduling: sched.activated };
  } finally {
    await d?.stop();
    await svc.stop();
    await twin.stop();
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
          // Both activators idle for the same moment before the probe (ours: below).
          await sleep(SETTLE_MS);
          try {
            theirs.push(await coldProbe(saPort, timingFile));
          } finally {
            await sa.stop();
          }
        } else {
          // the previous instance exits after its connection: wait until the daemon has seen it and
          // the socket is listening again, so every probe is a cold activation
          await idle(ctl);
          await sleep(SETTLE_MS); // let the status round-trips settle: the daemon is idle when the probe connects
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
    const { pairs, control: controls, scheduling } = await steadyState(ctx);
    const controlRatios = controls.map((p) => round(p.ratio, 3));
    const coldCount = ctx.quick ? 3 : Math.max(COLD_PAIRS_MIN, 8 * ctx.reps);
    const cold = await coldPairs(ctx, coldCount);
    const ratios = pairs.map((p) => round(p.ratio, 3));
    const worst = Math.min(...ratios);
    const rateRatios = pairs.map((p) => round(p.rateRatio, 3));
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
          ratePairRatios: rateRatios,
          worstRatePairRatio: Math.min(...rateRatios),
          medianRatePairRatio: round(median(rateRatios), 3),
          scheduling,
          controlPairRatios: controlRatios,
          controlRatePairRatios: controls.map((p) => round(p.rateRatio, 3)),
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
          key: 'acceptNo.worstRatePairRatio',
          label: `Accept=no request rate, activated / standalone, worst of ${pairs.length} pairs`,
          value: Math.min(...rateRatios),
          unit: '',
          goal: { op: '>=', value: 0.99 },
          how: `The issue's figure: served/s activated ÷ served/s standalone over the same slices (method below). The load generator (this process) limits the rate, not the service, so the rate follows the machine's load as much as the services: pairs activated ÷ served/s standalone over the same slices. The load generator (this process) limits the rate, not the service, so the rate follows the machine's load: pairs ${rateRatios.join(', ')}; control pairs (standalone copy vs standalone: two identical services, the method's own spread) ${controls.map((p) => round(p.rateRatio, 3)).join(', ')}; the next two rows divide by the service's CPU time instead.`,
        },
        {
          key: 'acceptNo.medianRatePairRatio',
          label: 'Accept=no request rate, activated / standalone, median pair',
          value: round(median(rateRatios), 3),
          unit: '',
        },
        {
          key: 'acceptNo.worstPairRatio',
          label: `Accept=no activated / standalone, requests per service CPU-second, worst of ${pairs.length} pairs`,
          value: worst,
          unit: '',
          how: `Node echo service on the socket mptcpd-lite handed it vs the same script listening itself, both running at once, scheduled alike (checked: nice, policy, own session and autogroup nice, CPU affinity, cgroup: ${JSON.stringify(scheduling)}); one connection per request, ${CONCURRENCY} concurrent clients; per pair ${ctx.quick ? 2 : SLICES_PER_SIDE} slices of ${ctx.quick ? 0.25 : SLICE_SECONDS} s on each of activated, standalone and a standalone copy, in the order s a t t a s (rotating per pair), after ${WARMUP_SECONDS} s of rotating warm-up load each; pair ratio = connections served per CPU-second of the service (all its threads, schedstat) activated ÷ standalone: the work each does per request, which the machine's load does not change. Pairs: ${ratios.join(', ')}. Control pairs, a second standalone copy vs the standalone in the same slices rotation (the method's own spread): ${controlRatios.join(', ')}. Supporting figure for the request-rate rows above (the issue's goal): it shows the work per request is the same when the rate swings with the machine.`,
        },
        {
          key: 'acceptNo.medianPairRatio',
          label: 'Accept=no activated / standalone, requests per service CPU-second, median pair',
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
      data: { pairs, controls, cold },
      charts: [],
      notes: [
        "Steady state: both services run at once and the load generator (in the bench process) alternates between them, so a pair compares them under the same machine load. Both run in a session of their own (setsid): with sched_autogroup a session is a scheduling group, and a standalone service left in the load generator's session ran 10-40 % faster for that reason alone. The scenario fails if the two are scheduled differently (nice, policy, autogroup nice, affinity, cgroup).",
        'Steady-state figure: requests per CPU-second of the service. With the load generator the bottleneck (the services run at ~30-50 % of a core), the request rate of a pair swung 0.90-1.16 at load average ~9 while the work per request stayed within 1-2 %; both are reported, the rate in acceptNo.*RatePairRatio.',
        'Cold: systemd-socket-activate without --accept execs the service in its own process (no fork); mptcpd-lite forks and execs it. Both figures include the same Node boot.',
      ],
    };
  },
};
