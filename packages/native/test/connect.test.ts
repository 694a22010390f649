import * as net from 'node:net';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { IPPROTO_MPTCP } from '@mptcp/constants';
import {
  connect,
  createServer,
  isMptcp,
  listen,
  mptcpInfo,
  mptcpStatus,
  MptcpSocketError,
  subflows,
} from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { closeServer, codeOf, connected, listening, roundTrip } from './helpers/net.js';

const noMptcp = missing(probes.mptcp);
const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
});

function echoServer(server: net.Server): net.Server {
  servers.push(server);
  server.on('connection', (s: net.Socket) => s.pipe(s));
  return server;
}

describe.skipIf(noMptcp)('MPTCP server ↔ MPTCP client', () => {
  it('both ends are MPTCP (protocol 262), data is echoed, mptcpInfo is non-null', async () => {
    const accepted: net.Socket[] = [];
    const server = echoServer(listen({ host: '127.0.0.1', port: 0 }, (s) => accepted.push(s)));
    const port = await listening(server);
    expect(mptcpStatus(server).protocol).toBe(IPPROTO_MPTCP);
    const client = connect({ host: '127.0.0.1', port, mptcp: 'require' });
    await connected(client);
    expect(isMptcp(client)).toBe(true);
    expect(mptcpStatus(client)).toEqual({ requested: true, active: true, fallback: false, protocol: IPPROTO_MPTCP });
    const info = mptcpInfo(client);
    expect(info).not.toBeNull();
    expect(info?.size).toBeGreaterThanOrEqual(40);
    expect(subflows(client).length).toBeGreaterThanOrEqual(1);
    const payload = Buffer.alloc(256 * 1024, 7);
    const echoed = roundTrip(client, payload);
    const s = accepted[0] ?? (await once(server, 'connection'))[0];
    expect(isMptcp(s as net.Socket)).toBe(true);
    expect(mptcpStatus(s as net.Socket).protocol).toBe(IPPROTO_MPTCP);
    expect((await echoed).equals(payload)).toBe(true);
  });

  it('works over IPv6 and with a host name, and a dual-stack server accepts IPv4', async () => {
    const server = echoServer(createServer({}).listen(0));
    const port = await listening(server);
    expect((server.address() as net.AddressInfo).address).toBe('::');
    for (const host of ['::1', '127.0.0.1', 'localhost']) {
      const client = connect({ host, port, mptcp: 'require' });
      await connected(client);
      expect(isMptcp(client)).toBe(true);
      expect((await roundTrip(client, host)).toString()).toBe(host);
    }
  });

  it('a host name resolved to IPv6 replaces the placeholder socket (custom lookup)', async () => {
    const server = echoServer(listen({ host: '::1', port: 0 }));
    const port = await listening(server);
    const asked: Array<[string, number]> = [];
    const client = connect({
      host: 'v6.example',
      port,
      family: 6,
      mptcp: 'require',
      lookup: (name, { family }, cb) => {
        asked.push([name, family]);
        cb(null, '::1', 6);
      },
    });
    await connected(client);
    expect(asked).toEqual([['v6.example', 6]]);
    expect(client.remoteAddress).toBe('::1');
    expect(client.remoteFamily).toBe('IPv6');
    expect(isMptcp(client)).toBe(true);
    expect((await roundTrip(client, 'v6')).toString()).toBe('v6');
  });

  it('binds localAddress/localPort before connecting', async () => {
    const server = echoServer(listen({ host: '127.0.0.1', port: 0 }));
    const port = await listening(server);
    const probe = net.createServer().listen(0, '127.0.0.2');
    const localPort = await listening(probe);
    await closeServer(probe);
    const client = connect({ host: '127.0.0.1', port, mptcp: 'require', localAddress: '127.0.0.2', localPort });
    await connected(client);
    expect(client.localAddress).toBe('127.0.0.2');
    expect(client.localPort).toBe(localPort);
    expect(isMptcp(client)).toBe(true);
    client.destroy();
  });

  it('queues writes made before connect, like net.connect', async () => {
    const server = echoServer(listen({ host: '127.0.0.1', port: 0 }));
    const port = await listening(server);
    const client = connect({ host: 'localhost', port, mptcp: 'prefer' });
    expect(client.connecting).toBe(true);
    expect((await roundTrip(client, 'early')).toString()).toBe('early');
  });
});

describe.skipIf(noMptcp)('fallback to TCP', () => {
  it('MPTCP client → plain net server: data flows, reported as fallback', async () => {
    const server = echoServer(net.createServer().listen(0, '127.0.0.1'));
    const port = await listening(server);
    const client = connect({ host: '127.0.0.1', port, mptcp: 'prefer' });
    await connected(client);
    expect(isMptcp(client)).toBe(false);
    expect(mptcpStatus(client)).toEqual({ requested: true, active: false, fallback: true, protocol: IPPROTO_MPTCP });
    expect(mptcpInfo(client)).toBeNull();
    expect(subflows(client)).toEqual([]);
    expect((await roundTrip(client, 'x')).toString()).toBe('x');
  });

  it('plain net client → MPTCP server: data flows, the accepted socket is reported as fallback', async () => {
    const seen: net.Socket[] = [];
    const server = echoServer(listen({ host: '127.0.0.1', port: 0, mptcp: 'require' }, (s) => seen.push(s)));
    const port = await listening(server);
    const client = net.connect(port, '127.0.0.1');
    await connected(client);
    const reply = roundTrip(client, 'plain');
    const s = (seen[0] ?? (await once(server, 'connection'))[0]) as net.Socket;
    expect(isMptcp(s)).toBe(false);
    expect(mptcpStatus(s)).toEqual({ requested: true, active: false, fallback: true, protocol: 6 });
    expect(isMptcp(client)).toBe(false);
    expect((await reply).toString()).toBe('plain');
  });
});

