/** Accept=yes: per-connection instances named as systemd 257 names them, fd 3 or inetd stdio. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ActivationEngine } from '../src/index.js';
import { mptcp, need, python3 } from './helpers/capability.js';
import { loadUnits } from './helpers/load.js';
import { testLogger } from './helpers/log.js';
import { HELPERS, clientOnce, freePort, loopback, unitDir, waitFor } from './helpers/run.js';

let engine: ActivationEngine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

interface ConnInfo {
  argv: string[];
  pid: number;
  so_protocol: number;
  env: Record<string, string>;
  fds: number[];
  fd_targets: Record<string, string>;
  nonblocking: boolean;
}

describe('Accept=yes', () => {
  it('fd 3 is the MPTCP connection; instance name, REMOTE_*, LISTEN_* as systemd 257', async (ctx) => {
    need(ctx, mptcp, python3);
    const dir = unitDir({
      'info.socket': `[Socket]\nListenStream=${await loopback()}\nSocketProtocol=mptcp\nAccept=yes\n`,
      'info@.service': `[Service]\nExecStart=/usr/bin/python3 ${join(HELPERS, 'conn-info.py')} %i %n\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('info.socket')?.listen[0]?.port as number;
    const accepted: string[] = [];
    engine.on('accepted', (e) => accepted.push(e.service));

    for (let n = 0; n < 2; n++) {
      const reply = await clientOnce(port);
      const info = JSON.parse(reply.received) as ConnInfo;
      const instance = `${n}-127.0.0.1:${port}-127.0.0.1:${reply.local_port}`;
      expect(info.so_protocol).toBe(262);
      expect(info.argv).toEqual([instance, `info@${instance}.service`]);
      expect(accepted[n]).toBe(`info@${instance}.service`);
      expect(info.env).toMatchObject({
        REMOTE_ADDR: '127.0.0.1',
        REMOTE_PORT: String(reply.local_port),
        LISTEN_FDS: '1',
        LISTEN_FDNAMES: 'connection',
        LISTEN_PID: String(info.pid),
      });
      expect(info.nonblocking).toBe(false);
      // Beyond stdio (whatever the test runner has there), only the connection: no listening
      // socket, no other daemon fd.
      const sockets = Object.entries(info.fd_targets)
        .filter(([f, t]) => Number(f) > 2 && t.startsWith('socket:'))
        .map(([f]) => Number(f));
      expect(sockets).toEqual([3]);
    }
    await waitFor(() => engine?.socket('info.socket')?.connections === 0, 5000, 'instances to exit');
    expect(engine.socket('info.socket')).toMatchObject({
      state: 'listening',
      counters: { accepted: 2, refused: 0, triggers: 2 },
    });
  });

  it('IPv6: instance name without brackets, REMOTE_ADDR ::1', async (ctx) => {
    need(ctx, mptcp, python3);
    const port = await freePort();
    const dir = unitDir({
      'six.socket': `[Socket]\nListenStream=[::1]:${port}\nSocketProtocol=mptcp\nAccept=yes\nBindIPv6Only=ipv6-only\n`,
      'six@.service': `[Service]\nExecStart=/usr/bin/python3 ${join(HELPERS, 'conn-info.py')} %i\n`,
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const reply = await clientOnce(port, { host: '::1' });
    const info = JSON.parse(reply.received) as ConnInfo;
    expect(info.argv).toEqual([`0-::1:${port}-::1:${reply.local_port}`]);
    expect(info.env).toMatchObject({ REMOTE_ADDR: '::1', REMOTE_PORT: String(reply.local_port) });
    expect(info.so_protocol).toBe(262);
  });

  it('StandardInput=socket (inetd mode): cat echoes, no LISTEN_* variables', async (ctx) => {
    need(ctx, python3);
    const dir = unitDir({
      'echo.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'echo@.service':
        '[Service]\nExecStart=/bin/sh -c \'env | grep -c "^LISTEN_" >&2; exec cat\'\nStandardInput=socket\nStandardError=journal\n',
    });
    engine = new ActivationEngine({ logger: testLogger(), serviceOutput: 'ignore' });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('echo.socket')?.listen[0]?.port as number;
    const reply = await clientOnce(port, { tcp: true, send: 'echo me\n' });
    expect(reply.received).toBe('echo me\n');
  });

  it('inetd mode sees REMOTE_ADDR but no LISTEN_*', async (ctx) => {
    need(ctx, python3);
    const dir = unitDir({
      'envd.socket': `[Socket]\nListenStream=${await loopback()}\nAccept=yes\n`,
      'envd@.service': '[Service]\nExecStart=/usr/bin/env\nStandardInput=socket\n',
    });
    engine = new ActivationEngine({ logger: testLogger() });
    expect((await engine.start(await loadUnits(dir))).failed).toEqual([]);
    const port = engine.socket('envd.socket')?.listen[0]?.port as number;
    const reply = await clientOnce(port, { tcp: true });
    const names = reply.received
      .trim()
      .split('\n')
      .map((l) => l.slice(0, l.indexOf('=')));
    expect(names).toContain('REMOTE_ADDR');
    expect(names).toContain('REMOTE_PORT');
    expect(names.filter((n) => n.startsWith('LISTEN_'))).toEqual([]);
  });
});
