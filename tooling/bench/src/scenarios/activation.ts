/**
 * Socket activation through mptcpd-lite (the @mptcp/activation engine in its daemon) against
 * systemd-socket-activate, in one run:
 *  - Accept=yes: connections served per second, same trivial service (`/bin/cat` echoing 1 byte);
 *  - Accept=no: steady-state request rate of an activated Node echo service vs the same service
 *    listening by itself;
 *  - cold activation: connect to first echoed byte, service exits after each connection.
 */
import { join } from 'node:path';
import { socketActivate } from '../lib/baseline.js';
import { freePort } from '../lib/caps.js';
import { control, daemonAvailable, startDaemon } from '../lib/daemon.js';
import { oneConnection } from '../lib/loadgen.js';
import { worker } from '../lib/paths.js';
import { cpuSeconds, sleep, start } from '../lib/proc.js';
import { Skip } from '../lib/result.js';
import { runLoad } from '../lib/runload.js';
import { barChart } from '../report/svg.js';
import { median, round, sampled } from '../lib/stats.js';
import { writeAcceptUnit, writeListenUnit } from '../lib/units.js';
import type { Context, Scenario } from '../lib/scenario.js';

const CONCURRENCY = 8;

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
        const sa = await socketActivate(`127.0.0.1:${port}`, ['--accept', '--inetd'], ['/bin/cat']);
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

async function acceptNo(
  ctx: Context,
  seconds: number,
): Promise<{ activated: number[]; standalone: number[]; daemonCpuSeconds: number[] }> {
  const activated: number[] = [];
  const standalone: number[] = [];
  const daemonCpuSeconds: number[] = [];
  const reps = ctx.quick ? ctx.reps : Math.max(ctx.reps, 7);
  for (let rep = 0; rep < reps; rep++) {
    for (const who of rep % 2 === 0 ? (['standalone', 'activated'] as const) : (['activated', 'standalone'] as const)) {
      const port = await freePort();
      if (who === 'standalone') {
        const svc = start(process.execPath, [worker('echo-service'), '--port', String(port)]);
        try {
          await svc.waitFor(/^LISTENING/);
          const r = await runLoad({ port, concurrency: CONCURRENCY, seconds });
          standalone.push(r.perSecond);
          ctx.log(`Accept=no standalone: ${round(r.perSecond, 0)}/s`);
        } finally {
          await svc.stop();
        }
      } else {
        const dir = join(ctx.tmp, `an-${rep}`);
        writeListenUnit(join(dir, 'units'), {
          name: 'echo',
          listen: [`127.0.0.1:${port}`],
          exec: `${process.execPath} ${worker('echo-service')}`,
        });
        const d = await startDaemon({ units: join(dir, 'units'), control: join(dir, 'control.sock') });
        try {
          // The first connection activates the service; steady state is measured after it.
          const first = await oneConnection(
            { host: '127.0.0.1', ports: [port], concurrency: 1, seconds: 0, timeoutMs: 10_000 },
            port,
          );
          if (!first.ok) throw new Error(`activation failed: ${first.error ?? 'no echo'}`);
          await sleep(200);
          // systemd stops polling a socket while its service runs; a daemon that kept polling would
          // wake on every connection and show up here
          const cpu0 = cpuSeconds(d.proc.pid);
          const r = await runLoad({ port, concurrency: CONCURRENCY, seconds });
          daemonCpuSeconds.push(cpuSeconds(d.proc.pid) - cpu0);
          activated.push(r.perSecond);
          ctx.log(
            `Accept=no activated: ${round(r.perSecond, 0)}/s (daemon CPU ${daemonCpuSeconds[daemonCpuSeconds.length - 1]} s)`,
          );
        } finally {
          await d.stop();
        }
      }
    }
  }
  return { activated, standalone, daemonCpuSeconds };
}

async function cold(ctx: Context, count: number): Promise<{ ours: number[]; theirs: number[] }> {
  const ours: number[] = [];
  const theirs: number[] = [];
  const exec = [process.execPath, worker('echo-service'), '--once'];
  const probe = (port: number) =>
    oneConnection({ host: '127.0.0.1', ports: [port], concurrency: 1, seconds: 0, timeoutMs: 10_000 }, port);
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const sa = await socketActivate(`127.0.0.1:${port}`, [], exec);
    try {
      const r = await probe(port);
      if (!r.ok) throw new Error(`systemd-socket-activate cold start failed: ${r.error ?? ''}`);
      theirs.push(r.ms);
    } finally {
      await sa.stop();
    }
  }
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
      // the previous instance exits after its connection: wait until the daemon has seen it and
      // the socket is listening again, so every probe is a cold activation
      await idle(ctl);
      const r = await probe(port);
      if (!r.ok) throw new Error(`mptcpd-lite cold activation ${i + 1} failed: ${r.error ?? ''}`);
      ours.push(r.ms);
    }
  } finally {
    await d.stop();
  }
  return { ours, theirs };
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

