/**
 * `mptcpd-lite dev` end to end: a real http app (node) edited while clients loop requests, over
 * TCP and MPTCP, against the built CLI. Figures (save → first response of the new code, time to
 * ready) are printed, not asserted: the machine may be busy.
 */
import { execFile } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { mptcpUnavailable, need } from './helpers/capability.js';
import { pidAlive, stopProcess } from './helpers/cli.js';
import {
  ClientLoop,
  appDir,
  cleanupDev,
  listenFdsApp,
  median,
  plainApp,
  portOf,
  setMptcpProbe,
  startDev,
  writeApp,
  type Connector,
  type LineClock,
  type Sample,
} from './helpers/dev-app.js';
import { freePort } from './helpers/units.js';

const EDITS = 20;
afterEach(cleanupDev);

/** `ss -M` (MPTCP sockets): is a listener on the port listed right now? */
function ssListsMptcpListener(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    execFile('ss', ['-MHln', `sport = :${port}`], (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.includes(`127.0.0.1:${port}`));
    });
  });
}

interface EditRun {
  samples: Sample[];
  latencies: number[];
  readyMs: number[];
  duringRestart: number;
  pids: number[];
  exit: { code: number | null; signal: NodeJS.Signals | null };
  /** For a failure: each failed request with dev's lines around it (times relative to its start). */
  errorContext: string[];
}

/**
 * The Must-show scenario: 20 edits while `concurrency` client loops request; after each save,
 * waits until a response of the new version arrives (the measured figure).
 */
interface Scenario {
  mode: 'off' | 'require';
  connector?: Connector;
  /** -l ADDR (default 127.0.0.1:0). */
  listen?: string;
  /** The app's source for a version (default: a listenFds() app). */
  source?: (version: number) => string;
  /** node options before the app (e.g. --import @mptcp/native/register). */
  nodeArgs?: string[];
}

interface Hooks {
  /** Once the port is known. */
  onPort?: (port: number, clock: LineClock) => void;
  /** After the last edit was served, before dev is stopped. */
  beforeStop?: () => Promise<void>;
}

async function editWhileRequesting(scenario: Scenario, hooks: Hooks = {}): Promise<EditRun> {
  const { dir, app } = appDir();
  const source = scenario.source ?? listenFdsApp;
  const connector = scenario.connector;
  writeApp(app, source(0));
  const { dev, clock } = startDev([
    '-l',
    scenario.listen ?? '127.0.0.1:0',
    '--mptcp',
    scenario.mode,
    '-w',
    dir,
    '--',
    process.execPath,
    ...(scenario.nodeArgs ?? []),
    app,
  ]);
  const port = await portOf(dev);
  hooks.onPort?.(port, clock);
  // Requests start before the app is up: the first ones wait in the backlog too.
  const client = new ClientLoop(port, 2, connector);
  await client.seen(0);
  const latencies: number[] = [];
  for (let v = 1; v <= EDITS; v++) {
    const savedAt = performance.now();
    writeApp(app, source(v));
    latencies.push((await client.seen(v)) - savedAt);
  }
  await client.stop();
  // The last generation's ready line may come after its first response (readiness is sampled).
  await clock.waitCount(/^\[dev\] ready in \d+ ms \(pid \d+\)$/, EDITS + 1);
  const windows = clock.windows(/^\[dev\] restarting \(changed: /, /^\[dev\] ready in /);
  const duringRestart = client.samples.filter((s) => windows.some(([a, b]) => s.start >= a && s.start <= b)).length;
  const allReady = clock.lines.filter((l) => /^\[dev\] ready in \d+ ms \(pid \d+\)$/.test(l.line));
  await hooks.beforeStop?.();
  const exit = await stopProcess(dev, 'SIGINT', 15_000);
  const errorContext = client.samples
    .filter((s) => s.error !== undefined)
    .map((s) => {
      const near = clock.lines
        .filter((l) => l.line.startsWith('[dev]') && Math.abs(l.at - s.start) < 2000)
        .map((l) => `${Math.round(l.at - s.start)} ms ${l.line}`);
      return `${s.error} after ${Math.round(s.end - s.start)} ms; ${near.join(' | ')}`;
    });
  return {
    samples: client.samples,
    latencies,
    readyMs: allReady.map((l) => Number(/ready in (\d+)/.exec(l.line)?.[1])),
    duringRestart,
    pids: allReady.map((l) => Number(/pid (\d+)/.exec(l.line)?.[1])),
    exit,
    errorContext,
  };
}

/** How long `node -e 0` takes right now (median of 3): most of a restart is node starting. */
async function nodeStartMs(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, ['-e', '0'], (err) => (err ? reject(err) : resolve())),
    );
    times.push(performance.now() - t);
  }
  return Math.round(median(times));
}

