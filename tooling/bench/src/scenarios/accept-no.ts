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
import { execFileSync } from 'node:child_process';
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
/** Measured part of a segment, s. */
const SLICE_SECONDS = 0.3;
/** Load at the start of every segment that is not counted (the switch from the previous side), s. */
const SLICE_WARMUP_SECONDS = 0.05;
/**
 * Rounds of 12 segments per pair (4 per side per round) per 3 `--reps` (default 3: 3 rounds, ~13 s
 * per pair); always a multiple of 3, so each side takes each role. The pairs' spread falls with the
 * square root of the rounds: `--reps 12` gives half of the default's, in 4 times the time.
 */
const ROUNDS_PER_PAIR = 3;
export const roundsPerPair = (reps: number): number => ROUNDS_PER_PAIR * Math.max(1, Math.round(reps / 3));
/** Load per service before the pairs, s. */
const WARMUP_SECONDS = 9;
/** Cold pairs: at least this many, 20 per --reps. */
const COLD_PAIRS_MIN = 50;
/** Cold pairs run first and discarded (page cache, first start of systemd-socket-activate). */
const COLD_WARMUP_PAIRS = 2;
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

/**
 * The daemon runs in a session of its own, as a system daemon does and as systemd-socket-activate
 * does here: with sched_autogroup a session is a CPU-scheduling group, and both activators should
 * wake up for a cold activation in a group of their own, not in the load generator's. (Measured at
 * load ~18, 40 interleaved cold pairs: connect → exec 19.6 ms in its own session, 19.9 ms in the
 * bench's: no difference the method can see; the setup is kept symmetric.) setsid(1) execs in place
 * (the bench's child is no process-group leader), so the PID stays.
 */
const OWN_SESSION = ['setsid'];

/** Wall clock in ms with sub-ms precision, comparable across processes (the echo service's timing file). */
const wallMs = (): number => performance.timeOrigin + performance.now();

/** One counted segment: side (0 activated, 1 standalone, 2 copy), its requests, wall and service CPU time. */
type Segment = { side: number; served: number; seconds: number; cpuSeconds: number };

/** One side of a pair: a service's port, its pid, and (activated) the daemon whose CPU is watched. */
interface Side {
  port: number;
  pid: number;
  daemonPid?: number;
}

/**
 * The base cycle a s t a t s (0 = activated, 1 = standalone, 2 = standalone copy) goes through every
 * ordered pair of two different sides once (read cyclically): each side follows each other side
 * equally often. A round is the cycle and its reverse, a palindrome, so a linear drift of the
 * machine's load over the round cancels for every comparison (ABBA for three sides).
 */
const BASE_CYCLE = [0, 1, 2, 0, 2, 1] as const;
const ROUND = [...BASE_CYCLE, ...[...BASE_CYCLE].reverse()];

/**
 * The order of a pair's segments: `rounds` rounds whose roles rotate (0 → 1 → 2 → 0) from one round
 * to the next, so over three rounds each side takes each of the three roles once: the same
 * positions, the same predecessors and the same single same-side neighbour (the round's middle) for
 * all three. Consecutive rounds never start with the side that ended the previous one. `offset`
 * rotates the roles of the whole pair.
 */
export function segmentOrder(rounds: number, offset = 0): number[] {
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) for (const k of ROUND) out.push((k + r + offset) % 3);
  return out;
}

/** Two-sided 97.5 % quantile of Student's t by degrees of freedom (1…10; beyond, 1.96 is close enough from 30). */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];

/**
 * Geometric mean of ratios with its 95 % confidence interval (t on the logs): what all pairs
 * together say about the ratio, as precise as the pairs' spread allows.
 */
export function pooledRatio(ratios: readonly number[]): { ratio: number; low: number; high: number } {
  const logs = ratios.map(Math.log);
  const n = logs.length;
  const mean = logs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { ratio: Math.exp(mean), low: Number.NaN, high: Number.NaN };
  const sd = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const t = T975[n - 2] ?? (n > 30 ? 1.96 : 2.2);
  const h = (t * sd) / Math.sqrt(n);
  return { ratio: Math.exp(mean), low: Math.exp(mean - h), high: Math.exp(mean + h) };
}

