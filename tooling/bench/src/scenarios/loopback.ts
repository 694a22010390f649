/**
 * loopbackRatio: Node over @mptcp/native MPTCP vs Node over plain TCP, bulk transfer on 127.0.0.1,
 * 1 GiB each way per repetition, with bbr and with cubic (TCP_CONGESTION on both ends' sockets;
 * on MPTCP the kernel applies it to the subflows), the transports interleaved so drift hits all
 * equally. In the same repetitions, the kernel alone: docs/repro/mptcp-loopback-bench.c (C, no
 * Node, 1 MiB reads and writes as the read path) for TCP and MPTCP, so the report shows the
 * kernel's own MPTCP / TCP ratio — the ceiling for any user-space library — beside Node's.
 */
import { freePort } from '../lib/caps.js';
import { cLoopback, type CLoopbackResult } from '../lib/c-loopback.js';
import { fmtBits } from '../lib/format.js';
import { barChart } from '../report/svg.js';
import { median, round, sampled } from '../lib/stats.js';
import { transfer } from '../lib/transfer.js';
import type { Metric } from '../lib/result.js';
import type { Scenario } from '../lib/scenario.js';
import type { Transport } from '../lib/sockets.js';

const GiB = 1 << 30;
const CCS = ['bbr', 'cubic'] as const;
const DIRS = ['up', 'down'] as const;
/** The buffers @mptcp/native presets before the handshake for bulk sockets (write-path.ts). */
const NATIVE_PRESET = 64 << 20;