async function checkRun(r: EditRun, label: string, clientStarts: (v: number) => number | undefined): Promise<void> {
  const errors = r.samples.filter((s) => s.error !== undefined);
  const summary = {
    requests: r.samples.length,
    errors: errors.length,
    duringRestart: r.duringRestart,
    saveToNewestMs: { median: Math.round(median(r.latencies)), max: Math.round(Math.max(...r.latencies)) },
    readyMs: { median: median(r.readyMs.slice(1)), max: Math.max(...r.readyMs.slice(1)) },
    nodeStartMs: await nodeStartMs(),
  };
  console.log(`dev ${label}: ${JSON.stringify(summary)}`);
  for (const e of r.errorContext.slice(0, 5)) console.log(`dev ${label} error: ${e}`);
  expect(
    errors.map((e) => e.error),
    'refused or reset connections',
  ).toEqual([]);
  // Every response from the newest code: no request started after version v was first served gets an older one.
  for (let v = 1; v <= EDITS; v++) {
    const first = clientStarts(v) as number;
    const stale = r.samples.filter((s) => s.start > first && (s.version ?? -1) < v);
    expect(stale, `responses older than v${v} after it was served`).toEqual([]);
  }
  // Connections were made while the app was down, and all were served.
  expect(r.duringRestart).toBeGreaterThan(0);
  expect(r.readyMs).toHaveLength(EDITS + 1);
  // One generation at a time: every earlier one is gone; Ctrl-C stopped the last and dev says 130.
  expect(new Set(r.pids).size).toBe(EDITS + 1);
  for (const pid of r.pids) expect(pidAlive(pid)).toBe(false);
  expect(r.exit).toEqual({ code: 130, signal: null });
}

describe('mptcpd-lite dev', () => {
  it('an http app edited 20 times while clients loop requests: 0 refused or reset connections, each response from the newest code', async () => {
    const firstSeen = new Map<number, number>();
    const r = await editWhileRequesting({ mode: 'off' });
    for (const s of r.samples)
      if (s.version !== undefined && !firstSeen.has(s.version)) firstSeen.set(s.version, s.end);
    await checkRun(r, 'tcp', (v) => firstSeen.get(v));
  }, 300_000);

  it('the same over MPTCP: every connection is MPTCP, and ss -M lists the listener the whole time', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const native = await import('@mptcp/native');
    setMptcpProbe((s) => native.isMptcp(s));
    const connector: Connector = (port) => native.connect({ host: '127.0.0.1', port, mptcp: 'require' });
    const ss: Array<{ at: number; listed: boolean; restarting: boolean }> = [];
    let sampling = true;
    const samplers: Array<Promise<void>> = [];
    const onPort = (port: number, clock: LineClock): void => {
      // Continuously, and once more at every restart (when a naive reloader closes the socket).
      samplers.push(
        (async () => {
          while (sampling)
            ss.push({ at: performance.now(), listed: await ssListsMptcpListener(port), restarting: false });
        })(),
      );
      clock.onLine((l) => {
        if (/^\[dev\] restarting/.test(l.line))
          samplers.push(
            ssListsMptcpListener(port).then((listed) => void ss.push({ at: l.at, listed, restarting: true })),
          );
      });
    };
    const beforeStop = async (): Promise<void> => {
      sampling = false;
      await Promise.all(samplers);
    };
    const r = await editWhileRequesting({ mode: 'require', connector }, { onPort, beforeStop });
    const firstSeen = new Map<number, number>();
    for (const s of r.samples)
      if (s.version !== undefined && !firstSeen.has(s.version)) firstSeen.set(s.version, s.end);
    console.log(
      `dev mptcp: ss -M samples ${ss.length} (${ss.filter((s) => s.restarting).length} at restarts), listed in ${ss.filter((s) => s.listed).length}`,
    );
    await checkRun(r, 'mptcp', (v) => firstSeen.get(v));
    expect(r.samples.filter((s) => s.mptcp !== true)).toEqual([]);
    expect(ss.filter((s) => s.restarting).length).toBe(EDITS);
    expect(ss.filter((s) => !s.listed)).toEqual([]);
  }, 300_000);

  it('an unmodified app (server.listen(PORT)) under node --import @mptcp/native/register: the passed MPTCP socket is adopted, 20 edits, 0 refused', async (ctx) => {
    need(ctx, mptcpUnavailable());
    const native = await import('@mptcp/native');
    setMptcpProbe((s) => native.isMptcp(s));
    const connector: Connector = (p) => native.connect({ host: '127.0.0.1', port: p, mptcp: 'require' });
    const port = await freePort();
    const r = await editWhileRequesting({
      mode: 'require',
      connector,
      listen: `127.0.0.1:${port}`,
      source: (v) => plainApp(v, port),
      nodeArgs: ['--import', '@mptcp/native/register'],
    });
    const firstSeen = new Map<number, number>();
    for (const s of r.samples)
      if (s.version !== undefined && !firstSeen.has(s.version)) firstSeen.set(s.version, s.end);
    await checkRun(r, 'register', (v) => firstSeen.get(v));
    // The app's own listen() would have failed with EADDRINUSE (dev holds the port): it adopted fd 3,
    // which is MPTCP.
    expect(r.samples.filter((s) => s.mptcp !== true)).toEqual([]);
  }, 300_000);
});
