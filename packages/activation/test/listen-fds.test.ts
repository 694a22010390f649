/** @mptcp/activation/listen-fds: the sd_listen_fds() rules, and real activators handing it fds. */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { listenFds } from '../src/listen-fds.js';
import { mptcp, need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { HELPERS, clientOnce, freePort, loopback, unitDir, waitListening } from './helpers/run.js';

describe('listenFds() rules', () => {
  it('returns the fds with names when LISTEN_PID is ours, and unsets the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '123', LISTEN_FDS: '2', LISTEN_FDNAMES: 'web:admin', OTHER: 'x' };
    expect(listenFds({ env, pid: 123 })).toEqual([
      { fd: 3, name: 'web' },
      { fd: 4, name: 'admin' },
    ]);
    expect(env).toEqual({ OTHER: 'x' });
  });
  it('names default to "unknown"; a LISTEN_PID of another process gives nothing or throws', () => {
    expect(listenFds({ env: { LISTEN_PID: '5', LISTEN_FDS: '1' }, pid: 5 })).toEqual([{ fd: 3, name: 'unknown' }]);
    expect(listenFds({ env: { LISTEN_PID: '6', LISTEN_FDS: '1' }, pid: 5 })).toEqual([]);
    expect(() => listenFds({ env: { LISTEN_PID: '6', LISTEN_FDS: '1' }, pid: 5, onPidMismatch: 'throw' })).toThrow(
      /LISTEN_PID=6/,
    );
    expect(listenFds({ env: { LISTEN_FDS: '1' }, pid: 5 })).toEqual([]);
  });
  it('malformed variables are errors (sd_listen_fds -EINVAL)', () => {
    expect(() => listenFds({ env: { LISTEN_PID: '5', LISTEN_FDS: 'x' }, pid: 5 })).toThrow(/LISTEN_FDS/);
    expect(() => listenFds({ env: { LISTEN_PID: '5', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a' }, pid: 5 })).toThrow(
      /LISTEN_FDNAMES/,
    );
  });
  it('the entry point does not load the engine or the addon', async () => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "await import('@mptcp/activation/listen-fds'); const { readFileSync } = await import('node:fs'); console.log(readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.endsWith('.node') || l.includes('activation/dist/engine')).length)",
      ],
      { cwd: join(HELPERS, '..', '..'), encoding: 'utf8' },
    );
    expect(out.trim()).toBe('0');
  });
});

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

interface Reply {
  name: string;
  pid: number;
  fds: Array<{ fd: number; name: string }>;
  leftover: string[];
}

describe('listen-fds with real activators', () => {
  it('mptcpd-lite engine → Node service via net.Server, MPTCP, named fd', async (ctx) => {
    need(ctx, mptcp, python3);
    const dir = unitDir({
      'node.socket': `[Socket]\nListenStream=${await loopback()}\nSocketProtocol=mptcp\nFileDescriptorName=web\n`,
      'node.service': `[Service]\nExecStart=${process.execPath} ${join(HELPERS, 'listen-fds-service.mjs')} once\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('node.socket')?.listen[0]?.port as number;
    const r = await clientOnce(port);
    expect(r.protocol).toBe(262);
    const reply = JSON.parse(r.received) as Reply;
    expect(reply).toMatchObject({ name: 'web', fds: [{ fd: 3, name: 'web' }], leftover: [] });
  });

  it('a datagram fd next to a stream fd is left in `other` (Node cannot adopt it)', async (ctx) => {
    need(ctx, python3);
    const dir = unitDir({
      'mix.socket': `[Socket]\nListenStream=${await loopback()}\nFileDescriptorName=web\n`,
      'mixdg.socket': `[Socket]\nListenDatagram=${await loopback()}\nService=mix.service\n`,
      'mix.service': `[Service]\nExecStart=${process.execPath} ${join(HELPERS, 'listen-fds-service.mjs')} once\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('mix.socket')?.listen[0]?.port as number;
    const reply = JSON.parse((await clientOnce(port, { tcp: true })).received) as Reply & { other: string[] };
    expect(reply.name).toBe('web');
    expect(reply.other).toEqual(['mixdg.socket']);
    expect(reply.fds.map((f) => f.name).sort()).toEqual(['mixdg.socket', 'web']);
  });

  it('Accept=yes → the Node service gets the connection as a net.Socket', async (ctx) => {
    need(ctx, mptcp, python3);
    const dir = unitDir({
      'conn.socket': `[Socket]\nListenStream=${await loopback()}\nSocketProtocol=mptcp\nAccept=yes\n`,
      'conn@.service': `[Service]\nExecStart=${process.execPath} ${join(HELPERS, 'listen-fds-service.mjs')}\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('conn.socket')?.listen[0]?.port as number;
    const reply = JSON.parse((await clientOnce(port)).received) as Reply;
    expect(reply).toMatchObject({ name: 'connection', fds: [{ fd: 3, name: 'connection' }] });
  });

  it('systemd-socket-activate → the same Node service', async (ctx) => {
    need(ctx, python3);
    const port = await freePort();
    const child = spawn(
      'systemd-socket-activate',
      ['-l', `127.0.0.1:${port}`, '--fdname=api', process.execPath, join(HELPERS, 'listen-fds-service.mjs'), 'once'],
      { stdio: 'ignore' },
    );
    try {
      await waitListening(port);
      const r = await clientOnce(port, { tcp: true });
      const reply = JSON.parse(r.received) as Reply;
      expect(reply).toMatchObject({ name: 'api', pid: child.pid, leftover: [] });
    } finally {
      child.kill();
    }
  });
});
