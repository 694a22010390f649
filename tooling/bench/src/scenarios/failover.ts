/**
 * Fail-over: a two-path MPTCP transfer from a service activated by mptcpd-lite (in the lab's server
 * namespace) to a client over @mptcp/native; path 1 is taken down mid-transfer and brought back.
 * Per-path throughput comes from the client interfaces' rx_bytes every 100 ms; the stall is the
 * longest run of ~zero goodput; sha256 of what was sent and what was received prove zero loss.
 * Without a built daemon it falls back to the service listening by itself over @mptcp/native.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonAvailable, startDaemon, type Daemon } from '../lib/daemon.js';
import { Lab } from '../lib/lab.js';
import { worker } from '../lib/paths.js';
import { sleep, type Running } from '../lib/proc.js';
import { longestStall } from '../lib/stall.js';
import { median, round } from '../lib/stats.js';
import { rates } from '../lib/timeline.js';
import { writeAcceptUnit } from '../lib/units.js';
import { lineChart } from '../report/svg.js';
import type { Context, Scenario } from '../lib/scenario.js';

const PORT = 5300;
const RATE_MBIT = 20;

interface ClientReport {
  mptcp: boolean | null;
  bytes: number;
  sha256: string;
  ifaces: string[];
  samples: number[][];
}

/**
 * Who manages the server's MPTCP endpoints: `static` = the lab adds a signal endpoint for path 2 by
 * hand (`ip mptcp endpoint add`), the kernel alone reacts to the path going down; `auto` = the daemon
 * runs with `--endpoints auto` (lab without endpoints): it adds one signal endpoint per usable
 * address and removes the endpoint of a link that loses carrier, which makes the kernel close that
 * subflow and reinject its unacknowledged data on the other one at once.
 */
type Pm = 'static' | 'auto' | 'auto-sndbuf';
/**
 * `auto-sndbuf` = `auto` plus `SendBuffer=256K` on the socket unit. After the daemon removes the
 * endpoint the kernel reinjects everything not yet acknowledged at the MPTCP level, but on the
 * subflow that is left it queues behind what that subflow already holds: with the autotuned send
 * buffer that is ~1.3 MB here (notsent, `ss -tni`), 0.5 s at 20 Mbit. A bounded send buffer bounds
 * that queue (net.ipv4.tcp_notsent_lowat does not: the subflows' notsent stayed at 1.3 MB with it).
 */
const SNDBUF = 256 << 10;

interface Run {
  pm: Pm;
  via: 'mptcpd-lite' | '@mptcp/native';
  bytes: number;
  sentSha256: string;
  receivedSha256: string;
  intact: boolean;
  mptcp: boolean | null;
  stallSeconds: number;
  stallFromS: number;
  downAtS: number;
  upAtS: number;
  /** [s, bytes cumulative, c1 rx, c2 rx] relative to connect. */
  samples: number[][];
}

