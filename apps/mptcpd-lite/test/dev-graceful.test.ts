/**
 * `mptcpd-lite dev` with an unmodified app that has NO SIGTERM handler, under
 * `node --import @mptcp/native/register`: the register hook stops it gracefully on dev's SIGTERM
 * (stop accepting, answer what is in flight or arrives on open connections with `Connection: close`,
 * then die of SIGTERM), so neither a new connection nor a kept-alive one is refused or reset.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { stopProcess } from './helpers/cli.js';
import { appDir, cleanupDev, startDev, writeApp, type LineClock } from './helpers/dev-app.js';
import { freePort } from './helpers/units.js';

const EDITS = 12;
afterEach(cleanupDev);

/** An app as people write it: no SIGTERM handler, keep-alive left to node, answers on the next turn. */
function bareApp(version: number, port: number): string {
  return `import http from 'node:http';
http.createServer((req, res) => setImmediate(() => res.end('v${version}\\n'))).listen(${port}, '127.0.0.1');
`;
}

interface Sample {
  start: number;
  version?: number;
  error?: string;
  keepAlive: boolean;
}

function get(port: number, agent: http.Agent | false): Promise<Omit<Sample, 'keepAlive'>> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ start, version: Number(/^v(\d+)\n$/.exec(body)?.[1] ?? NaN) }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ start, error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ start, error: err.code ?? err.message }));
  });
}

/** Two loops: one with a new connection per request, one on a kept-alive connection. */
class Clients {
  readonly samples: Sample[] = [];
  private running = true;
  private readonly loops: Promise<void>[];
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  private readonly waiters = new Map<number, () => void>();

  constructor(port: number) {
    this.loops = [this.loop(port, false), this.loop(port, true)];
  }

  private async loop(port: number, keepAlive: boolean): Promise<void> {
    while (this.running) {
      const s = await get(port, keepAlive ? this.agent : false);
      this.samples.push({ ...s, keepAlive });
      if (s.version !== undefined) this.waiters.get(s.version)?.();
    }
  }

  /** Resolves once a response of `version` arrived. */
  seen(version: number): Promise<void> {
    if (this.samples.some((s) => s.version === version)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.set(version, resolve));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.agent.destroy();
  }
}

const READY = /^\[dev\] ready in \d+ ms \(pid \d+\)$/;

function readyTimes(clock: LineClock): number[] {
  return clock.lines.filter((l) => READY.test(l.line)).map((l) => l.at);
}

describe('mptcpd-lite dev: an app without a SIGTERM handler (register stops it gracefully)', () => {
  it(`${EDITS} edits while keep-alive and new-connection clients loop: 0 refused or reset, every response after a ready line from that code`, async () => {
    const { dir, app } = appDir();
    const port = await freePort();
    writeApp(app, bareApp(0, port));
    const { dev, clock } = startDev([
      '-l',
      `127.0.0.1:${port}`,
      '--mptcp',
      'prefer',
      '-w',
      dir,
      '--',
      process.execPath,
      '--import',
      '@mptcp/native/register',
      app,
    ]);
    await dev.waitFor(/^\[dev\] listening on 127\.0\.0\.1:\d+ /, 30_000);
    const clients = new Clients(port);
    await clients.seen(0);
    for (let v = 1; v <= EDITS; v++) {
      writeApp(app, bareApp(v, port));
      await clients.seen(v);
      // Both loops have been served by the new code (the kept-alive one moved to it too).
      await clients.seen(v);
      await clock.waitCount(READY, v + 1);
    }
    await clients.stop();
    const exit = await stopProcess(dev, 'SIGINT', 15_000);

    const errors = clients.samples.filter((s) => s.error !== undefined);
    const byLoop = (k: boolean): number => clients.samples.filter((s) => s.keepAlive === k).length;
    console.log(
      `dev graceful: ${JSON.stringify({ requests: clients.samples.length, keepAlive: byLoop(true), newConnection: byLoop(false), errors: errors.length })}`,
    );
    expect(
      errors.map((e) => `${e.keepAlive ? 'keep-alive' : 'new connection'}: ${e.error}`),
      'refused or reset',
    ).toEqual([]);
    expect(clients.samples.filter((s) => Number.isNaN(s.version))).toEqual([]);
    // Every request started after generation v's ready line got v's answer (or a newer one).
    const ready = readyTimes(clock);
    expect(ready).toHaveLength(EDITS + 1);
    for (let v = 1; v <= EDITS; v++) {
      const at = ready[v] as number;
      const stale = clients.samples.filter((s) => s.start > at && (s.version ?? -1) < v);
      expect(stale, `answers older than v${v} after its ready line`).toEqual([]);
    }
    // Each old generation stopped on SIGTERM, never on dev's SIGKILL timeout.
    expect(clock.lines.filter((l) => /SIGKILL/.test(l.line))).toEqual([]);
    expect(exit).toEqual({ code: 130, signal: null });
  }, 300_000);
});