describe('errors', () => {
  it('a connect to a closed port rejects with ECONNREFUSED (typed error)', async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    const port = await listening(probe);
    await closeServer(probe);
    const client = connect({ host: '127.0.0.1', port, mptcp: 'prefer' });
    const [err] = (await once(client, 'error').catch((e: unknown) => [e])) as unknown[];
    expect(err).toBeInstanceOf(MptcpSocketError);
    expect(codeOf(err)).toBe('ECONNREFUSED');
    expect((err as MptcpSocketError).syscall).toBe('connect');
    expect((err as MptcpSocketError).port).toBe(port);
    // As net emits it: negative, so util.getSystemErrorName(err.errno) works.
    expect((err as MptcpSocketError).errno).toBe(-111);
  });

  it('an unknown host name is an error event, not a throw', async () => {
    const client = connect({ host: 'no-such-host.invalid', port: 1 });
    const err = await new Promise((resolve) => client.once('error', resolve));
    expect(codeOf(err)).toMatch(/ENOTFOUND|EAI_AGAIN/);
  });

  it('EADDRINUSE is emitted on the server', async () => {
    const a = listen({ host: '127.0.0.1', port: 0 });
    servers.push(a);
    const port = await listening(a);
    const b = listen({ host: '127.0.0.1', port });
    const err = await new Promise((resolve) => b.once('error', resolve));
    expect(codeOf(err)).toBe('EADDRINUSE');
    expect((err as MptcpSocketError).syscall).toBe('listen'); // as net (libuv reports bind() failures at listen())
  });
});

describe.skipIf(noMptcp)('no fd leak', () => {
  const count = (): number => readdirSync('/proc/self/fd').length;
  /**
   * A listener that ends every connection it accepts; counts accepted and closed sockets so a test can
   * wait for the server side's 'close' events (an event, not a delay) before counting fds.
   */
  const endingServer = async (): Promise<{
    port: number;
    accepted: () => number;
    closed: () => number;
    waitClosed: (n: number) => Promise<void>;
  }> => {
    let accepted = 0;
    let closed = 0;
    const waiters: Array<() => void> = [];
    const server = listen({ host: '127.0.0.1', port: 0 }, (s) => {
      accepted++;
      s.on('error', () => undefined);
      s.on('close', () => {
        closed++;
        for (const w of waiters.splice(0)) w();
      });
      s.end();
    });
    servers.push(server);
    const port = await listening(server);
    const waitClosed = async (n: number): Promise<void> => {
      const end = Date.now() + 30_000; // safety net only: each server-side 'close' re-checks
      while (closed < n) {
        if (Date.now() > end)
          throw new Error(`server closed ${closed} of ${n} accepted sockets (accepted ${accepted})`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 1000).unref();
        });
      }
    };
    return { port, accepted: () => accepted, closed: () => closed, waitClosed };
  };
  /** Polls until the server side has closed all it accepted and the fd count is back (30 s safety net). */
  const settled = async (srv: Awaited<ReturnType<typeof endingServer>>, before: number): Promise<void> => {
    const end = Date.now() + 30_000;
    while ((srv.closed() !== srv.accepted() || count() !== before) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('1,000 connect/close cycles leave /proc/self/fd unchanged', async () => {
    const srv = await endingServer();
    const { port } = srv;
    // One warm-up cycle so lazily opened fds (addon, epoll, dns) exist before counting.
    const warm = connect({ host: '127.0.0.1', port, mptcp: 'require' });
    await connected(warm);
    warm.destroy();
    await once(warm, 'close');
    await srv.waitClosed(1); // the server side of the warm-up is closed too
    const before = count();
    for (let i = 0; i < 1000; i++) {
      const c = connect({ host: '127.0.0.1', port, mptcp: 'require' });
      await connected(c);
      c.destroy();
      await once(c, 'close');
    }
    // accepted sockets close asynchronously on the server side: wait for all 1,001 'close' events
    await srv.waitClosed(1001);
    expect(count()).toBe(before);
  }, 120_000);

  it('destroying while connecting (IP literal, host name, blackhole timeout) leaks nothing', async () => {
    const srv = await endingServer();
    const { port } = srv;
    const before = count();
    for (let i = 0; i < 200; i++) {
      const host = i % 2 === 0 ? '127.0.0.1' : 'localhost';
      const c = connect({ host, port, mptcp: 'require', timeout: 1000 });
      let connectedOrError = false;
      c.on('connect', () => (connectedOrError = true));
      c.on('error', () => (connectedOrError = true));
      if (i % 4 < 2)
        c.destroy(); // at once
      else setImmediate(() => c.destroy()); // after the lookup/connect started
      await once(c, 'close');
      if (i % 4 < 2) expect(connectedOrError).toBe(false);
    }
    // How many the server accepts is not known in advance (a destroy may race the handshake): wait until
    // every accepted socket's 'close' has run and the count is back, with a 30 s safety net.
    await settled(srv, before);
    expect(count()).toBe(before);
  }, 120_000);
});
