/**
 * connect()/listen()/createServer() behave as node:net where the adversarial audit found them apart:
 * listener exceptions, signal after connect, argument forms, port/host/mptcp validation, fd leaks.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, createHttpServer, createServer, listen, openSocket } from '../src/index.js';

/** Every dns/promises lookup server.ts starts, to wait for it instead of the clock. */
const lookups = vi.hoisted(() => [] as Array<Promise<unknown>>);
vi.mock('node:dns/promises', async (importOriginal) => {
  const dns = await importOriginal<typeof import('node:dns/promises')>();
  const lookup = (...args: Parameters<typeof dns.lookup>): ReturnType<typeof dns.lookup> => {
    const p = dns.lookup(...args);
    lookups.push(p.catch(() => undefined));
    return p;
  };
  return { ...dns, default: { ...dns, lookup }, lookup };
});

const indexUrl = new URL('../dist/index.js', import.meta.url).href;

/** Runs `body` as an ES module in a fresh node with the built package imported as `m`; its stdout. */
function runChild(body: string, args: string[] = []): string {
  return execFileSync(
    process.execPath,
    [...args, '--input-type=module', '-e', `import * as m from ${JSON.stringify(indexUrl)};\n${body}`],
    { encoding: 'utf8', timeout: 60_000 },
  );
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function tcpServer(): Promise<number> {
  const srv = net.createServer((s) => s.on('error', () => {}));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  cleanups.push(() => srv.close());
  return (srv.address() as net.AddressInfo).port;
}

describe('connect()', () => {
  it("an exception thrown by a 'connect' listener reaches 'uncaughtException', as net", () => {
    const out = runChild(`
      import * as net from 'node:net';
      const srv = net.createServer((s) => s.on('error', () => {}).end()).listen(0, '127.0.0.1');
      srv.on('listening', () => {
        process.on('uncaughtException', (e) => { console.log('caught ' + e.message); c.destroy(); srv.close(); });
        const c = m.connect({ host: '127.0.0.1', port: srv.address().port }, () => { throw new Error('in listener'); });
        c.on('error', () => {});
      });
    `);
    expect(out.trim()).toBe('caught in listener');
  });

  it('aborting the signal after connect destroys the socket with an AbortError, as net', async () => {
    const port = await tcpServer();
    const ac = new AbortController();
    const c = connect({ host: '127.0.0.1', port, signal: ac.signal });
    await once(c, 'connect');
    const failed = once(c, 'error');
    ac.abort();
    const [err] = (await failed) as [Error & { code?: string }];
    expect(err.name).toBe('AbortError');
    expect(err.code).toBe('ABORT_ERR');
    expect(c.destroyed).toBe(true);
  });
});

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
};

