/** @mptcp/sd against real peers: a Python notify socket (SO_PASSCRED, SCM_RIGHTS) and systemd-socket-activate. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import {
  barrier,
  formatNotify,
  listenFds,
  notify,
  notifySocket,
  storeFds,
  watchdog,
  watchdogEnabled,
} from '../src/index.js';
import { fdPassing, need, python3, socketActivate } from './helpers/capability.js';

const HERE = new URL('.', import.meta.url).pathname;
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'mptcp-sd-'));
  dirs.push(d);
  return d;
}

/** Starts the Python notify socket; resolves its path and an iterator over the JSON lines. */
async function receiver(count: number): Promise<{
  path: string;
  next: () => Promise<{ pid: number; text: string; fds: Array<{ target: string; content: string | null }> }>;
}> {
  const path = join(tmp(), 'notify.sock');
  const child = spawn('python3', [join(HERE, 'helpers/notify-receiver.py'), path, String(count)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const first = await lines.next();
  expect(first.value).toBe(`ready ${path}`);
  return {
    path,
    next: async () => JSON.parse(((await lines.next()).value as string) ?? 'null'),
  };
}

describe('formatNotify', () => {
  it('writes one KEY=VALUE line per field, READY=1 last, MONOTONIC_USEC with RELOADING=1', () => {
    expect(formatNotify({ ready: true, status: 'up' })).toBe('STATUS=up\nREADY=1');
    expect(formatNotify({ fdStore: true, fdName: 'conn', fdPoll: false })).toBe('FDSTORE=1\nFDNAME=conn\nFDPOLL=0');
    expect(formatNotify({ mainPid: 42, watchdog: 'trigger', extendTimeoutUsec: 5_000_000 })).toBe(
      'MAINPID=42\nEXTEND_TIMEOUT_USEC=5000000\nWATCHDOG=trigger',
    );
    expect(formatNotify({ reloading: true })).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    expect(() => formatNotify({ status: 'a\nb' })).toThrow(/one line/);
    expect(() => formatNotify({ fdName: 'a:b' })).toThrow(/FDNAME/);
    expect(() => formatNotify({ mainPid: 0 })).toThrow(/MAINPID/);
  });
  it('without NOTIFY_SOCKET notify() is a no-op returning false; a bad one is an error', async () => {
    expect(await notify({ ready: true }, { env: {} })).toBe(false);
    expect(notifySocket({ NOTIFY_SOCKET: '@x' })).toBe('@x');
    expect(() => notifySocket({ NOTIFY_SOCKET: 'vsock:2:1' })).toThrow(/AF_UNIX/);
  });
});

describe('watchdogEnabled', () => {
  it('follows sd_watchdog_enabled: WATCHDOG_USEC, and WATCHDOG_PID must be ours', () => {
    expect(watchdogEnabled({ env: {} })).toBe(0);
    expect(watchdogEnabled({ env: { WATCHDOG_USEC: '2000000' } })).toBe(2_000_000);
    expect(watchdogEnabled({ env: { WATCHDOG_USEC: '2000000', WATCHDOG_PID: '7' }, pid: 7 })).toBe(2_000_000);
    expect(watchdogEnabled({ env: { WATCHDOG_USEC: '2000000', WATCHDOG_PID: '8' }, pid: 7 })).toBe(0);
    expect(watchdogEnabled({ env: { WATCHDOG_USEC: 'x' } })).toBe(0);
    const env: NodeJS.ProcessEnv = { WATCHDOG_USEC: '1', WATCHDOG_PID: '1' };
    watchdogEnabled({ env, unsetEnvironment: true });
    expect(env).toEqual({});
  });
});

describe('notify to a real notify socket (Python, SO_PASSCRED)', () => {
  it('the datagram comes from this process with the text', async (ctx) => {
    need(ctx, python3);
    const r = await receiver(1);
    expect(await notify({ ready: true, status: 'serving' }, { env: { NOTIFY_SOCKET: r.path } })).toBe(true);
    const got = await r.next();
    expect(got.pid).toBe(process.pid);
    expect(got.text).toBe('STATUS=serving\nREADY=1');
  });
  it('watchdog() pings WATCHDOG=1 at once and then every half of WATCHDOG_USEC', async (ctx) => {
    need(ctx, python3);
    const r = await receiver(2);
    const dog = watchdog({
      env: { NOTIFY_SOCKET: r.path, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) },
    });
    expect(dog?.intervalMs).toBe(100);
    expect((await r.next()).text).toBe('WATCHDOG=1');
    expect((await r.next()).text).toBe('WATCHDOG=1');
    dog?.stop();
  });
  it('storeFds() attaches the fds (SCM_RIGHTS) under FDNAME', async (ctx) => {
    need(ctx, python3, fdPassing);
    const r = await receiver(1);
    const file = join(tmp(), 'state.txt');
    writeFileSync(file, 'kept across restarts');
    const fd = openSync(file, 'r');
    expect(await storeFds([fd], 'state', { env: { NOTIFY_SOCKET: r.path } })).toBe(true);
    const got = await r.next();
    expect(got.text).toBe('FDSTORE=1\nFDNAME=state');
    expect(got.fds).toEqual([{ target: file, content: 'kept across restarts' }]);
  });
});

describe('barrier (sd_notify_barrier)', () => {
  it('BARRIER=1 carries one fd; it resolves once the receiver has closed it', async (ctx) => {
    need(ctx, python3, fdPassing);
    const r = await receiver(1);
    const done = barrier({ env: { NOTIFY_SOCKET: r.path }, timeoutMs: 20_000 });
    const got = await r.next();
    expect(got.text).toBe('BARRIER=1');
    expect(got.fds.length).toBe(1);
    expect(await done).toBe(true);
  });
});

describe('a Node service using @mptcp/sd under systemd-socket-activate', () => {
  it('gets its socket, says READY=1 to nobody, and echoes', async (ctx) => {
    need(ctx, socketActivate);
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const example = join(HERE, '../examples/echo-service.mjs');
    const child = spawn(
      '/usr/bin/systemd-socket-activate',
      ['-l', `127.0.0.1:${port}`, '--fdname=echo', process.execPath, example],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(child);
    // systemd-socket-activate says "Listening on …" once the socket is bound.
    await new Promise<void>((resolve) =>
      child.stderr?.on('data', (d: Buffer) => d.toString().includes('Listening') && resolve()),
    );
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect(port, '127.0.0.1', () => c.end('hello'));
      let text = '';
      c.on('data', (d) => (text += d.toString()));
      c.on('end', () => resolve(text));
      c.on('error', reject);
    });
    expect(reply).toBe('hello');
  });
});

describe('listenFds (moved here from @mptcp/activation)', () => {
  it('returns the named fds for this PID and unsets the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '9', LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:stored' };
    expect(listenFds({ env, pid: 9 })).toEqual([
      { fd: 3, name: 'web' },
      { fd: 4, name: 'stored' },
    ]);
    expect(env).toEqual({});
  });
});
