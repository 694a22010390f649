/**
 * The foreground daemon: starts the engine, serves the control socket, speaks sd_notify, and maps
 * signals — SIGHUP reloads, SIGTERM/SIGINT stop gracefully. Every state change is logged on stderr;
 * a machine-readable `{"event":"ready",…}` line goes to stdout once everything listens (benchmarks
 * and scripts wait for it).
 */
import { trimMallocHeap } from '@mptcp/native';
import { startControlServer, type ControlServer } from '../control/server.js';
import type { DaemonStatus, ProcessTracking, UnitOperationResult } from '../control/protocol.js';
import { MptcpdLiteError } from '../errors.js';
import { messageOf } from '../exit-codes.js';
import { stdoutWriter, type Logger } from '../log.js';
import { compactHeap } from '../v8-tuning.js';
import { VERSION } from '../version.js';
import type { Engine, LoadReport } from './engine.js';
import { createNotifier, monotonicUsec, type Notifier } from './sd-notify.js';

export interface DaemonOptions {
  engine: Engine;
  log: Logger;
  controlPath: string;
  unitDirs: string[];
  env?: NodeJS.ProcessEnv;
  /** Where the ready/reloaded/stopped event lines go (default stdout). */
  events?: (line: string) => void;
  /**
   * Runs once the control socket is ours (no other daemon answers on it) and before any unit socket
   * is opened: the place to clean up after a crashed predecessor.
   */
  beforeEngineStart?: () => Promise<void>;
  /** How service processes are tracked (for `status`). */
  tracking?: ProcessTracking;
}

export interface RunningDaemon {
  /** Resolves with the exit code when the daemon has stopped. */
  done: Promise<number>;
  stop(reason: string): Promise<void>;
  reload(): Promise<LoadReport>;
}

/**
 * Once ready (and after each reload): the garbage of the burst goes (v8-tuning.ts), then malloc's
 * free pages go back to the kernel (start-up's short-lived native allocations: ~0.5 MB with 1,000
 * units).
 */
function idleMemory(report: LoadReport): void {
  compactHeap(report.sockets + report.services);
  trimMallocHeap();
}

const readyCallbacks: Array<() => void> = [];

/**
 * Runs `fn` once, when the next daemon started in this process is ready (after READY=1 and the ready
 * line, before the compacting GC): the bundle loader writes its code cache there (run-bundle.ts).
 */
export function afterReady(fn: () => void): void {
  readyCallbacks.push(fn);
}

function runReadyCallbacks(): void {
  for (const fn of readyCallbacks.splice(0)) fn();
}