export const loopback: Scenario = {
  name: 'loopback',
  title: 'Loopback bulk transfer: MPTCP (@mptcp/native) vs TCP, bbr and cubic, beside the kernel alone (C)',
  needs: ['mptcp'],
  async run(ctx) {
    // As the veth scenario: MPTCP runs with @mptcp/native's defaults plus the server's opt-in to
    // the 64 MiB buffer presets (MPTCP_BULK_TUNING=1: a server that receives bulk chooses it; by
    // default servers only grow their send buffer). The read path is on by default; the
    // 'mptcp0' runs (bbr only) turn it off, the 'mptcpS0' runs (bbr only) leave out the send-buffer
    // preset (MPTCP_BULK_SNDBUF=0). MPTCP_BULK_TUNING in the environment reaches the workers.
    process.env['MPTCP_BULK_TUNING'] ??= '1';
    const bytes = ctx.quick ? GiB / 8 : GiB;
    // Keys: `${variant}-${cc}-${dir}`; variant: tcp | mptcp | mptcp0 | mptcpS0 (Node), ctcp | cmptcp |
    // cmptcp64 (C; cmptcp64: send and receive buffers preset to 64 MiB before the handshake, as
    // @mptcp/native does for its bulk sockets).
    const rates: Record<string, number[]> = {};
    const cRuns: Record<string, CLoopbackResult[]> = {};
    const push = (key: string, v: number): void => void (rates[key] ??= []).push(v);
    const maxReads: number[] = [];
    const stalls: Record<string, number[]> = {};
    // Node: CPU seconds per GiB of both processes (sink + source), per key.
    const nodeCpu: Record<string, number[]> = {};
    const savedReadPath = process.env['MPTCP_READ_PATH'];
    const savedSndbuf = process.env['MPTCP_BULK_SNDBUF'];
    const restore = (name: string, saved: string | undefined): void => {
      if (saved === undefined) delete process.env[name];
      else process.env[name] = saved;
    };
    let confirmed: boolean | null = null;
    const reps = ctx.quick ? ctx.reps : Math.max(ctx.reps, 5);
    for (let rep = 0; rep < reps; rep++) {
      for (const cc of CCS) {
        const variants: Array<Transport | 'mptcp0' | 'mptcpS0' | 'ctcp' | 'cmptcp' | 'cmptcp64'> =
          cc === 'bbr'
            ? ['tcp', 'mptcp', 'mptcp0', 'mptcpS0', 'ctcp', 'cmptcp', 'cmptcp64']
            : ['tcp', 'mptcp', 'ctcp', 'cmptcp', 'cmptcp64'];
        const order = variants.map((_, i) => variants[(i + rep) % variants.length]!);
        for (const dir of DIRS) {
          for (const variant of order) {
            const key = `${variant}-${cc}-${dir}`;
            if (variant === 'ctcp' || variant === 'cmptcp' || variant === 'cmptcp64') {
              const r = await cLoopback({
                transport: variant === 'ctcp' ? 'tcp' : 'mptcp',
                dir,
                bytes,
                cc,
                ...(variant === 'cmptcp64' && { bufferPreset: NATIVE_PRESET }),
              });
              (cRuns[key] ??= []).push(r);
              push(key, r.gbit * 1e9);
              (stalls[key] ??= []).push(r.stalls);
              ctx.log(
                `rep ${rep + 1} ${cc} C ${variant.slice(1)} ${dir}: ${fmtBits(r.gbit * 1e9)}, ${r.stalls} stalls`,
              );
              continue;
            }
            const transport: Transport = variant === 'tcp' ? 'tcp' : 'mptcp';
            if (variant === 'mptcp0') process.env['MPTCP_READ_PATH'] = '0';
            else restore('MPTCP_READ_PATH', savedReadPath);
            if (variant === 'mptcpS0') process.env['MPTCP_BULK_SNDBUF'] = '0';
            else restore('MPTCP_BULK_SNDBUF', savedSndbuf);
            const port = await freePort();
            const r = await transfer({
              transport,
              host: '127.0.0.1',
              port,
              sinkAt: dir === 'up' ? 'server' : 'client',
              bytes,
              cc,
            });
            if (r.sink.bytes !== bytes)
              throw new Error(`${transport} ${cc} ${dir}: received ${r.sink.bytes} of ${bytes} bytes`);
            if (transport === 'mptcp') confirmed = confirmed === false ? false : r.sink.mptcp;
            if (transport === 'tcp' && r.sink.mptcp === true) throw new Error('plain TCP run reported MPTCP');
            const bps = (r.sink.bytes * 8) / r.sink.seconds;
            push(key, bps);
            (stalls[key] ??= []).push(r.sink.stalls);
            if (r.sink.cpuSeconds !== undefined && r.source.cpuSeconds !== undefined)
              (nodeCpu[key] ??= []).push((r.sink.cpuSeconds + r.source.cpuSeconds) / (bytes / GiB));
            if (variant === 'mptcp' && r.sink.readPath) maxReads.push(r.sink.readPath.maxRead);
            ctx.log(`rep ${rep + 1} ${cc} ${variant} ${dir}: ${fmtBits(bps)}, ${r.sink.stalls} stalls`);
          }
        }
      }
    }
    restore('MPTCP_READ_PATH', savedReadPath);
    restore('MPTCP_BULK_SNDBUF', savedSndbuf);
    if (confirmed === false) throw new Error('MPTCP runs fell back to TCP (mptcpStatus says not active)');
    const s = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, sampled(v)]));
    const med = (k: string): number => s[k]!.median;
    const ratio = (a: string, b: string): number => round(med(a) / med(b), 3);
    const cells = CCS.flatMap((cc) => DIRS.map((dir) => ({ cc, dir, tag: `${cc}-${dir}` })));
    const nodeRatios = cells.map((c) => ratio(`mptcp-${c.tag}`, `tcp-${c.tag}`));
    const cRatios = cells.map((c) => ratio(`cmptcp-${c.tag}`, `ctcp-${c.tag}`));
    const c64Ratios = cells.map((c) => ratio(`cmptcp64-${c.tag}`, `ctcp-${c.tag}`));
    const worst = Math.min(...nodeRatios);
    const worstC = Math.min(...cRatios);
    const worstC64 = Math.min(...c64Ratios);
    // CPU per GiB of both C processes (user + sys; softirq work runs in them on loopback): a
    // load-independent view of what MPTCP costs the kernel per byte.
    const cpu = (key: string): number =>
      round(median((cRuns[key] ?? []).map((r) => r.send_usr + r.send_sys + r.recv_usr + r.recv_sys)), 3);
    const cpuRatios = cells.map((c) => round(cpu(`ctcp-${c.tag}`) / cpu(`cmptcp-${c.tag}`), 3));
    const nCpu = (key: string): number => round(median(nodeCpu[key] ?? [Number.NaN]), 3);
    const nodeCpuRatios = cells.map((c) => round(nCpu(`tcp-${c.tag}`) / nCpu(`mptcp-${c.tag}`), 3));
    const gbit = (k: string): number => round(med(k) / 1e9, 3);
    const stallText = (k: string): string => (stalls[k] ?? []).join('/');
    const perCell: Metric[] = cells.flatMap((c, i) => [
      {
        key: `loopback.${c.cc}.${c.dir}`,
        label: `Loopback ${c.cc} ${c.dir === 'up' ? 'upload' : 'download'}: Node MPTCP / Node TCP`,
        value: nodeRatios[i]!,
        unit: '',
        goal: { op: '>=', value: 0.9 },
      },
      {
        key: `loopback.${c.cc}.${c.dir}.c`,
        label: `Loopback ${c.cc} ${c.dir === 'up' ? 'upload' : 'download'}: C MPTCP / C TCP (kernel alone, default buffers)`,
        value: cRatios[i]!,
        unit: '',
      },
      {
        key: `loopback.${c.cc}.${c.dir}.c64`,
        label: `Loopback ${c.cc} ${c.dir === 'up' ? 'upload' : 'download'}: C MPTCP with @mptcp/native's 64 MiB buffer presets / C TCP`,
        value: c64Ratios[i]!,
        unit: '',
      },
      {
        key: `loopback.${c.cc}.${c.dir}.cCpu`,
        label: `Loopback ${c.cc} ${c.dir === 'up' ? 'upload' : 'download'}: C TCP CPU per GiB / C MPTCP CPU per GiB (both processes)`,
        value: cpuRatios[i]!,
        unit: '',
      },
      {
        key: `loopback.${c.cc}.${c.dir}.nodeCpu`,
        label: `Loopback ${c.cc} ${c.dir === 'up' ? 'upload' : 'download'}: Node TCP CPU per GiB / Node MPTCP CPU per GiB (both processes)`,
        value: nodeCpuRatios[i]!,
        unit: '',
      },
    ]);
    return {
      summary: { loopbackRatio: worst, loopbackKernelRatio: worstC },
      metrics: [
        {
          key: 'loopbackRatio',
          label: 'Loopback, worst of (cc × direction): Node MPTCP / Node TCP',
          value: worst,
          unit: '',
          goal: { op: '>=', value: 0.9 },
          how: `Node bulk transfer on 127.0.0.1, ${bytes / GiB} GiB per run, ${reps} runs per transport, cc (bbr, cubic) and direction, interleaved with the C runs; ratio of medians per cell, the worst cell reported. MPTCP: @mptcp/native defaults (read path on), MPTCP_BULK_TUNING=${process.env['MPTCP_BULK_TUNING']} (1: the server opts in to the buffer presets, as a bulk-receiving server does).`,
        },
        {
          key: 'loopbackCpuRatio',
          label: 'Loopback, worst of (cc × direction): Node TCP CPU per GiB / Node MPTCP CPU per GiB',
          value: Math.min(...nodeCpuRatios),
          unit: '',
          how: 'CPU seconds (user + system, all threads) of both Node processes per GiB moved, medians of the same runs: what MPTCP costs per byte, the figure a loaded machine does not blur (there the rates mostly say how much CPU each run got). 1 = as cheap as TCP.',
        },
        {
          key: 'loopbackKernelRatio',
          label: 'Loopback, worst of (cc × direction): C MPTCP / C TCP — the kernel alone, the ceiling for Node',
          value: worstC,
          unit: '',
          how: 'docs/repro/mptcp-loopback-bench.c in the same repetitions: sender and receiver processes in C, 1 MiB writes and reads, default buffers, same cc; no Node. docs/mptcp-loopback.md sweeps every user-space knob with it.',
        },
        {
          key: 'loopbackKernelRatio64',
          label:
            "Loopback, worst of (cc × direction): C MPTCP with @mptcp/native's 64 MiB buffer presets / C TCP (defaults)",
          value: worstC64,
          unit: '',
        },
        ...perCell,
        {
          key: 'loopback.bbr.uploadRatioNoReadPath',
          label: 'Loopback bbr upload, MPTCP with MPTCP_READ_PATH=0 (64 KiB reads) / TCP',
          value: ratio('mptcp0-bbr-up', 'tcp-bbr-up'),
          unit: '',
          how: 'the same runs, interleaved: @mptcp/native with its read path off (net reads 64 KiB per recvmsg), to show what the read path does.',
        },
        {
          key: 'loopback.bbr.downloadRatioNoReadPath',
          label: 'Loopback bbr download, MPTCP with MPTCP_READ_PATH=0 (64 KiB reads) / TCP',
          value: ratio('mptcp0-bbr-down', 'tcp-bbr-down'),
          unit: '',
        },
        {
          key: 'loopback.bbr.uploadRatioNoSendPreset',
          label: 'Loopback bbr upload, MPTCP with MPTCP_BULK_SNDBUF=0 (no send-buffer preset) / TCP',
          value: ratio('mptcpS0-bbr-up', 'tcp-bbr-up'),
          unit: '',
          how: 'the same runs, interleaved: @mptcp/native without the 64 MiB send-buffer preset before the handshake (the buffer then only grows after a 4 ms stall), to show what the preset does.',
        },
        {
          key: 'loopback.bbr.downloadRatioNoSendPreset',
          label: 'Loopback bbr download, MPTCP with MPTCP_BULK_SNDBUF=0 (no send-buffer preset) / TCP',
          value: ratio('mptcpS0-bbr-down', 'tcp-bbr-down'),
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
        { key: 'loopback.tcpGbit', label: 'Loopback Node TCP (bbr upload)', value: gbit('tcp-bbr-up'), unit: 'Gbit/s' },
        {
          key: 'loopback.mptcpGbit',
          label: 'Loopback Node MPTCP (bbr upload)',
          value: gbit('mptcp-bbr-up'),
          unit: 'Gbit/s',
        },
        { key: 'loopback.cTcpGbit', label: 'Loopback C TCP (bbr upload)', value: gbit('ctcp-bbr-up'), unit: 'Gbit/s' },
        {
          key: 'loopback.cMptcpGbit',
          label: 'Loopback C MPTCP (bbr upload)',
          value: gbit('cmptcp-bbr-up'),
          unit: 'Gbit/s',
        },
      ],
      data: {
        bytesPerRun: bytes,
        mptcpConfirmed: confirmed,
        bitsPerSecond: s,
        stallsPerRun: stalls,
        nodeCpuSecondsPerGiB: Object.fromEntries(Object.keys(nodeCpu).map((k) => [k, nCpu(k)])),
        cCpuSecondsPerGiB: Object.fromEntries(Object.keys(cRuns).map((k) => [k, cpu(k)])),
      },
      charts: [
        {
          file: 'loopback.svg',
          title: 'Loopback bulk throughput',
          svg: barChart({
            title: `Loopback bulk transfer, ${bytes / GiB} GiB per run (median of ${reps})`,
            yLabel: 'Gbit/s',
            series: ['Node TCP', 'Node MPTCP (@mptcp/native)', 'C TCP', 'C MPTCP'],
            groups: cells.map((c) => ({
              label: `${c.cc} ${c.dir === 'up' ? 'upload' : 'download'}`,
              values: [gbit(`tcp-${c.tag}`), gbit(`mptcp-${c.tag}`), gbit(`ctcp-${c.tag}`), gbit(`cmptcp-${c.tag}`)],
            })),
          }),
        },
      ],
      notes: [
        `MPTCP confirmed on the connections: ${confirmed === null ? 'not reported by the addon' : String(confirmed)}.`,
        `Stalls (> 100 ms between reads) per run, MPTCP: ${cells
          .map(
            (c) =>
              `${c.tag} Node ${stallText(`mptcp-${c.tag}`)}, C ${stallText(`cmptcp-${c.tag}`)}, C+64 MiB ${stallText(`cmptcp64-${c.tag}`)}`,
          )
          .join('; ')}.`,
        'Node ratio ÷ kernel ratio close to 1 means Node adds no cost of its own over MPTCP: the gap is the kernel (docs/mptcp-loopback.md).',
      ],
    };
  },
};
