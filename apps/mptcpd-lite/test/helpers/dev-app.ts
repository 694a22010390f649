/**
 * For the `dev` tests: an http app whose code carries a version number, a client that loops
 * requests (a new connection each, as a browser reload after a restart would), and timestamped
 * lines of dev's own output.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { rmSync } from 'node:fs';
import { APP_ROOT, startCli, stopProcess, type Running } from './cli.js';
import { tempDir } from './units.js';

/** Where the app imports listenFds() from (the built package, as an app would). */
export const LISTEN_FDS_MODULE = path.join(APP_ROOT, 'node_modules', '@mptcp', 'activation', 'dist', 'listen-fds.js');

/** An app that takes its socket from LISTEN_FDS, answers its VERSION, and stops gracefully on SIGTERM. */
export function listenFdsApp(version: number): string {
  return `import http from 'node:http';
import { listenFds } from ${JSON.stringify(LISTEN_FDS_MODULE)};
const VERSION = ${version};
const fds = listenFds();
if (fds.length !== 1) { console.error('expected one fd in LISTEN_FDS, got', fds.length); process.exit(3); }
const server = http.createServer((req, res) => { res.setHeader('connection', 'close'); res.end(String(VERSION)); });
server.listen({ fd: fds[0].fd });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;
}

/** An unmodified app: listens on a port like any Node app; --import @mptcp/native/register adopts the fd. */
export function plainApp(version: number, port: number): string {
  return `import http from 'node:http';
const VERSION = ${version};
const server = http.createServer((req, res) => { res.setHeader('connection', 'close'); res.end(String(VERSION)); });
server.listen(${port}, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;
}

export function writeApp(file: string, source: string): void {
  writeFileSync(file, source);
}

export interface Sample {
  start: number;
  end: number;
  version?: number;
  error?: string;
  /** Whether the connection was MPTCP (MPTCP clients only). */
  mptcp?: boolean;
}

export type Connector = (port: number) => net.Socket;

/** One GET on a new connection; never rejects (errors are recorded). */
export function requestOnce(port: number, connector?: Connector): Promise<Sample> {
  const start = performance.now();
  return new Promise((resolve) => {
    let mptcp: boolean | undefined;
    const connect = (): net.Socket => {
      const sock = (connector as Connector)(port);
      mptcp = false;
      // Asked while connected: once the response ends, the fd may be gone.
      sock.once('connect', () => (mptcp = isMptcpSocket(sock)));
      return sock;
    };
    // No agent: a fresh connection each time (an agent would also ignore createConnection).
    const req = http.get(
      { host: '127.0.0.1', port, path: '/', ...(connector ? { createConnection: connect } : { agent: false }) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () =>
          resolve({ start, end: performance.now(), version: Number(body), ...(mptcp !== undefined ? { mptcp } : {}) }),
        );
        res.on('error', (err: NodeJS.ErrnoException) =>
          resolve({ start, end: performance.now(), error: err.code ?? err.message }),
        );
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve({ start, end: performance.now(), error: err.code ?? err.message }),
    );
  });
}

let mptcpProbe: ((s: net.Socket) => boolean) | undefined;
/** Set by MPTCP tests: how to tell a connection is MPTCP (@mptcp/native isMptcp). */
export function setMptcpProbe(probe: (s: net.Socket) => boolean): void {
  mptcpProbe = probe;
}
function isMptcpSocket(s: net.Socket): boolean {
  return mptcpProbe ? mptcpProbe(s) : false;
}

/** `concurrency` loops of sequential requests until stop(). */
export class ClientLoop {
  readonly samples: Sample[] = [];
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private readonly waiters: Array<{ version: number; resolve: (t: number) => void }> = [];
  private readonly firstSeen = new Map<number, number>();

  constructor(
    private readonly port: number,
    concurrency: number,
    private readonly connector?: Connector,
  ) {
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const s = await requestOnce(this.port, this.connector);
      this.samples.push(s);
      if (s.version !== undefined && !this.firstSeen.has(s.version)) {
        this.firstSeen.set(s.version, s.end);
        for (let w = this.waiters.length - 1; w >= 0; w--) {
          const waiter = this.waiters[w];
          if (waiter && waiter.version === s.version) {
            this.waiters.splice(w, 1);
            waiter.resolve(s.end);
          }
        }
      }
    }
  }

  /** Resolves with the time the first response of `version` arrived. */
  seen(version: number, timeoutMs = 60_000): Promise<number> {
    const t = this.firstSeen.get(version);
    if (t !== undefined) return Promise.resolve(t);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no response of version ${version} within ${timeoutMs} ms; last: ${JSON.stringify(this.samples.slice(-3))}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({
        version,
        resolve: (at) => {
          clearTimeout(timer);
          resolve(at);
        },
      });
    });
  }

  firstSeenAt(version: number): number | undefined {
    return this.firstSeen.get(version);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

export interface TimedLine {
  at: number;
  line: string;
}

/** Every line of a stream with the time it arrived, and waiting on lines. */
export class LineClock {
  readonly lines: TimedLine[] = [];
  private buf = '';
  private readonly listeners: Array<(l: TimedLine) => void> = [];

  constructor(stream: Readable) {
    stream.on('data', (d: Buffer) => {
      const at = performance.now();
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const l = { at, line: this.buf.slice(0, i) };
        this.buf = this.buf.slice(i + 1);
        this.lines.push(l);
        for (const f of this.listeners) f(l);
      }
    });
  }

  onLine(f: (l: TimedLine) => void): void {
    this.listeners.push(f);
  }

  /** Resolves once `n` lines have matched `re`. */
  waitCount(re: RegExp, n: number, timeoutMs = 60_000): Promise<void> {
    const count = (): number => this.lines.filter((l) => re.test(l.line)).length;
    if (count() >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${count()} of ${n} lines matching ${String(re)} within ${timeoutMs} ms:\n${this.lines.map((l) => l.line).join('\n')}`,
            ),
          ),
        timeoutMs,
      );
      this.onLine(() => {
        if (count() >= n) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  /** Time windows from each line matching `from` to the next line matching `to`. */
  windows(from: RegExp, to: RegExp): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let open: number | undefined;
    for (const l of this.lines) {
      if (open === undefined && from.test(l.line)) open = l.at;
      else if (open !== undefined && to.test(l.line)) {
        out.push([open, l.at]);
        open = undefined;
      }
    }
    return out;
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export interface DevRun {
  dev: Running;
  clock: LineClock;
  /** dev's arguments (the last one names the app). */
  args: readonly string[];
}

const runs: DevRun[] = [];
const dirs: string[] = [];

/** `mptcpd-lite dev ARGS`, with dev's stderr lines timestamped; cleaned up by cleanupDev(). */
export function startDev(args: string[], env?: NodeJS.ProcessEnv): DevRun {
  const dev = startCli(['dev', ...args], env ? { env } : {});
  const clock = new LineClock(dev.child.stderr as Readable);
  const run = { dev, clock, args };
  runs.push(run);
  return run;
}

/** A temporary directory for an app, removed by cleanupDev(). */
export function appDir(): { dir: string; app: string } {
  const dir = tempDir('mdl-dev-');
  dirs.push(dir);
  return { dir, app: path.join(dir, 'app.mjs') };
}

/** The PIDs dev reported for its generations (`(pid N)` in its lines). */
export function reportedPids(run: DevRun): number[] {
  return run.clock.lines.map((l) => Number(/\(pid (\d+)\)/.exec(l.line)?.[1])).filter((p) => p > 1);
}

/** Whether `pid` is still one of this run's apps (PIDs are reused quickly on a busy machine). */
function stillOurs(pid: number, args: readonly string[]): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const app = args[args.length - 1] ?? '';
    return app !== '' && cmdline.some((a) => a.includes(app));
  } catch {
    return false;
  }
}

/** Stops every dev started (SIGTERM), then kills any app group it reported that is still there. */
export async function cleanupDev(): Promise<void> {
  for (const run of runs.splice(0)) {
    await stopProcess(run.dev, 'SIGTERM', 10_000);
    for (const pid of reportedPids(run)) {
      if (!stillOurs(pid, run.args)) continue;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The port of dev's first `-l 127.0.0.1:…` socket, from its `listening on` line. */
export async function portOf(dev: Running): Promise<number> {
  const line = await dev.waitFor(/^\[dev\] listening on 127\.0\.0\.1:\d+ /, 30_000);
  return Number(/:(\d+) /.exec(line)?.[1]);
}