/** `serving(unit)`: the unit still serves (a reload keeps a running unit whose file no longer loads). */
function reportLoad(log: Logger, report: LoadReport, serving: (unit: string) => boolean = () => false): void {
  for (const w of report.warnings) log.warning(w);
  for (const f of report.failed) {
    if (f.stage === 'load') {
      for (const m of f.messages) log.error(m);
      if (serving(f.unit))
        log.error(
          `${f.unit}: failed to load; it keeps serving with its previous configuration until its file loads again`,
        );
      else log.error(`${f.unit}: skipped (failed to load); the other units keep running`);
    } else {
      // The engine has logged why; say what it means.
      log.error(`${f.unit}: not listening (failed to start); the other units keep running`);
    }
  }
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const t0 = process.hrtime.bigint();
  const { engine, log } = opts;
  const env = opts.env ?? process.env;
  const stdout = opts.events ? undefined : stdoutWriter();
  const toStdout = opts.events ?? ((line: string) => stdout?.(line + '\n'));
  // The log lines that led to an event are out before the event line.
  const events = (line: string): void => {
    log.flush();
    toStdout(line);
  };
  const notifier: Notifier = createNotifier(env, (m) => log.warning(m));
  const startedAt = new Date();
  let lastReport: LoadReport = { sockets: 0, services: 0, failed: [], warnings: [] };
  let state: 'starting' | 'running' | 'reloading' | 'stopping' | 'stopped' = 'starting';
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let control: ControlServer | undefined;

  const statusText = (r: LoadReport): string => {
    const load = r.failed.filter((f) => f.stage === 'load').length;
    const start = r.failed.length - load;
    return `${r.sockets} socket unit${r.sockets === 1 ? '' : 's'} listening${load ? `, ${load} failed to load` : ''}${start ? `, ${start} failed to start` : ''}`;
  };

  const daemonStatus = (): DaemonStatus => {
    const s = engine.status();
    return {
      pid: process.pid,
      uid: process.getuid?.() ?? 0,
      version: VERSION,
      startedAt: startedAt.toISOString(),
      uptimeSec: (Date.now() - startedAt.getTime()) / 1000,
      unitDirs: opts.unitDirs,
      control: opts.controlPath,
      sockets: s.sockets,
      services: s.services,
      failed: lastReport.failed,
      ...(opts.tracking ? { tracking: opts.tracking } : {}),
    };
  };

  const reload = async (): Promise<LoadReport> => {
    if (state !== 'running') throw new MptcpdLiteError('EBUSY', `cannot reload while ${state}`);
    state = 'reloading';
    log.notice('Reloading (SIGHUP or control request): re-reading unit files; listening sockets are kept.');
    await notifier.notify({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec(), STATUS: 'Reloading unit files…' });
    try {
      lastReport = await engine.reload();
      const live = new Set(
        engine
          .status()
          .sockets.filter((s) => s.state === 'listening' || s.state === 'running')
          .map((s) => s.unit),
      );
      reportLoad(log, lastReport, (unit) => live.has(unit));
      log.notice(`Reloaded: ${statusText(lastReport)}.`);
      events(
        JSON.stringify({
          event: 'reloaded',
          pid: process.pid,
          sockets: lastReport.sockets,
          services: lastReport.services,
          failed: lastReport.failed.length,
        }),
      );
      return lastReport;
    } finally {
      // A stop that arrived meanwhile wins: no READY=1 after STOPPING=1.
      if (state === 'reloading') {
        state = 'running';
        await notifier.notify({ READY: 1, STATUS: statusText(lastReport) });
        setImmediate(idleMemory, lastReport);
      }
    }
  };

  const isStopping = (): boolean => state === 'stopping' || state === 'stopped';

  const stop = async (reason: string): Promise<void> => {
    if (state === 'stopping' || state === 'stopped') return done.then(() => undefined);
    state = 'stopping';
    log.notice(`Stopping (${reason}): stopping services, closing sockets.`);
    await notifier.notify({ STOPPING: 1, STATUS: `Stopping (${reason})…` });
    let code = 0;
    try {
      await engine.stop();
    } catch (err) {
      log.error(`stop: ${messageOf(err)}`);
      code = 1;
    }
    await control?.close().catch(() => undefined);
    state = 'stopped';
    log.notice('Stopped.');
    events(JSON.stringify({ event: 'stopped', pid: process.pid }));
    resolveDone(code);
  };

  // A SIGHUP during a reload is not lost: one more reload runs when the current one ends.
  let hupPending = false;
  const onHup = (): void => {
    if (state === 'reloading') {
      hupPending = true;
      return;
    }
    reload()
      .catch((err: unknown) => log.error(`reload failed: ${messageOf(err)}`))
      .finally(() => {
        if (hupPending && state === 'running') {
          hupPending = false;
          onHup();
        }
      });
  };
  const onTerm = (sig: NodeJS.Signals) => (): void => {
    void stop(sig);
  };
  const onTermSig = onTerm('SIGTERM');
  const onIntSig = onTerm('SIGINT');
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', onTermSig);
  process.on('SIGINT', onIntSig);
  void done.then(() => {
    process.off('SIGHUP', onHup);
    process.off('SIGTERM', onTermSig);
    process.off('SIGINT', onIntSig);
  });

  try {
    control = await startControlServer({
      path: opts.controlPath,
      log: (level, m) => log.log(level, m),
      handler: async (cmd, req) => {
        switch (cmd) {
          case 'ping':
            return { pong: true, pid: process.pid };
          case 'status':
            return { status: daemonStatus() };
          case 'reload': {
            const r = await reload();
            return { reloaded: true, sockets: r.sockets, services: r.services, failed: r.failed };
          }
          case 'stop':
            // Reply first, then stop: the client gets its answer before the socket goes away.
            setImmediate(() => void stop('control request'));
            return { stopping: true };
          case 'unit': {
            // systemctl start/restart enqueues every job, then waits once: the jobs run together.
            // Stop and reload go one at a time, in order. Each unit gets its own answer, in order.
            const op = req.op ?? 'start';
            const units = req.units ?? [];
            const answer = (unit: string, r: PromiseSettledResult<void>): UnitOperationResult =>
              r.status === 'fulfilled'
                ? { unit, ok: true }
                : {
                    unit,
                    ok: false,
                    error: { code: (r.reason as { code?: string }).code ?? 'EIO', message: messageOf(r.reason) },
                  };
            if (op === 'start' || op === 'restart') {
              const settled = await Promise.allSettled(units.map((u) => engine.unitOperation(op, u)));
              return { results: units.map((u, i) => answer(u, settled[i] as PromiseSettledResult<void>)) };
            }
            const results: UnitOperationResult[] = [];
            for (const unit of units) {
              const [r] = await Promise.allSettled([engine.unitOperation(op, unit)]);
              results.push(answer(unit, r));
            }
            return { results };
          }
          case 'list-sockets':
            return { sockets: engine.listSockets() };
          case 'list-units':
            return { units: engine.listUnits() };
          case 'unit-status':
            return {
              units: (req.units ?? []).map((u) => engine.unitStatus(u, req.lines ?? 10) ?? { unit: u, missing: true }),
            };
        }
      },
    });
    await opts.beforeEngineStart?.();
    lastReport = await engine.start();
  } catch (err) {
    // A stop (SIGTERM) during the start-up owns the shutdown: no ERRNO= after STOPPING=1.
    if (isStopping()) return { done, stop, reload };
    await control?.close().catch(() => undefined);
    await notifier.notify({ ERRNO: 1, STATUS: `Failed to start: ${messageOf(err)}` });
    process.off('SIGHUP', onHup);
    process.off('SIGTERM', onTermSig);
    process.off('SIGINT', onIntSig);
    throw err;
  }
  reportLoad(log, lastReport);
  // A stop that arrived during the start-up (a socket's ExecStartPre= still running) wins: no
  // `ready` event and no READY=1 after STOPPING=1, as the reload path.
  if (isStopping()) return { done, stop, reload };
  state = 'running';
  const startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpu = process.cpuUsage();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  log.notice(`Ready: ${statusText(lastReport)}; control socket ${opts.controlPath}.`);
  events(
    JSON.stringify({
      event: 'ready',
      pid: process.pid,
      sockets: lastReport.sockets,
      services: lastReport.services,
      failed: lastReport.failed.length,
      startupMs: Math.round(startupMs * 1000) / 1000,
      // CPU (user + system) the process used from exec to here, Node's own boot included: the start-up
      // cost that a loaded machine does not inflate the way it inflates wall time.
      cpuMs: Math.round(cpuMs),
      control: opts.controlPath,
    }),
  );
  await notifier.notify({ READY: 1, STATUS: statusText(lastReport), MAINPID: process.pid });
  // Ready first; then the garbage of the start-up burst goes (v8-tuning.ts).
  setImmediate(() => {
    runReadyCallbacks();
    idleMemory(lastReport);
  });
  return { done, stop, reload };
}
