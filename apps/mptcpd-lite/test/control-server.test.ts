/**
 * The control socket server on raw fds (src/control/server.ts), driven by node:net clients: replies
 * in order, a client that does not read stops being read (bounded replies) and gets everything once
 * it reads, a half-closed conversation ends after its replies, an idle client is closed, a stale node
 * is replaced and a live one refused, close() removes the node.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { close, listenUnixStream } from '@mptcp/native';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_PENDING_OUTPUT, startControlServer, type ControlServer } from '../src/control/server.js';

let dir: string;
const servers: ControlServer[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'control-server-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const BIG = 'x'.repeat(64 * 1024);

async function serve(opts: { idleMs?: number } = {}): Promise<{ path: string; handled: string[] }> {
  const path = join(dir, 'ctl', 'control.sock');
  const handled: string[] = [];
  const server = await startControlServer({
    path,
    idleMs: opts.idleMs,
    log: () => undefined,
    handler: async (cmd, req) => {
      handled.push(cmd);
      // A big reply, so that a client that does not read fills the socket buffers quickly.
      return cmd === 'status' ? { big: BIG, id: req.id } : { pong: true };
    },
  });
  servers.push(server);
  return { path, handled };
}

function connect(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Reads `count` lines (or until the server ends the conversation). */
function readLines(s: net.Socket, count: number): Promise<{ lines: string[]; ended: boolean }> {
  return new Promise((resolve) => {
    let buf = '';
    const lines: string[] = [];
    const done = (ended: boolean): void => {
      s.off('data', onData);
      s.off('end', onEnd);
      resolve({ lines, ended });
    };
    const onEnd = (): void => done(true);
    const onData = (d: Buffer): void => {
      buf += d.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      if (lines.length >= count) done(false);
    };
    s.on('data', onData);
    s.once('end', onEnd);
    s.resume();
  });
}

