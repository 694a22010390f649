/**
 * `mptcpd-lite proxy` vs systemd-socket-proxyd, same backend, same client, one run: a Node bulk
 * source uploads through each proxy to a Node bulk sink on 127.0.0.1 (unshaped, so the proxy's own
 * cost shows). Both proxies relay TCP to TCP; a third series has the client speak MPTCP to
 * `proxy --mptcp require` (the use case: an MPTCP front for a TCP-only backend).
 * systemd-socket-proxyd runs socket-activated (systemd-socket-activate), as in production.
 */
import { existsSync } from 'node:fs';
import { socketActivate } from '../lib/baseline.js';
import { freePort } from '../lib/caps.js';
import { DAEMON_CLI, worker } from '../lib/paths.js';
import { start, type Running } from '../lib/proc.js';
import { Skip } from '../lib/result.js';
import { median, round, sampled } from '../lib/stats.js';
import { barChart } from '../report/svg.js';
import type { Context, Scenario } from '../lib/scenario.js';

const SOCKET_PROXYD = ['/lib/systemd/systemd-socket-proxyd', '/usr/lib/systemd/systemd-socket-proxyd'].find((p) =>
  existsSync(p),
);
type Who = 'socket-proxyd' | 'proxy' | 'proxy-mptcp';

/** One upload of `seconds` through the proxy at `front` to a sink on `backendPort`; bytes/s at the sink. */
async function upload(
  front: number,
  backendPort: number,
  transport: 'tcp' | 'mptcp',
  seconds: number,
): Promise<number> {
  const sink = start(process.execPath, [
    worker('bulk'),
    'serve',
    '--transport',
    'tcp',
    '--host',
    '127.0.0.1',
    '--port',
    String(backendPort),
    '--role',
    'sink',
  ]);
  try {
    await sink.waitFor(/^LISTENING/, 10_000);
    const source = start(process.execPath, [
      worker('bulk'),
      'connect',
      '--transport',
      transport,
      '--host',
      '127.0.0.1',
      '--port',
      String(front),
      '--role',
      'source',
      '--seconds',
      String(seconds),
    ]);
    const [sc] = await Promise.all([source.exited, sink.exited]);
    if (sc !== 0) throw new Error(`source failed: ${source.stderr.slice(-3).join(' | ')}`);
    const line = [...sink.stdout].reverse().find((l) => l.startsWith('{'));
    if (!line) throw new Error('sink: no result');
    const r = JSON.parse(line) as { bytes: number; seconds: number };
    return r.bytes / r.seconds;
  } finally {
    await sink.stop('SIGKILL');
  }
}

async function startFront(who: Who, backendPort: number): Promise<{ port: number; proc: Running }> {
  const port = await freePort();
  if (who === 'socket-proxyd')
    return { port, proc: await socketActivate(`127.0.0.1:${port}`, [], [SOCKET_PROXYD!, `127.0.0.1:${backendPort}`]) };
  const proc = start(process.execPath, [
    DAEMON_CLI,
    'proxy',
    '--listen',
    `127.0.0.1:${port}`,
    '--mptcp',
    who === 'proxy' ? 'off' : 'require',
    '--json',
    `127.0.0.1:${backendPort}`,
  ]);
  await proc.waitFor(/"event":"ready"/, 15_000);
  return { port, proc };
}

export const proxy: Scenario = {
  name: 'proxy',
  title: 'mptcpd-lite proxy vs systemd-socket-proxyd (bulk upload through each, 127.0.0.1)',
  needs: ['systemd-socket-activate', 'mptcp'],
  async run(ctx: Context) {
    if (!SOCKET_PROXYD) throw new Skip('systemd-socket-proxyd not installed');
    if (!existsSync(DAEMON_CLI)) throw new Skip(`${DAEMON_CLI} missing: build apps/mptcpd-lite`);
    const seconds = ctx.quick ? 2 : 5;
    const reps = ctx.quick ? ctx.reps : Math.max(ctx.reps, 5);
    const samples: Record<Who, number[]> = { 'socket-proxyd': [], proxy: [], 'proxy-mptcp': [] };
    const order: Who[] = ['socket-proxyd', 'proxy', 'proxy-mptcp'];
    for (let rep = 0; rep < reps; rep++) {
      // Rotate the order: the machine is shared, so no series always runs first or last.
      for (const who of [...order.slice(rep % 3), ...order.slice(0, rep % 3)]) {
        const backendPort = await freePort();
        const front = await startFront(who, backendPort);
        try {
          const bps = await upload(front.port, backendPort, who === 'proxy-mptcp' ? 'mptcp' : 'tcp', seconds);
          samples[who].push(bps);
          ctx.log(`${who}: ${round((bps * 8) / 1e9, 3)} Gbit/s`);
        } finally {
          await front.proc.stop();
        }
      }
    }
    const m = (w: Who): number => median(samples[w]);
    const ratio = round(m('proxy') / m('socket-proxyd'), 3);
    const gbit = (w: Who): number => round((m(w) * 8) / 1e9, 3);
    return {
      metrics: [
        {
          key: 'proxy.throughputRatio',
          label: 'mptcpd-lite proxy / systemd-socket-proxyd throughput (TCP→TCP, loopback)',
          value: ratio,
          unit: '×',
          goal: { op: '>=', value: 0.9 },
          how: `Node bulk upload for ${seconds} s through each proxy to a Node sink on 127.0.0.1, ${reps} runs each, order rotated; ratio of medians.`,
        },
        {
          key: 'proxy.socketProxydGbit',
          label: 'systemd-socket-proxyd (splice)',
          value: gbit('socket-proxyd'),
          unit: 'Gbit/s',
        },
        { key: 'proxy.proxyGbit', label: 'mptcpd-lite proxy, TCP client', value: gbit('proxy'), unit: 'Gbit/s' },
        {
          key: 'proxy.proxyMptcpGbit',
          label: 'mptcpd-lite proxy, MPTCP client (--mptcp require)',
          value: gbit('proxy-mptcp'),
          unit: 'Gbit/s',
        },
      ],
      summary: { proxyThroughputRatio: ratio },
      data: {
        seconds,
        reps,
        bytesPerSecond: {
          socketProxyd: sampled(samples['socket-proxyd']),
          proxy: sampled(samples.proxy),
          proxyMptcp: sampled(samples['proxy-mptcp']),
        },
      },
      charts: [
        {
          file: 'proxy.svg',
          title: 'Proxy throughput',
          svg: barChart({
            title: `Bulk upload through a proxy on 127.0.0.1 (median of ${reps})`,
            yLabel: 'Gbit/s',
            series: ['systemd-socket-proxyd', 'mptcpd-lite proxy', 'mptcpd-lite proxy (MPTCP client)'],
            groups: [{ label: 'upload', values: [gbit('socket-proxyd'), gbit('proxy'), gbit('proxy-mptcp')] }],
          }),
        },
      ],
      notes: [
        'systemd-socket-proxyd relays with splice(2) (no copy to user space); mptcpd-lite proxy (default --relay auto) relays with splice(2) too, through @mptcp/native spliceRelay (uv_poll in the addon, no byte in JS).',
      ],
    };
  },
};
