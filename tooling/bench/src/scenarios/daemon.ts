/**
 * mptcpd-lite with 1,000 socket units: start-up time (spawn to READY=1) and idle RSS.
 */
import { execFileSync, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { daemonAvailable, startDaemon } from '../lib/daemon.js';
import { rssBytes, sleep, start } from '../lib/proc.js';
import { Skip } from '../lib/result.js';
import { round, sampled } from '../lib/stats.js';
import { writeAcceptUnit } from '../lib/units.js';
import type { Scenario } from '../lib/scenario.js';

/** Seconds from spawn to exit of `node -e 0` with `env` over this environment. */
function bootSeconds(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, ['-e', '0'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve((performance.now() - t0) / 1000) : reject(new Error(`node -e 0 exited ${code}`)),
    );
  });
}

/** Unit sockets bind 127.0.0.2:20000+i: below the ephemeral range, away from anything on 127.0.0.1. */
export const UNIT_HOST = '127.0.0.2';
export const UNIT_PORT_BASE = 20000;

export function writeManyAcceptUnits(dir: string, count: number, o: { mptcp: boolean; maxConnections?: number }): void {
  for (let i = 0; i < count; i++) {
    writeAcceptUnit(dir, {
      name: `u${i}`,
      listen: `${UNIT_HOST}:${UNIT_PORT_BASE + i}`,
      exec: '/bin/cat',
      mptcp: o.mptcp,
      maxConnections: o.maxConnections ?? 1024,
    });
  }
}

/**
 * CPU seconds (user + system) the daemon used from exec to ready, from its ready line (`cpuMs`): on a
 * shared machine wall time grows with the load, CPU time much less. NaN when the daemon did not say.
 */
function readyCpuSeconds(ready: Record<string, unknown>): number {
  return typeof ready.cpuMs === 'number' ? ready.cpuMs / 1000 : Number.NaN;
}

/** Listening sockets on UNIT_HOST, counted by ss. */
export function listeningOnUnitHost(): number {
  const out = execFileSync('ss', ['-Hltn', 'src', UNIT_HOST], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim()).length;
}

