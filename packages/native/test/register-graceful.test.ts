/**
 * register's graceful stop: an app that adopted a LISTEN_FDS socket and has no SIGTERM handler of
 * its own finishes what it accepted on SIGTERM (answers with `Connection: close`), then dies of
 * SIGTERM; the passed socket's backlog is served by the next process. An app with its own handler
 * keeps it.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { missing, probes } from './helpers/capability.js';
import { dist, registerFixture, start, type Proc } from './helpers/proc.js';

const skip = missing(probes.mptcp);
const REGISTER = dist('register.js');

const procs: Proc[] = [];
afterEach(async () => {
  await Promise.all(procs.splice(0).map((p) => p.stop()));
});

interface Reply {
  status: number;
  connection: string | undefined;
  body: string;
}

function get(port: number, path: string, agent: http.Agent | false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function exited(p: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const c = p.child;
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
}

describe.skipIf(skip)('register: SIGTERM on an app that adopted a LISTEN_FDS socket', () => {
  async function withHeldListener<T>(body: (fd: number, port: number) => Promise<T>): Promise<T> {
    const { openSocket, close } = (await import(dist('index.js'))) as typeof import('../src/index.js');
    const held = openSocket({
      kind: 'stream',
      mptcp: 'prefer',
      address: { family: 'inet', address: '127.0.0.1', port: 0 },
    });
    try {
      return await body(held.fd, held.local.family === 'inet' ? held.local.port : 0);
    } finally {
      close(held.fd);
    }
  }
  const launch = (fixture: string, fd: number, port: number, name: string): Proc => {
    const p = start(
      'sh',
      [
        '-c',
        `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" --import "${REGISTER}" "${registerFixture(fixture)}"`,
      ],
      { PORT: String(port), NAME: name },
      [fd],
    );
    procs.push(p);
    return p;
  };

  it('without a handler: in-flight and kept-alive requests are answered with Connection: close, the process dies of SIGTERM, the backlog goes to the next process', async () => {
    await withHeldListener(async (fd, port) => {
      const first = launch('bare-app.mjs', fd, port, 'first');
      await first.line(/^LISTENING/);
      const pinger = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const releaser = new http.Agent({ keepAlive: true, maxSockets: 1 });
      try {
        // Two kept-alive connections, idle after one answer.
        expect(await get(port, '/one', pinger)).toMatchObject({ body: 'first /one\n', connection: 'keep-alive' });
        expect(await get(port, '/two', releaser)).toMatchObject({ body: 'first /two\n', connection: 'keep-alive' });
        // A request in flight when SIGTERM comes.
        const inFlight = get(port, '/hold', false);
        await first.line(/^HOLDING/);
        const gone = exited(first);
        first.child.kill('SIGTERM');
        // The signal is handled on a later turn of the app's loop: the first answer with
        // Connection: close on the kept-alive connection shows it was (its connection was never cut).
        let pings = 0;
        for (;;) {
          const r = await get(port, '/ping', pinger);
          expect(r.body).toBe('first /ping\n');
          if (r.connection === 'close') break;
          expect(++pings, 'answers without Connection: close after SIGTERM').toBeLessThan(100_000);
        }
        // A connection made now waits in the backlog of the socket the parent still holds.
        const queued = get(port, '/queued', false);
        // The other idle kept-alive connection was not cut either: answered, with Connection: close.
        expect(await get(port, '/release', releaser)).toEqual({
          status: 200,
          connection: 'close',
          body: 'first /release\n',
        });
        expect(await inFlight).toEqual({ status: 200, connection: 'close', body: 'held\n' });
        // Exit status as with no handler at all: killed by SIGTERM.
        expect(await gone).toEqual({ code: null, signal: 'SIGTERM' });
        const second = launch('bare-app.mjs', fd, port, 'second');
        expect((await queued).body).toBe('second /queued\n');
        await second.line(/^LISTENING/);
      } finally {
        pinger.destroy();
        releaser.destroy();
      }
    });
  });

  it("with the app's own SIGTERM handler: that handler decides (http-app.mjs exits 0)", async () => {
    await withHeldListener(async (fd, port) => {
      const app = launch('http-app.mjs', fd, port, 'own');
      await app.line(/^LISTENING/);
      const gone = exited(app);
      app.child.kill('SIGTERM');
      expect(await gone).toEqual({ code: 0, signal: null });
    });
  });
});
