/**
 * vethBulk: bulk transfer over a real path, a veth pair with MTU 1500 between two namespaces (no
 * rate limit), where the loopback test (64 KiB MTU) cannot see the MPTCP sender stall
 * (docs/mptcp-slow-reader-stall.md). Node TCP, Node MPTCP (@mptcp/native), C TCP and C MPTCP (the
 * reproducer docs/repro/mptcp-slow-reader.c) in the same run, interleaved, both directions, with
 * bbr and with cubic on both ends' sockets. Reports the ratios of medians and the stalls (gaps
 * > 100 ms at the receiver) per transfer.
 */
import { execFileSync } from 'node:child_process';
import { cTransfer } from '../lib/c-baseline.js';
import { freePort } from '../lib/caps.js';
import { fmtBits } from '../lib/format.js';
import { Lab } from '../lib/lab.js';
import { barChart } from '../report/svg.js';
import { round, sampled, median } from '../lib/stats.js';
import { transfer } from '../lib/transfer.js';
import type { Metric } from '../lib/result.js';
import type { Scenario } from '../lib/scenario.js';

const MiB = 1 << 20;
type Variant = 'node-tcp' | 'node-mptcp' | 'c-tcp' | 'c-mptcp';
const VARIANTS: Variant[] = ['node-tcp', 'node-mptcp', 'c-tcp', 'c-mptcp'];

function available(ns: string): string[] {
  return execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-n', 'net.ipv4.tcp_available_congestion_control'], {
    encoding: 'utf8',
  })
    .trim()
    .split(/\s+/);
}