/**
 * One pair and its control: segments of load on the activated service (a), the standalone one (s)
 * and a second standalone copy (t) in the order of `segmentOrder` (carry-over and drift balanced
 * for all three), each segment `warmup` s of load that is not counted (the switch from the previous
 * side) and then `slice` s that are. The same load generator (this process) drives all three. The
 * control (t vs s) is measured in exactly the same way and the same stretch of machine load as the
 * pair (a vs s), so its spread is the method's own. (Loading both at the same time was tried: by
 * two generator processes ±25 % per pair; by one generator alternating per request ±15 %, each
 * service's latency following when the scheduler runs it; pinning the generator to one CPU and the
 * services to the other, or raising their priority, did not narrow the controls at load ~7-12.)
 */
async function measurePair(
  sides: readonly [Side, Side, Side],
  p: number,
  slice: number,
  warmup: number,
  rounds: number,
): Promise<{ pair: Pair; control: Pair; segments: number; requestsPerSegment: number; log: Segment[] }> {
  const served = [0, 0, 0];
  const secs = [0, 0, 0];
  const svcCpu = [0, 0, 0];
  const perSegment: number[] = [];
  const segLog: Segment[] = [];
  let cpu = 0;
  const order = segmentOrder(rounds, p);
  for (const k of order) {
    const side = sides[k]!;
    if (warmup > 0) await load({ host: '127.0.0.1', ports: [side.port], concurrency: CONCURRENCY, seconds: warmup });
    const cpu0 = side.daemonPid !== undefined ? cpuSeconds(side.daemonPid) : 0;
    const run0 = runSeconds(side.pid);
    const r = await load({ host: '127.0.0.1', ports: [side.port], concurrency: CONCURRENCY, seconds: slice });
    const used = runSeconds(side.pid) - run0;
    svcCpu[k]! += used;
    segLog.push({ side: k, served: r.served, seconds: round(r.seconds, 4), cpuSeconds: round(used, 4) });
    if (side.daemonPid !== undefined) cpu += cpuSeconds(side.daemonPid) - cpu0;
    if (r.failed + r.dropped > 0)
      throw new Error(
        `Accept=no load on port ${side.port}: ${r.failed} failed, ${r.dropped} dropped ${JSON.stringify(r.errors)}`,
      );
    served[k]! += r.served;
    secs[k]! += r.seconds;
    perSegment.push(r.served);
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
  return {
    pair: compare(0, 1, cpu),
    control: compare(2, 1, 0),
    segments: order.length,
    requestsPerSegment: median(perSegment),
    log: segLog,
  };
}

/** The activated service's environment without what announces the activation (LISTEN_*). */
function serviceEnvironment(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const i = kv.indexOf('=');
    if (i <= 0) continue;
    const k = kv.slice(0, i);
    if (!k.startsWith('LISTEN_')) env[k] = kv.slice(i + 1);
  }
  return env;
}

/**
 * What the service gets besides scheduling: its listening socket as the kernel reports it (accept
 * backlog, receive and send buffer sizes, congestion control: accepted connections inherit them),
 * its resource limits and the names of its environment variables.
 */
function serviceSetupOf(pid: number, port: number): Record<string, string> {
  const ss = execFileSync('ss', ['-ltnmiH', `sport = :${port}`], { encoding: 'utf8' });
  const f = ss.trim().split(/\s+/);
  return {
    listenBacklog: f[2] ?? '?',
    listenBuffers: `rb ${/\brb(\d+)/.exec(ss)?.[1] ?? '?'} tb ${/\btb(\d+)/.exec(ss)?.[1] ?? '?'}`,
    congestion: /\b(bbr|cubic|reno|[a-z]+)\s+(?:wscale|cwnd)/.exec(ss)?.[1] ?? '?',
    limits: readFileSync(`/proc/${pid}/limits`, 'utf8').replace(/\s+/g, ' '),
    environment: Object.keys(serviceEnvironment(pid)).sort().join(' '),
  };
}