describe('control server', () => {
  it('creates the node 0600 and answers requests in order', async () => {
    const { path } = await serve();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const s = await connect(path);
    s.write('{"cmd":"ping","id":1}\n{"cmd":"ping","id":2}\n');
    const { lines } = await readLines(s, 2);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { ok: true, id: 1, pong: true },
      { ok: true, id: 2, pong: true },
    ]);
    s.destroy();
  });

  it('stops reading a client that does not read its replies, and delivers all of them once it does', async () => {
    const { path, handled } = await serve();
    const s = await connect(path);
    s.pause();
    const probe = await connect(path);
    /** One round trip on another connection: the server's event loop has seen what we sent before. */
    const roundTrip = async (): Promise<void> => {
      probe.write('{"cmd":"ping"}\n');
      await readLines(probe, 1);
    };
    const statuses = (): number => handled.filter((c) => c === 'status').length;
    // One 64 KiB reply per request; the client reads none. Once more than MAX_PENDING_OUTPUT waits
    // (beyond what the socket buffers took), the server stops reading: a request stays unhandled.
    let sent = 0;
    while (sent < 1000) {
      s.write(`{"cmd":"status","id":${sent}}\n`);
      sent++;
      await roundTrip();
      await roundTrip(); // the reply is written after the handler's promise: one more turn
      if (statuses() < sent) break;
    }
    expect(statuses()).toBeLessThan(sent);
    expect(statuses() * BIG.length).toBeGreaterThan(MAX_PENDING_OUTPUT);
    // More turns change nothing while the client holds back.
    const stuck = statuses();
    await roundTrip();
    await roundTrip();
    expect(statuses()).toBe(stuck);
    probe.destroy();
    const { lines } = await readLines(s, sent);
    expect(lines.map((l) => (JSON.parse(l) as { id: number }).id)).toEqual(Array.from({ length: sent }, (_, i) => i));
    s.destroy();
  }, 60_000);

  it('answers an oversized request with EMSGSIZE, then ends the conversation (end-of-file after the reply)', async () => {
    const { path } = await serve();
    const s = await connect(path);
    s.on('error', () => undefined);
    s.write(Buffer.alloc(100_000, 0x41));
    const { lines, ended } = await readLines(s, 2);
    expect(lines.length).toBe(1);
    expect(JSON.parse(lines[0] as string).error.code).toBe('EMSGSIZE');
    expect(ended).toBe(true);
    s.destroy();
  });

  it('a client that half-closes after its requests gets every reply, then end-of-file', async () => {
    const { path } = await serve();
    const s = await connect(path);
    // socat / nc -N: the requests, then end-of-file at once.
    s.end('{"cmd":"ping","id":1}\n{"cmd":"status","id":2}\n');
    const { lines, ended } = await readLines(s, 3);
    expect(lines.map((l) => (JSON.parse(l) as { id: number }).id)).toEqual([1, 2]);
    expect(ended).toBe(true);
    s.destroy();
  });

  it('answers thousands of pipelined requests in order (reading pauses and resumes)', async () => {
    const { path } = await serve();
    const s = await connect(path);
    const n = 5000;
    s.write(Array.from({ length: n }, (_, i) => `{"cmd":"ping","id":${i}}\n`).join(''));
    const { lines } = await readLines(s, n);
    expect(lines.map((l) => (JSON.parse(l) as { id: number }).id)).toEqual(Array.from({ length: n }, (_, i) => i));
    s.destroy();
  }, 60_000);

  it('does not run the queued requests of a client that has gone', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let firstStarted!: () => void;
    const started = new Promise<void>((r) => (firstStarted = r));
    const ran: string[] = [];
    const path = join(dir, 'ctl', 'control.sock');
    servers.push(
      await startControlServer({
        path,
        log: () => undefined,
        handler: async (_cmd, req) => {
          ran.push(String(req.id));
          if (req.id === 'q0') {
            firstStarted();
            await gate;
          }
          return { pong: true };
        },
      }),
    );
    const s = await connect(path);
    s.write(Array.from({ length: 100 }, (_, i) => `{"cmd":"ping","id":"q${i}"}\n`).join(''));
    await started;
    // Gone while its first request runs: q1..q99 wait behind it.
    s.destroy();
    await new Promise<void>((r) => s.once('close', () => r()));
    release();
    // Another client's round trip: the server's loop has run past the gone client's chain.
    const probe = await connect(path);
    for (let i = 0; i < 3; i++) {
      probe.write(`{"cmd":"ping","id":"p${i}"}\n`);
      await readLines(probe, 1);
    }
    probe.destroy();
    const gone = ran.filter((id) => id.startsWith('q'));
    // q0 ran; at most the one after it (its reply is what finds the peer gone), not the other 98.
    expect(gone.length).toBeLessThanOrEqual(2);
  });

  it('closes a connection idle for idleMs', async () => {
    const { path } = await serve({ idleMs: 300 });
    const s = await connect(path);
    const closed = await readLines(s, 1);
    expect(closed).toEqual({ lines: [], ended: true });
    s.destroy();
  });

  it('keeps an idle connection whose request is still being answered (a start waiting for its job)', async () => {
    const path = join(dir, 'ctl', 'control.sock');
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let keptOnce!: () => void;
    const kept = new Promise<void>((resolve) => (keptOnce = resolve));
    const server = await startControlServer({
      path,
      idleMs: 50,
      log: (_level, message) => {
        if (message.includes(': kept')) keptOnce();
      },
      handler: async (cmd) => {
        if (cmd === 'ping') await released;
        return { done: cmd };
      },
    });
    servers.push(server);
    const s = await connect(path);
    s.write('{"cmd":"ping"}\n');
    // The idle limit passes while the request waits: the connection stays.
    await kept;
    release();
    const first = await readLines(s, 1);
    expect(first.ended).toBe(false);
    expect(JSON.parse(first.lines[0] as string)).toMatchObject({ ok: true, done: 'ping' });
    // Answered and silent again: the limit applies.
    expect(await readLines(s, 1)).toEqual({ lines: [], ended: true });
    s.destroy();
  });

  it('replaces a stale node, refuses to start beside a live server, and removes the node on close', async () => {
    const { path } = await serve();
    await expect(startControlServer({ path, log: () => undefined, handler: async () => ({}) })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
    const live = servers.pop() as ControlServer;
    await live.close();
    expect(existsSync(path)).toBe(false);
    // A node left behind by a crash: a socket file nobody listens on any more.
    close(listenUnixStream(path, { mode: 0o600 }));
    expect(statSync(path).isSocket()).toBe(true);
    const { path: again } = await serve();
    expect(again).toBe(path);
    const s = await connect(path);
    s.write('{"cmd":"ping"}\n');
    expect(JSON.parse((await readLines(s, 1)).lines[0] as string)).toMatchObject({ ok: true, pong: true });
    s.destroy();
  });
});
