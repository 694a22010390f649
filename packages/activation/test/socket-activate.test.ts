/** runSocketActivate(): systemd-socket-activate's behaviour, checked on real sockets. */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSocketActivate, socketActivateEnvironment } from '../src/socket-activate.js';
import { mptcp, need, python3 } from './helpers/capability.js';
import { HELPERS, clientOnce, freePort, tmp } from './helpers/run.js';

/** Resolves when the activator's sockets listen (loading the addon can take a moment). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('socketActivateEnvironment', () => {
  it('keeps only TERM, PATH, USER, HOME, then LISTEN_*, then -E', () => {
    const env = socketActivateEnvironment(
      {
        env: { TERM: 'xterm', PATH: '/bin', HOME: '/root', USER: 'root', SECRET: 's', FOO: 'bar' },
        setenv: ['FOO', 'BAR=baz', 'MISSING'],
        fdnames: ['web'],
      },
      2,
    );
    expect(env).toEqual({
      TERM: 'xterm',
      PATH: '/bin',
      HOME: '/root',
      USER: 'root',
      LISTEN_FDS: '2',
      LISTEN_FDNAMES: 'web:web',
      FOO: 'bar',
      BAR: 'baz',
    });
  });
});

describe('runSocketActivate', () => {
  it.for(['native', 'node'] as const)(
    'without --accept (%s launcher): the program gets all fds on the first connection, LISTEN_PID = its PID, exit status mirrored',
    async (spawn, ctx) => {
      need(ctx, python3);
      const [p1, p2] = [await freePort(), await freePort()];
      const out = join(tmp(`act-sa-${spawn}-`), 'env');
      const logs: string[] = [];
      const listening = deferred();
      const status = runSocketActivate({
        listen: [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`],
        fdnames: ['web', 'admin'],
        setenv: ['FOO=bar'],
        env: { PATH: '/usr/bin:/bin', HOME: '/root', SECRET: 'x' },
        command: ['/bin/sh', '-c', `env > ${out}; echo $$ > ${out}.pid; ls /proc/self/fd > ${out}.fds; exit 7`],
        logger: { debug() {}, warn() {}, error() {}, info: (m) => logs.push(m) },
        onListening: () => listening.resolve(),
        spawn,
      });
      // Connect to the second socket: the program gets both.
      await listening.promise;
      const c = net.connect({ port: p2, host: '127.0.0.1' });
      c.on('error', () => undefined);
      expect(await status).toBe(7);
      c.destroy();
      const env = Object.fromEntries(
        readFileSync(out, 'utf8')
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      const pid = readFileSync(`${out}.pid`, 'utf8').trim();
      delete env.PWD; // sh's own
      expect(env).toEqual({
        PATH: '/usr/bin:/bin',
        HOME: '/root',
        LISTEN_FDS: '2',
        LISTEN_FDNAMES: 'web:admin',
        LISTEN_PID: pid,
        FOO: 'bar',
      });
      expect(logs[0]).toMatch(/^Listening on 127\.0\.0\.1:\d+ as \d+\.$/);
      expect(logs).toContain(
        `Execing /bin/sh (/bin/sh -c env > ${out}; echo $$ > ${out}.pid; ls /proc/self/fd > ${out}.fds; exit 7)`,
      );
      expect(
        readFileSync(`${out}.fds`, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map(Number)
          .sort((a, b) => a - b)
          .slice(0, 5),
      ).toEqual([0, 1, 2, 3, 4]);
    },
  );

  it('--accept with mptcp: fd 3 is the MPTCP connection, LISTEN_FDS=1, LISTEN_PID = the child, no REMOTE_ADDR', async (ctx) => {
    need(ctx, mptcp, python3);
    const port = await freePort();
    const ac = new AbortController();
    const listening = deferred();
    const done = runSocketActivate({
      listen: [`127.0.0.1:${port}`],
      accept: true,
      mptcp: true,
      onListening: () => listening.resolve(),
      env: { PATH: '/usr/bin:/bin' },
      command: ['/usr/bin/python3', join(HELPERS, 'conn-info.py')],
      signal: ac.signal,
    });
    await listening.promise;
    const info = JSON.parse((await clientOnce(port)).received) as {
      so_protocol: number;
      pid: number;
      env: Record<string, string>;
    };
    ac.abort();
    expect(await done).toBe(0);
    expect(info.so_protocol).toBe(262);
    delete info.env.LC_CTYPE; // Python's own locale coercion (PEP 538), not from the activator
    expect(info.env).toEqual({ PATH: '/usr/bin:/bin', LISTEN_FDS: '1', LISTEN_PID: String(info.pid) });
  });

  it('--accept --inetd: one cat per connection, echoing', async (ctx) => {
    need(ctx, python3);
    const port = await freePort();
    const ac = new AbortController();
    const pids: number[] = [];
    const listening = deferred();
    const done = runSocketActivate({
      listen: [`127.0.0.1:${port}`],
      accept: true,
      inetd: true,
      command: ['cat'],
      signal: ac.signal,
      onSpawn: (pid) => pids.push(pid),
      onListening: () => listening.resolve(),
    });
    await listening.promise;
    expect((await clientOnce(port, { tcp: true, send: 'one' })).received).toBe('one');
    expect((await clientOnce(port, { tcp: true, send: 'two' })).received).toBe('two');
    expect(new Set(pids).size).toBe(2);
    ac.abort();
    expect(await done).toBe(0);
  });
});