async function steadyState(ctx: Context): Promise<{
  pairs: Pair[];
  control: Pair[];
  scheduling: Record<string, string>;
  setup: Record<string, string>;
  segments: number;
  requestsPerSegment: number;
  segmentLog: Segment[][];
}> {
  const dir = join(ctx.tmp, 'an');
  const activatedPort = await freePort();
  const standalonePort = await freePort();
  const controlPort = await freePort();
  writeListenUnit(join(dir, 'units'), {
    name: 'echo',
    listen: [`127.0.0.1:${activatedPort}`],
    exec: `${process.execPath} ${worker('echo-service')}`,
  });
  let d: Daemon | undefined;
  let svc: Running | undefined;
  let twin: Running | undefined;
  try {
    d = await startDaemon({ units: join(dir, 'units'), control: join(dir, 'control.sock'), prefix: OWN_SESSION });
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
    // The standalone service and its copy get the activated service's environment (the daemon's
    // clean one, not the bench's: NODE_EXTRA_CA_CERTS and the like change what Node loads) and a
    // session of their own, as the activated one has (mptcpd-lite, like systemd, calls setsid() for
    // a service). With sched_autogroup_enabled=1 a session is a CPU-scheduling group: left in the
    // bench's session, a standalone service would share its group with the load generator and win
    // 10-40 % from that alone (measured: same script, setsid or not).
    const env = serviceEnvironment(activatedPid);
    svc = start(process.execPath, [worker('echo-service'), '--port', String(standalonePort)], { detached: true, env });
    // A second standalone copy: the control pairs (standalone vs standalone) show the method's noise.
    twin = start(process.execPath, [worker('echo-service'), '--port', String(controlPort)], { detached: true, env });
    await svc.waitFor(/^LISTENING/);
    await twin.waitFor(/^LISTENING/);
    const sched = { activated: schedulingOf(activatedPid), standalone: schedulingOf(svc.pid) };
    const setup = {
      activated: serviceSetupOf(activatedPid, activatedPort),
      standalone: serviceSetupOf(svc.pid, standalonePort),
    };
    // sid = pid for both (own session); the autogroup numbers differ by design, their nice must not.
    const differs = [
      ...Object.keys(sched.activated).filter((k) => sched.activated[k] !== sched.standalone[k]),
      ...Object.keys(setup.activated).filter((k) => setup.activated[k] !== setup.standalone[k]),
    ];
    if (differs.length > 0)
      throw new Error(
        `activated and standalone services differ (${differs.join(', ')}): ${JSON.stringify({ sched, setup })}`,
      );
    const slice = ctx.quick ? 0.25 : SLICE_SECONDS;
    const rounds = ctx.quick ? 1 : roundsPerPair(ctx.reps);
    const count = ctx.quick ? Math.min(ctx.reps, 3) : PAIRS;
    const sides = [
      { port: activatedPort, pid: activatedPid, daemonPid: d.proc.pid },
      { port: standalonePort, pid: svc.pid },
      { port: controlPort, pid: twin.pid },
    ] as const;
    // Warm-up in rotating slices until the JIT has settled: per-request CPU of a Node echo service
    // still fell ~12 % over its first ~20 s of load (1.5 s of warm-up left pair 1 at 0.967 and the
    // less-loaded control copy at 0.86-0.94); the rotation gives each the same history.
    const warmSlices = ctx.quick ? 2 : Math.round(WARMUP_SECONDS / slice);
    for (let i = 0; i < warmSlices; i++)
      for (const port of [standalonePort, activatedPort, controlPort])
        await load({ host: '127.0.0.1', ports: [port], concurrency: CONCURRENCY, seconds: slice });
    const pairs: Pair[] = [];
    const controls: Pair[] = [];
    let segments = 0;
    const perSegment: number[] = [];
    const segmentLog: Segment[][] = [];
    const log = (what: string, pair: Pair): void =>
      ctx.log(
        `${what}: rate ${round(pair.activated, 0)}/s vs ${round(pair.standalone, 0)}/s, ratio ${round(pair.rateRatio, 3)}; per service CPU-second ${round(pair.activatedPerCpuSecond, 0)} vs ${round(pair.standalonePerCpuSecond, 0)}, ratio ${round(pair.ratio, 3)} (daemon CPU ${pair.daemonCpuSeconds} s)`,
      );
    for (let p = 0; p < count; p++) {
      const m = await measurePair(sides, p, slice, SLICE_WARMUP_SECONDS, rounds);
      pairs.push(m.pair);
      controls.push(m.control);
      segments = m.segments;
      perSegment.push(m.requestsPerSegment);
      segmentLog.push(m.log);
      log(`Accept=no pair ${p + 1} (activated vs standalone)`, m.pair);
      log(`  its control (standalone copy vs standalone)`, m.control);
    }
    return {
      pairs,
      control: controls,
      scheduling: sched.activated,
      setup: setup.activated,
      segments,
      requestsPerSegment: median(perSegment),
      segmentLog,
    };
  } finally {
    await d?.stop();
    await svc?.stop();
    await twin?.stop();
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
  const d = await startDaemon({ units: join(dir, 'units'), control: ctl, prefix: OWN_SESSION });
  try {
    for (let i = 0; i < count + COLD_WARMUP_PAIRS; i++) {
      if (i === COLD_WARMUP_PAIRS) {
        ours.length = 0;
        theirs.length = 0;
      }
      for (const who of i % 2 === 0 ? (['theirs', 'ours'] as const) : (['ours', 'theirs'] as const)) {
        if (who === 'theirs') {
          const saPort = await freePort();
          // systemd-socket-activate without --accept execs the service itself on the first connection.
          // The service gets the environment mptcpd-lite gives its own (PATH, LANG; no
          // NODE_OPTIONS, NODE_EXTRA_CA_CERTS… from the bench's shell, which change Node's boot), and
          // a session of its own, as mptcpd-lite's (setsid, as systemd does): with sched_autogroup a
          // session is a CPU-scheduling group, and one shared with the bench (or a shell whose
          // autogroup nice was changed) gives either side an advantage under load.
          const sa: Running = start('systemd-socket-activate', ['-l', `127.0.0.1:${saPort}`, ...exec], {
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
            detached: true,
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
        `cold pair ${i < COLD_WARMUP_PAIRS ? `warm-up ${i + 1} (not counted)` : i + 1 - COLD_WARMUP_PAIRS}: mptcpd-lite ${round(o.firstByteMs, 1)} ms (exec at +${round(o.toExecMs, 1)}), systemd-socket-activate ${round(t.firstByteMs, 1)} ms (exec at +${round(t.toExecMs, 1)})`,
      );
    }
  } finally {
    await d.stop();
  }
  return { ours, theirs };
}

/**
 * Distribution-free 95 % confidence interval of the median of paired differences: the order
 * statistics of the sign test (normal approximation of the binomial, n ≥ 10).
 */
export function medianInterval(diffs: readonly number[]): { low: number; high: number } {
  const d = [...diffs].sort((a, b) => a - b);
  const n = d.length;
  const k = Math.floor(n / 2 - 0.98 * Math.sqrt(n));
  if (n < 10 || k < 0) return { low: Number.NaN, high: Number.NaN };
  return { low: d[k]!, high: d[n - 1 - k]! };
}

export const acceptNo: Scenario = {
  name: 'acceptno',
  title: 'Accept=no through mptcpd-lite: steady state vs standalone, cold first byte vs systemd-socket-activate',
  needs: ['systemd-socket-activate'],
  async run(ctx) {
    if (!daemonAvailable()) throw new Skip('apps/mptcpd-lite is not built (dist/cli.cjs missing)');
    const steady = await steadyState(ctx);
    const { pairs, control: controls, scheduling, setup } = steady;
    const coldCount = ctx.quick ? 3 : Math.max(COLD_PAIRS_MIN, 20 * ctx.reps);
    const cold = await coldPairs(ctx, coldCount);
    const ratios = pairs.map((p) => round(p.ratio, 3));
    const controlRatios = controls.map((p) => round(p.ratio, 3));
    const rateRatios = pairs.map((p) => round(p.rateRatio, 3));
    const controlRateRatios = controls.map((p) => round(p.rateRatio, 3));
    const atLeast = (xs: number[]): number => xs.filter((x) => x >= 0.99).length;
    const pooled = (xs: number[]): { ratio: number; low: number; high: number } => {
      const r = pooledRatio(xs);
      return { ratio: round(r.ratio, 4), low: round(r.low, 4), high: round(r.high, 4) };
    };
    const pooledRate = pooled(pairs.map((p) => p.rateRatio));
    const pooledControlRate = pooled(controls.map((p) => p.rateRatio));
    const pooledCpu = pooled(pairs.map((p) => p.ratio));
    const pooledControlCpu = pooled(controls.map((p) => p.ratio));
    const med = (xs: ColdSample[], k: keyof ColdSample): number => round(median(xs.map((x) => x[k])), 1);
    const pairDiff = cold.ours.map((o, i) => o.firstByteMs - cold.theirs[i]!.firstByteMs);
    const diffCi = medianInterval(pairDiff);
    const coldOurs = med(cold.ours, 'firstByteMs');
    const coldTheirs = med(cold.theirs, 'firstByteMs');
    const oursNotSlower = pairDiff.filter((x) => x <= 0).length;
    const sliceText = `${steady.segments} segments per pair (${steady.segments / 3} per side) of ${ctx.quick ? 0.25 : SLICE_SECONDS} s counted after ${SLICE_WARMUP_SECONDS} s not counted, median ${round(steady.requestsPerSegment, 0)} requests per segment`;
    const ci = (r: { ratio: number; low: number; high: number }): string => `${r.ratio} (95 % CI ${r.low}-${r.high})`;
    return {
      summary: {
        acceptNo: {
          ratePairRatios: rateRatios,
          controlRatePairRatios: controlRateRatios,
          worstRatePairRatio: Math.min(...rateRatios),
          controlWorstRatePairRatio: Math.min(...controlRateRatios),
          ratePairsAtLeast099: atLeast(rateRatios),
          controlRatePairsAtLeast099: atLeast(controlRateRatios),
          medianRatePairRatio: round(median(rateRatios), 3),
          pooledRateRatio: pooledRate,
          controlPooledRateRatio: pooledControlRate,
          pairRatios: ratios,
          controlPairRatios: controlRatios,
          worstPairRatio: Math.min(...ratios),
          medianRatio: round(median(ratios), 3),
          pooledCpuRatio: pooledCpu,
          controlPooledCpuRatio: pooledControlCpu,
          segmentsPerPair: steady.segments,
          requestsPerSegment: round(steady.requestsPerSegment, 0),
          scheduling,
          setup,
          daemonCpuSecondsMax: round(Math.max(...pairs.map((p) => p.daemonCpuSeconds)), 3),
        },
        coldFirstByte: {
          pairs: cold.ours.length,
          mptcpdLiteMs: coldOurs,
          systemdSocketActivateMs: coldTheirs,
          ratio: round(coldOurs / coldTheirs, 3),
          medianPairDifferenceMs: round(median(pairDiff), 2),
          medianPairDifferenceCiMs: [round(diffCi.low, 2), round(diffCi.high, 2)],
          pairsNotSlower: oursNotSlower,
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
          how: `The issue's figure: connections served per second by the activated service ÷ by the standalone one, same script, same environment, same listening socket setup (checked: ${JSON.stringify(setup)}). Pairs ${rateRatios.join(', ')} (${atLeast(rateRatios)} of ${pairs.length} ≥ 0.99); control pairs measured identically in the same rounds, a second standalone copy ÷ the standalone (two identical services: the method's own spread) ${controlRateRatios.join(', ')} (${atLeast(controlRateRatios)} of ${controls.length} ≥ 0.99). Geometric mean of the pairs ${ci(pooledRate)}, of the controls ${ci(pooledControlRate)}. Method: one load generator (this process, ${CONCURRENCY} concurrent clients, one connection per request) drives the three services in turn, ${sliceText}; order a s t a t s + its reverse per round (every side follows every other equally often; a linear drift cancels), roles rotating per round, ${ctx.quick ? 1 : roundsPerPair(ctx.reps)} rounds per pair, after ${WARMUP_SECONDS} s of rotating warm-up each.`,
        },
        {
          key: 'acceptNo.ratePairsAtLeast099',
          label: `Accept=no request rate: pairs ≥ 0.99 of ${pairs.length} (control pairs: ${atLeast(controlRateRatios)})`,
          value: atLeast(rateRatios),
          unit: '',
        },
        {
          key: 'acceptNo.pooledRateRatio',
          label: `Accept=no request rate, activated / standalone, all pairs (geometric mean; control ${pooledControlRate.ratio})`,
          value: pooledRate.ratio,
          unit: '',
          how: `95 % confidence interval ${pooledRate.low}-${pooledRate.high} (t on the logs of the ${pairs.length} pair ratios); controls ${ci(pooledControlRate)}.`,
        },
        {
          key: 'acceptNo.controlWorstRatePairRatio',
          label: `Accept=no control: standalone copy / standalone, worst of ${controls.length} pairs`,
          value: Math.min(...controlRateRatios),
          unit: '',
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
          value: Math.min(...ratios),
          unit: '',
          how: `The same segments divided by the CPU time of the service (all its threads, schedstat) instead of the wall time: the work per request. Pairs ${ratios.join(', ')}; control pairs ${controlRatios.join(', ')}; geometric mean ${ci(pooledCpu)}, controls ${ci(pooledControlCpu)}. Scheduling checked equal: ${JSON.stringify(scheduling)}.`,
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
          how: 'utime+stime of the daemon over the activated segments: it stops polling a socket whose service runs, as systemd does.',
        },
        {
          key: 'coldFirstByte.ratio',
          label: 'Cold activation, connect to first byte, mptcpd-lite / systemd-socket-activate',
          value: round(coldOurs / coldTheirs, 3),
          unit: '',
          goal: { op: '<=', value: 1 },
          how: `Accept=no; Node echo service that exits after each connection, started by the connection; ${cold.ours.length} interleaved pairs in ABBA order (after ${COLD_WARMUP_PAIRS} not counted), a fresh systemd-socket-activate per probe, one mptcpd-lite daemon idle before each probe; ratio of medians (${coldOurs} vs ${coldTheirs} ms); median of the per-pair differences ${round(median(pairDiff), 2)} ms (95 % CI ${round(diffCi.low, 2)} to ${round(diffCi.high, 2)} ms); mptcpd-lite not slower in ${oursNotSlower} of ${pairDiff.length} pairs.`,
        },
        {
          key: 'coldFirstByte.medianPairDifferenceMs',
          label: 'Cold activation, connect to first byte, mptcpd-lite − systemd-socket-activate, median pair',
          value: round(median(pairDiff), 2),
          unit: 'ms',
          how: `95 % confidence interval ${round(diffCi.low, 2)} to ${round(diffCi.high, 2)} ms (sign-test order statistics).`,
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
      data: { pairs, controls, segments: steady.segmentLog, cold },
      charts: [],
      notes: [
        "Steady state: the three services (activated, standalone, standalone copy) run at once, each in a session of its own (setsid; with sched_autogroup a session is a scheduling group), with the same environment (the activated one's) and the same listening socket setup, and the one load generator turns from one to the next, so a pair compares them under the same machine load; the scenario fails if scheduling (nice, policy, autogroup nice, affinity, cgroup), socket setup (backlog, buffers, congestion control), limits or environment differ.",
        'Judging 1 %: on 2 shared cores the control pairs (two identical services, measured exactly like the pairs) spread by more than 1 % per pair when other work runs; compare the pairs with the controls next to them, and the geometric mean of all pairs with its confidence interval.',
        'Cold: systemd-socket-activate without --accept execs the service in its own process (no fork); mptcpd-lite forks and execs it. Both figures include the same Node boot.',
      ],
    };
  },
};