export const activation: Scenario = {
  name: 'activation',
  title: 'Socket activation: mptcpd-lite vs systemd-socket-activate',
  needs: ['systemd-socket-activate', 'python3'],
  async run(ctx) {
    if (!daemonAvailable()) throw new Skip('apps/mptcpd-lite is not built (dist/cli.js missing)');
    const seconds = ctx.quick ? 2 : 4;
    const ay1 = await acceptYes(ctx, seconds, 1);
    const ay = await acceptYes(ctx, seconds, CONCURRENCY);
    const an = await acceptNo(ctx, seconds);
    const cl = await cold(ctx, ctx.quick ? 3 : 3 * ctx.reps);
    const s = {
      acceptYesOurs: sampled(ay.ours),
      acceptYesSystemd: sampled(ay.theirs),
      acceptNoActivated: sampled(an.activated),
      acceptNoStandalone: sampled(an.standalone),
      coldOursMs: sampled(cl.ours),
      coldSystemdMs: sampled(cl.theirs),
    };
    const acceptYesRatio = round(s.acceptYesOurs.median / s.acceptYesSystemd.median, 3);
    const acceptYesRatio1 = round(median(ay1.ours) / median(ay1.theirs), 3);
    const cpu = {
      ours1: round(median(ay1.oursCpuUs), 0),
      theirs1: round(median(ay1.theirsCpuUs), 0),
      ours8: round(median(ay.oursCpuUs), 0),
      theirs8: round(median(ay.theirsCpuUs), 0),
    };
    const acceptNoRatio = round(s.acceptNoActivated.median / s.acceptNoStandalone.median, 3);
    const coldMs = round(median(cl.ours), 1);
    return {
      summary: {
        activation: {
          acceptYesRatio,
          acceptYesRatio1,
          acceptNoRatio,
          coldFirstByteMs: coldMs,
          coldFirstByteMsSystemd: round(median(cl.theirs), 1),
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
          how: `service /bin/cat on the connection (StandardInput=socket vs --accept --inetd), ${CONCURRENCY} concurrent clients each connecting, sending 1 byte and waiting for the echo, ${seconds} s per run, ${ay.ours.length} runs each, interleaved; ratio of medians. TriggerLimit and PollLimit off for mptcpd-lite (systemd-socket-activate has neither).`,
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
        {
          key: 'activation.acceptNoRatio',
          label: 'Accept=no request rate, activated / standalone',
          value: acceptNoRatio,
          unit: '',
          goal: { op: '>=', value: 0.98 },
          how: `Node echo service on the socket it was handed vs the same script listening itself; one connection per request, ${CONCURRENCY} concurrent clients, ${seconds} s per run after the activating connection, ${an.activated.length} runs each, interleaved; ratio of medians. Daemon CPU while the activated service was loaded: ${round(Math.max(...an.daemonCpuSeconds), 2)} s at most per run (it does not poll a socket whose service runs).`,
        },
        {
          key: 'activation.acceptNoDaemonCpuSeconds',
          label: `Daemon CPU during ${seconds} s of Accept=no load (max of runs)`,
          value: round(Math.max(...an.daemonCpuSeconds), 2),
          unit: 's',
        },
        {
          key: 'activation.coldFirstByteMs',
          label: 'Cold activation, connect to first byte (mptcpd-lite)',
          value: coldMs,
          unit: 'ms',
          how: `Accept=no, Node echo service that exits after each connection; median of ${cl.ours.length} activations. systemd-socket-activate with the same service: ${round(median(cl.theirs), 1)} ms.`,
        },
        {
          key: 'activation.coldFirstByteMsSystemd',
          label: 'Cold activation, systemd-socket-activate',
          value: round(median(cl.theirs), 1),
          unit: 'ms',
        },
      ],
      data: {
        concurrency: CONCURRENCY,
        secondsPerRun: seconds,
        ...s,
        acceptYes1Ours: sampled(ay1.ours),
        acceptYes1Systemd: sampled(ay1.theirs),
        acceptYesCpuPerConnUs: cpu,
        acceptNoDaemonCpuSeconds: an.daemonCpuSeconds,
      },
      charts: [
        {
          file: 'activation.svg',
          title: 'Activation throughput',
          svg: barChart({
            title: `Activation throughput (medians of ${ay.ours.length} and ${an.activated.length} runs)`,
            yLabel: 'connections per second',
            series: ['reference', 'mptcpd-lite'],
            groups: [
              {
                label: 'Accept=yes, /bin/cat (ref: systemd-socket-activate)',
                values: [round(s.acceptYesSystemd.median, 0), round(s.acceptYesOurs.median, 0)],
              },
              {
                label: 'Accept=no, Node echo (ref: standalone)',
                values: [round(s.acceptNoStandalone.median, 0), round(s.acceptNoActivated.median, 0)],
              },
            ],
          }),
        },
      ],
      notes: [],
    };
  },
};
