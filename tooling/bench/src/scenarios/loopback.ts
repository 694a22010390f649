/**
 * loopbackRatio: Node over @mptcp/native MPTCP vs Node over plain TCP, bulk transfer on 127.0.0.1,
 * 1 GiB each way per repetition, the two transports interleaved so drift hits both equally.
 */
import { freePort, missing } from '../lib/caps.js';
import { pythonLoopback } from '../lib/python-baseline.js';
import { fmtBits } from '../lib/format.js';
import { barChart } from '../report/svg.js';
import { geomean, median, round, sampled } from '../lib/stats.js';
import { transfer } from '../lib/transfer.js';
import type { Scenario } from '../lib/scenario.js';
import type { Transport } from '../lib/sockets.js';

const GiB = 1 << 30;

export const loopback: Scenario = {
  name: 'loopback',
  title: 'Loopback bulk transfer: MPTCP (@mptcp/native) vs TCP',
  needs: ['mptcp'],
  async run(ctx) {
    // As the veth scenario: MPTCP runs with @mptcp/native's defaults plus the server's opt-in to
    // the 64 MiB receive preset (MPTCP_BULK_TUNING=1: a server that receives bulk chooses it; by
    // default servers only grow their send buffer). The read path is on by default; the
    // 'mptcp0' runs turn it off. MPTCP_BULK_TUNING in the environment reaches the workers.
    process.env['MPTCP_BULK_TUNING'] ??= '1';
    const bytes = ctx.quick ? GiB / 8 : GiB;
    // 'mptcp0': @mptcp/native with its read path off (MPTCP_READ_PATH=0): net's 64 KiB reads.
    const rates: Record<string, number[]> = {
      'tcp-up': [],
      'tcp-down': [],
      'mptcp-up': [],
      'mptcp-down': [],
      'mptcp0-up': [],
      'mptcp0-down': [],
    };
    const maxReads: number[] = [];
    const savedReadPath = process.env['MPTCP_READ_PATH'];
    let confirmed: boolean | null = null;
    const reps = ctx.quick ? ctx.reps : Math.max(ctx.reps, 5);
    for (let rep = 0; rep < reps; rep++) {
      const variants: Array<Transport | 'mptcp0'> = ['tcp', 'mptcp', 'mptcp0'];
      const order = variants.map((_, i) => variants[(i + rep) % variants.length]!);
      for (const dir of ['up', 'down'] as const) {
        for (const variant of order) {
          const transport: Transport = variant === 'tcp' ? 'tcp' : 'mptcp';
          if (variant === 'mptcp0') process.env['MPTCP_READ_PATH'] = '0';
          else if (savedReadPath === undefined) delete process.env['MPTCP_READ_PATH'];
          else process.env['MPTCP_READ_PATH'] = savedReadPath;
          const port = await freePort();
          const r = await transfer({
            transport,
            host: '127.0.0.1',
            port,
            sinkAt: dir === 'up' ? 'server' : 'client',
            bytes,
          });
          if (r.sink.bytes !== bytes)
            throw new Error(`${transport} ${dir}: received ${r.sink.bytes} of ${bytes} bytes`);
          if (transport === 'mptcp') confirmed = confirmed === false ? false : r.sink.mptcp;
          if (transport === 'tcp' && r.sink.mptcp === true) throw new Error('plain TCP run reported MPTCP');
          const bps = (r.sink.bytes * 8) / r.sink.seconds;
          rates[`${variant}-${dir}`]!.push(bps);
          if (variant === 'mptcp' && r.sink.readPath) maxReads.push(r.sink.readPath.maxRead);
          ctx.log(`rep ${rep + 1} ${variant} ${dir}: ${fmtBits(bps)}, ${r.sink.stalls} stalls`);
        }
      }
    }
    if (savedReadPath === undefined) delete process.env['MPTCP_READ_PATH'];
    else process.env['MPTCP_READ_PATH'] = savedReadPath;
    if (confirmed === false) throw new Error('MPTCP runs fell back to TCP (mptcpStatus says not active)');
    // Sanity check, not a reported ratio: the kernel alone (Python), reading 64 KiB per recv as
    // Node does, and 1 MiB per recv.
    const kernel: Record<string, number[]> = { 'tcp-64k': [], 'mptcp-64k': [], 'tcp-1m': [], 'mptcp-1m': [] };
    if (missing(['python3']) === null) {
      for (let rep = 0; rep < ctx.reps; rep++) {
        for (const [key, proto, rb] of [
          ['tcp-64k', 6, 65536],
          ['mptcp-64k', 262, 65536],
          ['tcp-1m', 6, 1 << 20],
          ['mptcp-1m', 262, 1 << 20],
        ] as const) {
          kernel[key]!.push(await pythonLoopback(proto, bytes, rb));
        }
      }
    }
    const k = Object.fromEntries(
      Object.entries(kernel)
        .filter(([, v]) => v.length)
        .map(([key, v]) => [key, sampled(v)]),
    );
    const kernelRatio64k =
      k['mptcp-64k'] && k['tcp-64k'] ? round(k['mptcp-64k'].median / k['tcp-64k'].median, 3) : null;
    const kernelRatio1m = k['mptcp-1m'] && k['tcp-1m'] ? round(k['mptcp-1m'].median / k['tcp-1m'].median, 3) : null;
    if (kernelRatio64k !== null)
      ctx.log(`kernel (Python) MPTCP/TCP: ${kernelRatio64k} with 64 KiB reads, ${kernelRatio1m} with 1 MiB reads`);
    const s = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, sampled(v)]));
    const up = s['mptcp-up']!.median / s['tcp-up']!.median;
    const down = s['mptcp-down']!.median / s['tcp-down']!.median;
    const ratio = round(geomean([up, down]), 3);
    const up0 = s['mptcp0-up']!.median / s['tcp-up']!.median;
    const down0 = s['mptcp0-down']!.median / s['tcp-down']!.median;
    const gbit = (k: string): number => round(s[k]!.median / 1e9, 3);
    return {
      summary: { loopbackRatio: ratio },
      metrics: [
        {
          key: 'loopbackRatio',
          label: 'Loopback throughput, MPTCP / TCP',
          value: ratio,
          unit: '',
          goal: { op: '>=', value: 0.95 },
          how: `Node bulk transfer on 127.0.0.1, ${bytes / GiB} GiB each way per run, ${reps} runs per transport and direction, interleaved; geometric mean of the upload and download ratios of medians. MPTCP: @mptcp/native defaults (read path on), MPTCP_BULK_TUNING=${process.env['MPTCP_BULK_TUNING']} (1: the server opts in to the receive preset, as a bulk-receiving server does).`,
        },
        { key: 'loopback.uploadRatio', label: 'Loopback upload, MPTCP / TCP', value: round(up, 3), unit: '' },
        { key: 'loopback.downloadRatio', label: 'Loopback download, MPTCP / TCP', value: round(down, 3), unit: '' },
        {
          key: 'loopback.uploadRatioNoReadPath',
          label: 'Loopback upload, MPTCP with MPTCP_READ_PATH=0 (64 KiB reads) / TCP',
          value: round(up0, 3),
          unit: '',
          how: 'the same runs, interleaved: @mptcp/native with its read path off (net reads 64 KiB per recvmsg), to show what the read path does.',
        },
        {
          key: 'loopback.downloadRatioNoReadPath',
          label: 'Loopback download, MPTCP with MPTCP_READ_PATH=0 (64 KiB reads) / TCP',
          value: round(down0, 3),
          unit: '',
        },
        ...(maxReads.length
          ? [
              {
                key: 'loopback.maxReadKiB',
                label: 'Loopback MPTCP: largest single read at the receiver (read path), median over runs',
                value: round(median(maxReads) / 1024, 0),
                unit: 'KiB',
              },
            ]
          : []),
        ...(kernelRatio64k !== null && kernelRatio1m !== null
          ? [
              {
                key: 'loopback.kernelRatio64k',
                label: 'Sanity: kernel alone (Python), MPTCP / TCP, 64 KiB reads',
                value: kernelRatio64k,
                unit: '',
                how: 'the same transfer between two Python threads (no Node, no addon), recv_into 64 KiB as Node reads; shows what MPTCP itself costs on loopback.',
              },
              {
                key: 'loopback.kernelRatio1m',
                label: 'Sanity: kernel alone (Python), MPTCP / TCP, 1 MiB reads',
                value: kernelRatio1m,
                unit: '',
              },
            ]
          : []),
        { key: 'loopback.tcpGbit', label: 'Loopback TCP (upload)', value: gbit('tcp-up'), unit: 'Gbit/s' },
        { key: 'loopback.mptcpGbit', label: 'Loopback MPTCP (upload)', value: gbit('mptcp-up'), unit: 'Gbit/s' },
      ],
      data: { bytesPerRun: bytes, mptcpConfirmed: confirmed, bitsPerSecond: s, kernelPythonBitsPerSecond: k },
      charts: [
        {
          file: 'loopback.svg',
          title: 'Loopback bulk throughput',
          svg: barChart({
            title: `Loopback bulk transfer, ${bytes / GiB} GiB per run (median of ${reps})`,
            yLabel: 'Gbit/s',
            series: ['TCP (node:net)', 'MPTCP (@mptcp/native)', 'MPTCP, MPTCP_READ_PATH=0'],
            groups: [
              { label: 'upload (client → server)', values: [gbit('tcp-up'), gbit('mptcp-up'), gbit('mptcp0-up')] },
              {
                label: 'download (server → client)',
                values: [gbit('tcp-down'), gbit('mptcp-down'), gbit('mptcp0-down')],
              },
              ...(k['tcp-64k'] && k['mptcp-64k']
                ? [
                    {
                      label: 'sanity: kernel alone (Python, 64 KiB reads)',
                      values: [round(k['tcp-64k'].median / 1e9, 3), round(k['mptcp-64k'].median / 1e9, 3), 0],
                    },
                  ]
                : []),
            ],
          }),
        },
      ],
      notes: [
        `MPTCP confirmed on the connections: ${confirmed === null ? 'not reported by the addon' : String(confirmed)}.`,
      ],
    };
  },
};