async function once(
  ctx: Context,
  rep: number,
  useDaemon: boolean,
  pm: Pm,
  o: { bytes: number; downAfterS: number; downForS: number },
): Promise<Run> {
  const lab = Lab.up(`bfo${process.pid % 10000}`, `${RATE_MBIT}mbit`, pm === 'static' ? 'signal' : 'none');
  const dir = join(ctx.tmp, `fo-${rep}-${pm}`);
  mkdirSync(dir, { recursive: true });
  const shaFile = join(dir, 'sent.sha256');
  const serviceArgs = [process.execPath, worker('failover-service'), '--bytes', String(o.bytes), '--sha-file', shaFile];
  let daemon: Daemon | undefined;
  let standalone: Running | undefined;
  try {
    if (useDaemon) {
      // The connection arrives as fd 3 with LISTEN_FDS=1 (no StandardInput=socket): the service adopts it.
      writeAcceptUnit(join(dir, 'units'), {
        name: 'fo',
        listen: `0.0.0.0:${PORT}`,
        exec: serviceArgs.join(' '),
        mptcp: true,
        maxConnections: 4,
        socket: pm === 'auto-sndbuf' ? [`SendBuffer=${SNDBUF}`] : [],
      });
      writeFileSync(join(dir, 'units', 'fo@.service'), `[Service]\nExecStart=${serviceArgs.join(' ')}\n`);
      daemon = await startDaemon({
        units: join(dir, 'units'),
        control: join(dir, 'control.sock'),
        prefix: lab.exec('srv'),
        extraArgs: pm === 'static' ? [] : ['--endpoints', 'auto'],
      });
    } else {
      const [cmd, ...args] = serviceArgs as [string, ...string[]];
      standalone = lab.start('srv', cmd, [...args, '--listen', `0.0.0.0:${PORT}`]);
      await standalone.waitFor(/^LISTENING/);
    }
    const client = lab.start('cli', process.execPath, [
      worker('failover-client'),
      '--host',
      lab.env.srv1,
      '--port',
      String(PORT),
      '--ifaces',
      'c1,c2',
    ]);
    const connectedLine = await client.waitFor(/^CONNECTED/, 10_000);
    const t0 = Number(connectedLine.split(' ')[1]);
    // both subflows must carry data before path 1 goes, or there is nothing to fail over to
    await client.waitFor(/^FLOWING/, 10_000);
    await sleep(Math.max(0, o.downAfterS * 1000 - (Date.now() - t0)));
    const downAt = Date.now();
    lab.link(1, 'down');
    await sleep(o.downForS * 1000);
    const upAt = Date.now();
    lab.link(1, 'up');
    const code = await Promise.race([client.exited, sleep(120_000).then(() => 'timeout')]);
    if (code !== 0) throw new Error(`fail-over client ended with ${code}: ${client.stderr.slice(-3).join(' | ')}`);
    const line = client.stdout.find((l) => l.startsWith('{'));
    if (!line) throw new Error('fail-over client printed no result');
    const rep_ = JSON.parse(line) as ClientReport;
    for (let i = 0; i < 50 && !existsSync(shaFile); i++) await sleep(100);
    const sent = existsSync(shaFile) ? readFileSync(shaFile, 'utf8').trim() : '';
    const stall = longestStall(rep_.samples.map((s) => [s[0]!, s[1]!] as const));
    const run: Run = {
      pm,
      via: useDaemon ? 'mptcpd-lite' : '@mptcp/native',
      bytes: rep_.bytes,
      sentSha256: sent,
      receivedSha256: rep_.sha256,
      intact: sent !== '' && sent === rep_.sha256 && rep_.bytes === o.bytes,
      mptcp: rep_.mptcp,
      stallSeconds: round(stall.seconds, 2),
      stallFromS: round((stall.from - t0) / 1000, 2),
      downAtS: round((downAt - t0) / 1000, 2),
      upAtS: round((upAt - t0) / 1000, 2),
      samples: rep_.samples.map((s) => [round((s[0]! - t0) / 1000, 3), s[1]!, s[2]!, s[3]!]),
    };
    ctx.log(
      `run ${rep + 1} (${pm} endpoints): ${run.bytes} bytes via ${run.via}, intact ${run.intact}, stall ${run.stallSeconds ? `${run.stallSeconds} s at ${run.stallFromS} s` : 'none'} (path 1 down ${run.downAtS}–${run.upAtS} s)`,
    );
    return run;
  } finally {
    await daemon?.stop();
    await standalone?.stop('SIGKILL');
    lab.down();
  }
}