export const veth: Scenario = {
  name: 'veth',
  title: 'Bulk transfer over veth (MTU 1500): Node MPTCP vs Node TCP vs C, bbr and cubic',
  needs: ['root', 'netns', 'mptcp'],
  async run(ctx) {
    // Node MPTCP runs with @mptcp/native's bulk tuning on both ends: clients have it by default, a
    // server that receives bulk opts in with MPTCP_BULK_TUNING=1 (servers are not tuned by default:
    // a locked 64 MiB receive buffer per accepted connection is the server's choice). The opt-in
    // write path stays off. MPTCP_BULK_TUNING=0 / MPTCP_WRITE_PATH=1 in the environment reach the
    // workers to compare.
    process.env['MPTCP_BULK_TUNING'] ??= '1';
    const bytes = ctx.quick ? 64 * MiB : 256 * MiB;
    const lab = Lab.up(`bv${process.pid % 10000}`, 'none', 'none');
    try {
      const { cliNs, srvNs, srv1 } = lab.env;
      const ccs = ['bbr', 'cubic'].filter((c) => available(srvNs).includes(c) && available(cliNs).includes(c));
      if (ccs.length === 0) throw new Error('neither bbr nor cubic is available in the lab namespaces');
      const gbit: Record<string, number[]> = {};
      const stalls: Record<string, number[]> = {};
      for (let rep = 0; rep < ctx.reps; rep++) {
        // Interleaved: every variant once per repetition, the order rotated so drift hits all.
        const order = VARIANTS.map((_, i) => VARIANTS[(i + rep) % VARIANTS.length]!);
        for (const cc of ccs) {
          for (const dir of ['up', 'down'] as const) {
            for (const v of order) {
              const [impl, transport] = v.split('-') as ['node' | 'c', 'tcp' | 'mptcp'];
              const port = await freePort();
              const sinkAt = dir === 'up' ? 'server' : 'client';
              const common = {
                transport,
                port,
                sinkAt,
                bytes,
                cc,
                serverPrefix: lab.exec('srv'),
                clientPrefix: lab.exec('cli'),
              } as const;
              let bps: number;
              let st: number;
              if (impl === 'node') {
                const r = await transfer({ ...common, host: srv1, dial: srv1 });
                if (r.sink.bytes !== bytes)
                  throw new Error(`${v} ${cc} ${dir}: received ${r.sink.bytes} of ${bytes} bytes`);
                if (transport === 'mptcp' && r.sink.mptcp === false)
                  throw new Error(`${v}: the connection fell back to TCP`);
                bps = (r.sink.bytes * 8) / r.sink.seconds;
                st = r.sink.stalls;
              } else {
                const r = await cTransfer({ ...common, dial: srv1 });
                if (r.bytes !== bytes) throw new Error(`${v} ${cc} ${dir}: received ${r.bytes} of ${bytes} bytes`);
                bps = (r.bytes * 8) / r.seconds;
                st = r.stalls;
              }
              const key = `${v}.${cc}.${dir}`;
              (gbit[key] ??= []).push(bps / 1e9);
              (stalls[key] ??= []).push(st);
              ctx.log(`rep ${rep + 1} ${cc} ${dir} ${v}: ${fmtBits(bps)}, ${st} stalls`);
            }
          }
        }
      }
      const med = (k: string): number => median(gbit[k]!);
      const metrics: Metric[] = [];
      const ratios: number[] = [];
      for (const cc of ccs) {
        for (const dir of ['up', 'down'] as const) {
          const r = round(med(`node-mptcp.${cc}.${dir}`) / med(`node-tcp.${cc}.${dir}`), 3);
          const rc = round(med(`node-mptcp.${cc}.${dir}`) / med(`c-mptcp.${cc}.${dir}`), 3);
          const rk = round(med(`c-mptcp.${cc}.${dir}`) / med(`c-tcp.${cc}.${dir}`), 3);
          ratios.push(r);
          metrics.push(
            {
              key: `veth.${cc}.${dir}.nodeRatio`,
              label: `veth ${cc} ${dir === 'up' ? 'upload' : 'download'}: Node MPTCP / Node TCP`,
              value: r,
              unit: '',
              goal: { op: '>=', value: 0.9 },
              how: `${bytes / MiB} MiB per transfer over a veth pair (MTU 1500, no shaping), ${ctx.reps} interleaved repetitions, ratio of medians; TCP_CONGESTION=${cc} on both ends.`,
            },
            {
              key: `veth.${cc}.${dir}.nodeVsC`,
              label: `veth ${cc} ${dir === 'up' ? 'upload' : 'download'}: Node MPTCP / C MPTCP`,
              value: rc,
              unit: '',
              goal: { op: '>=', value: 0.9 },
            },
            {
              key: `veth.${cc}.${dir}.cRatio`,
              label: `veth ${cc} ${dir === 'up' ? 'upload' : 'download'}: C MPTCP / C TCP (the kernel alone)`,
              value: rk,
              unit: '',
            },
            {
              key: `veth.${cc}.${dir}.nodeMptcpStalls`,
              label: `veth ${cc} ${dir === 'up' ? 'upload' : 'download'}: Node MPTCP stalls (> 100 ms) per transfer, median`,
              value: median(stalls[`node-mptcp.${cc}.${dir}`]!),
              unit: '',
            },
            {
              key: `veth.${cc}.${dir}.cMptcpStalls`,
              label: `veth ${cc} ${dir === 'up' ? 'upload' : 'download'}: C MPTCP stalls (> 100 ms) per transfer, median`,
              value: median(stalls[`c-mptcp.${cc}.${dir}`]!),
              unit: '',
            },
          );
        }
      }
      const worst = round(Math.min(...ratios), 3);
      return {
        summary: { vethNodeMptcpTcpRatioWorst: worst },
        metrics: [
          {
            key: 'vethRatioWorst',
            label: 'veth MTU 1500, worst of (cc × direction): Node MPTCP / Node TCP',
            value: worst,
            unit: '',
            goal: { op: '>=', value: 0.9 },
            how: 'the smallest of the per-congestion-control, per-direction ratios below',
          },
          ...metrics,
        ],
        data: {
          bytesPerTransfer: bytes,
          congestionControls: ccs,
          gbit: Object.fromEntries(Object.entries(gbit).map(([k, v]) => [k, sampled(v)])),
          stalls: Object.fromEntries(Object.entries(stalls).map(([k, v]) => [k, v])),
        },
        charts: [
          {
            file: 'veth.svg',
            title: 'Bulk over veth MTU 1500',
            svg: barChart({
              title: `Bulk over veth (MTU 1500), ${bytes / MiB} MiB per transfer (median of ${ctx.reps})`,
              yLabel: 'Gbit/s',
              series: ['Node TCP', 'Node MPTCP', 'C TCP', 'C MPTCP'],
              groups: ccs.flatMap((cc) =>
                (['up', 'down'] as const).map((dir) => ({
                  label: `${cc} ${dir === 'up' ? 'upload' : 'download'}`,
                  values: VARIANTS.map((v) => round(med(`${v}.${cc}.${dir}`), 3)),
                })),
              ),
            }),
          },
        ],
        notes: [
          'A stall is a gap of more than 100 ms between two reads at the receiver: the MPTCP retransmission timer (≈200 ms) ending a sender stall (docs/mptcp-slow-reader-stall.md).',
          'C = docs/repro/mptcp-slow-reader.c (64 KiB reads, no pause), the same binary that reproduces the stall.',
        ],
      };
    } finally {
      lab.down();
    }
  },
};