describe('argument checks as node:net (thrown synchronously)', () => {
  it('connect(): a numeric string port dials that port; bad ports throw ERR_SOCKET_BAD_PORT', async () => {
    const port = await tcpServer();
    const c = connect({ host: '127.0.0.1', port: String(port) as unknown as number });
    cleanups.push(() => c.destroy());
    await once(c, 'connect');
    expect(c.remotePort).toBe(port);
    for (const bad of ['abc', 1.5, NaN, -1, 70000, '']) {
      expect(code(() => connect({ host: '127.0.0.1', port: bad as number }))).toBe('ERR_SOCKET_BAD_PORT');
    }
    expect(code(() => connect({ host: '127.0.0.1' } as never))).toBe('ERR_MISSING_ARGS');
    expect(code(() => connect(undefined as never))).toBe('ERR_MISSING_ARGS');
    expect(code(() => connect({ port: {} as number }))).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('connect(): net codes for a bad localAddress, host, signal, lookup, family, timeout', () => {
    const o = { host: '127.0.0.1', port: 1 };
    expect(code(() => connect({ ...o, localAddress: 'nope' }))).toBe('ERR_INVALID_IP_ADDRESS');
    expect(code(() => connect({ ...o, host: 123 as unknown as string }))).toBe('ERR_INVALID_ARG_TYPE');
    expect(code(() => connect({ ...o, signal: {} as AbortSignal }))).toBe('ERR_INVALID_ARG_TYPE');
    expect(code(() => connect({ ...o, lookup: 5 as never }))).toBe('ERR_INVALID_ARG_TYPE');
    expect(code(() => connect({ ...o, family: 5 as never }))).toBe('ERR_INVALID_ARG_VALUE');
    expect(code(() => connect({ ...o, timeout: -1 }))).toBe('ERR_OUT_OF_RANGE');
    expect(code(() => connect({ ...o, localPort: 'x' as never }))).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('a localAddress of the other family: \'error\' bind EINVAL as net (was EIO "TypeError: ...")', async () => {
    const c = connect({ host: '127.0.0.1', port: 1, localAddress: '::1' });
    const [err] = (await once(c, 'error')) as [Error & { code?: string; syscall?: string }];
    expect(err.code).toBe('EINVAL');
    expect(err.syscall).toBe('bind');
  });

  it('listen(): bad ports throw ERR_SOCKET_BAD_PORT (1.5 bound port 1, "abc" a random port); "8080"-style strings work', async () => {
    for (const bad of [1.5, 'abc', -1, 70000]) {
      expect(code(() => createServer().listen({ host: '127.0.0.1', port: bad as number }))).toBe('ERR_SOCKET_BAD_PORT');
      expect(code(() => listen({ host: '127.0.0.1', port: bad as number }))).toBe('ERR_SOCKET_BAD_PORT');
    }
    expect(code(() => createServer().listen(1.5))).toBe('ERR_SOCKET_BAD_PORT');
    const probe = createServer().listen({ host: '127.0.0.1', port: 0 });
    await once(probe, 'listening');
    const free = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const srv = createServer().listen({ host: '127.0.0.1', port: String(free) as unknown as number });
    cleanups.push(() => srv.close());
    await once(srv, 'listening');
    expect((srv.address() as net.AddressInfo).port).toBe(free);
  });

  it("mptcp: true is 'prefer'; anything not documented throws ERR_INVALID_ARG_VALUE", async () => {
    for (const bad of ['yes', 'required', 0, 1, null]) {
      expect(code(() => connect({ host: '127.0.0.1', port: 1, mptcp: bad as never }))).toBe('ERR_INVALID_ARG_VALUE');
      expect(code(() => createServer({ mptcp: bad as never }))).toBe('ERR_INVALID_ARG_VALUE');
      expect(code(() => listen({ host: '127.0.0.1', port: 0, mptcp: bad as never }))).toBe('ERR_INVALID_ARG_VALUE');
      expect(code(() => createHttpServer({ mptcp: bad as never }))).toBe('ERR_INVALID_ARG_VALUE');
    }
    const srv = listen({ host: '127.0.0.1', port: 0, mptcp: true });
    cleanups.push(() => srv.close());
    await once(srv, 'listening');
    const c = connect({ host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port, mptcp: true });
    cleanups.push(() => c.destroy());
    await once(c, 'connect');
  });
});

describe('createServer() and createHttpServer() argument forms', () => {
  it('a function first argument is the connection / request listener, as net and http', async () => {
    const seen: string[] = [];
    const a = createServer((s) => {
      seen.push('net');
      s.end();
    }).listen(0, '127.0.0.1');
    const b = createHttpServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    await Promise.all([once(a, 'listening'), once(b, 'listening')]);
    const c = net.connect((a.address() as net.AddressInfo).port, '127.0.0.1');
    c.on('error', () => {});
    cleanups.push(() => c.destroy());
    await once(c, 'close');
    expect(seen).toEqual(['net']);
    const res = await fetch(`http://127.0.0.1:${(b.address() as net.AddressInfo).port}/`, {
      headers: { connection: 'close' },
    });
    expect(await res.text()).toBe('ok');
  });
});

describe('hosts and lookups', () => {
  it("host '' is localhost, as net's `options.host || 'localhost'`", async () => {
    const srv = createServer().listen(0, 'localhost');
    cleanups.push(() => srv.close());
    await once(srv, 'listening');
    const c = connect({ host: '', port: (srv.address() as net.AddressInfo).port });
    cleanups.push(() => c.destroy());
    await once(c, 'connect');
  });

  it('a lookup that answers no address fails with ENOTFOUND instead of hanging', async () => {
    const c = connect({
      host: 'nothing.invalid',
      port: 80,
      lookup: (_h, _o, cb) => cb(null, []),
    });
    const [err] = (await once(c, 'error')) as [Error & { code?: string; syscall?: string }];
    expect(err.code).toBe('ENOTFOUND');
    expect(err.syscall).toBe('getaddrinfo');
  });

  it('close() before a host-name listen() has looked its host up cancels the listen, as net', async () => {
    await Promise.all(lookups.splice(0));
    const before = openFds();
    const srv = createServer();
    srv.listen(0, 'localhost');
    srv.close();
    await once(srv, 'close');
    expect(lookups.length).toBe(1);
    await Promise.all(lookups.splice(0));
    await new Promise((r) => setImmediate(r));
    expect(srv.listening).toBe(false);
    expect(openFds()).toBeLessThanOrEqual(before); // (earlier tests' sockets may close meanwhile)
  });
});

describe('no fd leaks on failed listen()', () => {
  it('listen() refused by the kernel (EADDRINUSE) or by validation, openSocket() with a bad port or address', async () => {
    const taken = await tcpServer();
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const s = createServer();
      s.listen({ host: '127.0.0.1', port: taken });
      const [err] = (await once(s, 'error')) as [Error & { code?: string }];
      expect(err.code).toBe('EADDRINUSE');
      expect(code(() => createServer().listen(70000))).toBe('ERR_SOCKET_BAD_PORT');
      expect(() =>
        openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 70000 }, mptcp: 'prefer' }),
      ).toThrow();
      expect(() =>
        openSocket({ kind: 'stream', address: { family: 'inet', address: 'xyz', port: 1 }, mptcp: 'prefer' }),
      ).toThrow();
    }
    expect(openFds()).toBeLessThanOrEqual(before);
  });
});

describe('the register hook and --require', () => {
  it('--require @mptcp/native/register fails with a message naming --import (was ERR_REQUIRE_ASYNC_MODULE)', () => {
    const r = spawnSync(process.execPath, ['--require', '@mptcp/native/register', '-e', 'console.log("ran")'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)), // the package resolves itself by name here
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('load it with --import, not --require');
  });
});