export const daemon: Scenario = {
  name: 'daemon',
  title: 'mptcpd-lite with 1,000 and 5,000 socket units: start-up time and idle RSS',
  needs: ['mptcp', 'python3'],
  async run(ctx) {
    if (!daemonAvailable()) throw new Skip('apps/mptcpd-lite is not built (dist/cli.cjs missing)');
    const count = 1000;
    const units = join(ctx.tmp, 'units');
    writeManyAcceptUnits(units, count, { mptcp: true });
    const load = loadavg()[0] ?? Number.NaN;
    const startup: number[] = [];
    const startupCpu: number[] = [];
    const rss: number[] = [];
    let readyBy = '';
    let listening = 0;
    // The same start-up as a service manager would run it, without this shell's NODE_EXTRA_CA_CERTS:
    // with it set, every Node process parses the bundle's and the file's CA certificates before
    // running any JavaScript (~45 ms here). Interleaved with the regular reps; only when it is set.
    const extraCa = process.env.NODE_EXTRA_CA_CERTS ? process.env.NODE_EXTRA_CA_CERTS : undefined;
    const cleanStartup: number[] = [];
    const nodeBoot: number[] = [];
    const nodeBootClean: number[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      // What Node itself costs from spawn to exit of an empty script, beside each daemon start.
      nodeBoot.push(await bootSeconds({}));
      if (extraCa) {
        nodeBootClean.push(await bootSeconds({ NODE_EXTRA_CA_CERTS: '' }));
        const c = await startDaemon({
          units,
          control: join(ctx.tmp, 'control-clean.sock'),
          env: { NODE_EXTRA_CA_CERTS: '' },
        });
        try {
          cleanStartup.push(c.readyMs / 1000);
          ctx.log(`rep ${rep + 1} without NODE_EXTRA_CA_CERTS: ready in ${round(c.readyMs, 0)} ms`);
        } finally {
          await c.stop();
        }
      }
      const d = await startDaemon({ units, control: join(ctx.tmp, 'control.sock') });
      try {
        readyBy = d.readyBy;
        startup.push(d.readyMs / 1000);
        startupCpu.push(readyCpuSeconds(d.ready));
        listening = listeningOnUnitHost();
        if (listening < count) throw new Error(`only ${listening} of ${count} sockets listening after READY`);
        await sleep(ctx.quick ? 1000 : 3000);
        rss.push(rssBytes(d.proc.pid) / 2 ** 20);
        ctx.log(
          `rep ${rep + 1}: ready in ${round(d.readyMs, 0)} ms (${d.readyBy}, ${round(startupCpu[startupCpu.length - 1]! * 1000, 0)} ms CPU), idle RSS ${round(rss[rss.length - 1]!, 1)} MB`,
        );
      } finally {
        await d.stop();
      }
    }
    // Issue 16: 5,000 units must be ready within 1 s too (the same units, five times as many).
    const big = 5000;
    const bigUnits = join(ctx.tmp, 'units-5000');
    writeManyAcceptUnits(bigUnits, big, { mptcp: true });
    const bigStartup: number[] = [];
    const bigStartupCpu: number[] = [];
    for (let rep = 0; rep < ctx.reps; rep++) {
      const d = await startDaemon({
        units: bigUnits,
        control: join(ctx.tmp, 'control-5000.sock'),
        readyTimeoutMs: 120_000,
      });
      try {
        bigStartup.push(d.readyMs / 1000);
        bigStartupCpu.push(readyCpuSeconds(d.ready));
        const n = listeningOnUnitHost();
        if (n < big) throw new Error(`only ${n} of ${big} sockets listening after READY`);
        ctx.log(
          `${big} units, rep ${rep + 1}: ready in ${round(d.readyMs, 0)} ms (${round(bigStartupCpu[bigStartupCpu.length - 1]! * 1000, 0)} ms CPU)`,
        );
      } finally {
        await d.stop();
      }
    }
    // Reference: what an idle Node process with nothing loaded occupies on this machine.
    const bare = start(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    await sleep(ctx.quick ? 1000 : 3000);
    const bareMB = rssBytes(bare.pid) / 2 ** 20;
    await bare.stop();
    const st = sampled(startup);
    const rs = sampled(rss);
    const bigSt = sampled(bigStartup);
    const cpu = sampled(startupCpu);
    const bigCpu = sampled(bigStartupCpu);
    const boot = sampled(nodeBoot);
    const clean = cleanStartup.length > 0 ? sampled(cleanStartup) : undefined;
    const bootClean = nodeBootClean.length > 0 ? sampled(nodeBootClean) : undefined;
    return {
      summary: {
        daemon: {
          units: count,
          startupSeconds: round(st.median, 3),
          startupSeconds5000: round(bigSt.median, 3),
          startupCpuSeconds: round(cpu.median, 3),
          startupCpuSeconds5000: round(bigCpu.median, 3),
          loadAverage: round(load, 2),
          idleRssMB: round(rs.median, 1),
        },
      },
      metrics: [
        {
          key: 'daemon.startupSeconds',
          label: 'mptcpd-lite start-up with 1,000 socket units',
          value: round(st.median, 3),
          unit: 's',
          goal: { op: '<=', value: 0.25 },
          how: `spawn of \`node apps/mptcpd-lite/dist/cli.cjs run --units DIR --control PATH\` to readiness (the \`{"event":"ready"}\` line it prints once every socket listens); 1,000 Accept=yes MPTCP sockets on ${UNIT_HOST}; all ${listening} verified listening with ss; median of ${ctx.reps}.`,
        },
        {
          key: 'daemon.idleRssMB',
          label: 'mptcpd-lite idle RSS with 1,000 socket units',
          value: round(rs.median, 1),
          unit: 'MB',
          goal: { op: '<=', value: 50 },
          how: `VmRSS of the daemon ${ctx.quick ? 1 : 3} s after readiness, no traffic; median of ${ctx.reps}. For scale: an idle \`node -e 'setInterval(…)'\` is ${round(bareMB, 1)} MB here.`,
        },
        {
          key: 'daemon.startupSeconds5000',
          label: 'mptcpd-lite start-up with 5,000 socket units',
          value: round(bigSt.median, 3),
          unit: 's',
          goal: { op: '<=', value: 1 },
          how: `as above with ${big} units (ports ${UNIT_PORT_BASE}…${UNIT_PORT_BASE + big - 1}), all verified listening; median of ${ctx.reps}.`,
        },
        {
          key: 'daemon.startupCpuSeconds',
          label: 'mptcpd-lite start-up CPU time with 1,000 socket units',
          value: round(cpu.median, 3),
          unit: 's',
          how: `user + system CPU of the daemon from exec to ready (\`cpuMs\` of its ready line, Node's boot included): what the start-up costs, less inflated by a loaded machine than wall time (load average ${round(load, 2)} at the start of this scenario); median of ${ctx.reps}.`,
        },
        {
          key: 'daemon.startupCpuSeconds5000',
          label: 'mptcpd-lite start-up CPU time with 5,000 socket units',
          value: round(bigCpu.median, 3),
          unit: 's',
          how: `as above with ${big} units; median of ${ctx.reps}.`,
        },
        {
          key: 'daemon.nodeBootSeconds',
          label: 'Reference: Node boot (spawn to exit of `node -e 0`)',
          value: round(boot.median, 3),
          unit: 's',
          how: `measured before each 1,000-unit start, same environment; median of ${ctx.reps}: the part of the start-up that is Node's own.`,
        },
        ...(clean && bootClean
          ? [
              {
                key: 'daemon.startupSecondsCleanEnv',
                label: 'mptcpd-lite start-up with 1,000 socket units, without NODE_EXTRA_CA_CERTS',
                value: round(clean.median, 3),
                unit: 's',
                how: `as daemon.startupSeconds, interleaved with it, with NODE_EXTRA_CA_CERTS (set in this environment to ${extraCa}) emptied, as a service manager's clean environment would have it; Node's boot alone is ${round(bootClean.median, 3)} s that way, ${round(boot.median, 3)} s with it; median of ${ctx.reps}.`,
              },
            ]
          : []),
        {
          key: 'daemon.bareNodeRssMB',
          label: 'Reference: idle bare Node process RSS',
          value: round(bareMB, 1),
          unit: 'MB',
        },
      ],
      data: {
        units: count,
        readyBy,
        startupSeconds: st,
        startupSeconds5000: bigSt,
        startupCpuSeconds: cpu,
        startupCpuSeconds5000: bigCpu,
        loadAverage: round(load, 2),
        idleRssMB: rs,
        bareNodeRssMB: round(bareMB, 1),
        nodeBootSeconds: boot,
        ...(clean ? { startupSecondsCleanEnv: clean } : {}),
        ...(bootClean ? { nodeBootSecondsCleanEnv: bootClean } : {}),
      },
      charts: [],
      notes: [],
    };
  },
};