export const failover: Scenario = {
  name: 'failover',
  title: 'Fail-over: path 1 down and back mid-transfer, through mptcpd-lite',
  needs: ['root', 'mptcp', 'netns', 'tc', 'python3'],
  async run(ctx) {
    const useDaemon = daemonAvailable() && process.env.BENCH_FAILOVER_VIA !== 'native';
    const o = ctx.quick
      ? { bytes: 16 << 20, downAfterS: 2, downForS: 2 }
      : { bytes: 48 << 20, downAfterS: 4, downForS: 4 };
    // Both endpoint setups in one run, interleaved (order rotating per repetition), so their
    // stalls compare under the same load. Without the daemon only the static setup exists.
    const pms: Pm[] =
      useDaemon && process.env.BENCH_FAILOVER_PM !== 'static' ? ['auto', 'static', 'auto-sndbuf'] : ['static'];
    const runs: Run[] = [];
    for (let rep = 0; rep < ctx.reps; rep++)
      for (const pm of [...pms.slice(rep % pms.length), ...pms.slice(0, rep % pms.length)])
        runs.push(await once(ctx, rep, useDaemon, pm, o));
    const head: Pm = pms[0]!;
    const of = (pm: Pm): Run[] => runs.filter((r) => r.pm === pm);
    const stallOf = (pm: Pm): number => round(median(of(pm).map((r) => r.stallSeconds)), 2);
    const stall = stallOf(head);
    const allIntact = runs.every((r) => r.intact);
    // path 1 carried data again after it came back (the client's c1 rx grew after upAt)
    const rejoined = (r: Run): boolean => {
      const after = r.samples.filter((x) => x[0]! > r.upAtS);
      return after.length > 1 && after[after.length - 1]![2]! - after[0]![2]! > 65536;
    };
    // chart the run of the headline setup whose stall is the median one
    const shown = [...of(head)].sort((a, b) => a.stallSeconds - b.stallSeconds)[of(head).length >> 1]!;
    const cum = (col: number): Array<[number, number]> =>
      shown.samples.map((s) => [s[0]!, s[col]!] as [number, number]);
    const mbit = (xs: Array<[number, number]>, stepS = 0.1): Array<[number, number]> =>
      rates(xs, stepS).map(([t, bps]) => [round(t, 2), round(bps / 1e6, 3)] as [number, number]);
    return {
      summary: {
        failover: {
          via: shown.via,
          endpoints: head,
          stallSeconds: stall,
          ...(head !== 'static'
            ? { stallSecondsStaticEndpoints: stallOf('static'), stallSecondsAutoSendBuffer: stallOf('auto-sndbuf') }
            : {}),
          sentSha256: shown.sentSha256,
          receivedSha256: shown.receivedSha256,
          intact: allIntact,
          runs: runs.map((r) => ({
            endpoints: r.pm,
            stallSeconds: r.stallSeconds,
            path1Rejoined: rejoined(r),
            intact: r.intact,
            bytes: r.bytes,
            sentSha256: r.sentSha256,
            receivedSha256: r.receivedSha256,
          })),
        },
      },
      metrics: [
        {
          key: 'failover.stallSeconds',
          label:
            head === 'auto'
              ? 'Fail-over stall, daemon with --endpoints auto (longest gap with ~0 goodput)'
              : 'Fail-over stall (longest gap with ~0 goodput)',
          value: stall,
          unit: 's',
          goal: { op: '<=', value: 0.5 },
          how: `lab 2 × ${RATE_MBIT} Mbit; ${o.bytes >> 20} MiB from a service activated by ${shown.via === 'mptcpd-lite' ? 'mptcpd-lite (Accept=yes, SocketProtocol=mptcp)' : 'itself over @mptcp/native (daemon not built)'} to an @mptcp/native client; path 1 down (client side, ip link set c1 down; the server's s1 loses carrier) at ${o.downAfterS} s for ${o.downForS} s; goodput sampled every 100 ms; a 100 ms step below 5 % of the median step counts as stalled; median of ${of(head).length}${head === 'auto' ? `; the daemon runs with --endpoints auto (one signal endpoint per usable server address, the lab adds none) and removes the endpoint of a link that loses carrier, so the kernel closes that subflow and reinjects its data at once` : ''}.`,
        },
        ...(head === 'auto'
          ? [
              {
                key: 'failover.stallSecondsStaticEndpoints',
                label: 'Fail-over stall, static endpoint (ip mptcp endpoint add, kernel alone)',
                value: stallOf('static'),
                unit: 's',
                how: `the same transfer through the daemon without --endpoints: the lab adds the signal endpoint for path 2 by hand and nothing reacts to the link; interleaved with the runs above (order rotating), median of ${of('static').length}.`,
              },
              {
                key: 'failover.stallSecondsAutoSendBuffer',
                label: `Fail-over stall, --endpoints auto and SendBuffer=${SNDBUF >> 10}K on the socket unit`,
                value: stallOf('auto-sndbuf'),
                unit: 's',
                how: `as the --endpoints auto runs, with SendBuffer=${SNDBUF} in the .socket unit (SO_SNDBUF on the listener, inherited by the connection): the data the kernel reinjects after closing the dead subflow no longer waits behind ~1.3 MB already queued on the other subflow; interleaved, median of ${of('auto-sndbuf').length}.`,
              },
            ]
          : []),
        {
          key: 'failover.path1Rejoined',
          label: `Fail-over runs in which path 1 carried data again after it came back (${head} endpoints)`,
          value: of(head).filter(rejoined).length,
          unit: `of ${of(head).length}`,
        },
        {
          key: 'failover.intactRuns',
          label: 'Fail-over runs with sha256(sent) = sha256(received)',
          value: runs.filter((r) => r.intact).length,
          unit: `of ${runs.length}`,
          goal: { op: '>=', value: runs.length },
        },
      ],
      data: {
        ...o,
        rateMbitPerPath: RATE_MBIT,
        runs: runs.map((r) => ({ ...r, samples: r === shown ? r.samples : [] })),
        stallsByEndpoints: Object.fromEntries(pms.map((pm) => [pm, of(pm).map((r) => r.stallSeconds)])),
      },
      charts: [
        {
          file: 'failover.svg',
          title: 'Throughput per path during fail-over',
          svg: lineChart({
            title: `Fail-over (${shown.pm} endpoints): goodput and per-path throughput (stall ${shown.stallSeconds} s, sha256 ${shown.intact ? 'equal' : 'DIFFERENT'})`,
            xLabel: 's since connect',
            yLabel: 'Mbit/s',
            bands: [{ from: shown.downAtS, to: shown.upAtS, label: 'path 1 down' }],
            series: [
              // the application reads in bursts; 300 ms buckets show the rate, the stall is computed at 100 ms
              { name: 'goodput (app, 300 ms)', points: mbit(cum(1), 0.3) },
              { name: 'path 1 (c1 rx)', points: mbit(cum(2)) },
              { name: 'path 2 (c2 rx)', points: mbit(cum(3)) },
            ],
          }),
        },
      ],
      notes: [
        `Transfer through ${shown.via}. MPTCP confirmed on the client: ${shown.mptcp === null ? 'not reported by the addon' : String(shown.mptcp)}.`,
        `sentSha256 ${shown.sentSha256}, receivedSha256 ${shown.receivedSha256}; all ${runs.length} runs intact: ${allIntact}.`,
        `Stalls per run (s): ${pms
          .map(
            (pm) =>
              `${pm} endpoints ${of(pm)
                .map((r) => r.stallSeconds)
                .join(' / ')}`,
          )
          .join('; ')}.`,
      ],
    };
  },
};
