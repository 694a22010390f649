/**
 * The node:net/http behaviours the second compatibility audit found missing, each run side by side
 * with node:net (or undici's own Agent) and compared: listen()'s callback surviving a failed attempt
 * (Vite's port retry), ERR_SERVER_ALREADY_LISTEN, error shapes (syscall, negative errno, message),
 * setNoDelay()/setKeepAlive() during a host-name connect, the 'lookup' event, a resolver answering a
 * non-IP, and fetch's connect timeout through MptcpAgent (in a namespace that drops SYNs).
 */
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { binding, sysconst } from '../src/binding.js';
import { connect, createServer } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { createNetns, deleteNetns, lastJson, runIn, sh } from './helpers/netns.js';

/** net.connect's options, with a lookup of any shape (the tests pass hand-written resolvers). */
type ConnectOptions = { host: string; port: number; family?: number; lookup?: unknown };
type Connect = (options: ConnectOptions) => net.Socket;
type MakeServer = () => net.Server;
const impls: Array<{ name: string; server: MakeServer; connect: Connect }> = [
  { name: 'node:net', server: () => net.createServer(), connect: (o) => net.connect(o as net.NetConnectOpts) },
  { name: 'mptcp', server: () => createServer(), connect: (o) => connect(o as Parameters<typeof connect>[0]) },
];
const [NET, MPTCP] = impls as [(typeof impls)[0], (typeof impls)[0]];

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => (s.listening ? s.close(r) : r(undefined)))));
});

const track = <T extends net.Server>(s: T): T => {
  servers.push(s);
  return s;
};

/** A port some other net server holds on 127.0.0.1. */
async function busyPort(): Promise<number> {
  const busy = track(net.createServer());
  busy.listen(0, '127.0.0.1');
  await once(busy, 'listening');
  return (busy.address() as net.AddressInfo).port;
}

/** A port nobody listens on (closed again before use). */
async function deadPort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

/** The fields net's error handlers read, with the port replaced so both runs compare equal. */
function shape(e: NodeJS.ErrnoException & { address?: string; port?: number }, port: number): Record<string, unknown> {
  let name: string;
  try {
    name = getSystemErrorName(e.errno ?? 0);
  } catch (x) {
    name = `throws ${(x as { code?: string }).code}`;
  }
  return {
    code: e.code,
    errno: e.errno,
    syscall: e.syscall,
    address: e.address,
    port: e.port === port ? 'PORT' : e.port,
    systemErrorName: name,
    message: e.message.replace(String(port), 'PORT'),
  };
}

describe('listen(port, host, cb) as net: the callback is a listening listener from the first call', () => {
  it.each(impls)('$name: a retry on the next port without a callback still runs the first one (Vite)', async (impl) => {
    const taken = await busyPort();
    const server = track(impl.server());
    const ready = new Promise<number>((resolve) =>
      server.listen(taken, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
    );
    const [err] = (await once(server, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('EADDRINUSE');
    server.listen(0, '127.0.0.1'); // no callback: as Vite's httpServerStart retries
    expect(await ready).not.toBe(taken);
  });
});

describe('listen() on a listening server (as net)', () => {
  const count = (): number => readdirSync('/proc/self/fd').length;
  it.each(impls)('$name: throws ERR_SERVER_ALREADY_LISTEN synchronously, opens no socket', async (impl) => {
    const server = track(impl.server());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const errors: unknown[] = [];
    server.on('error', (e) => errors.push(e));
    const before = count();
    for (const p of [port, 0]) {
      for (let i = 0; i < 20; i++) {
        expect(() => server.listen(p, '127.0.0.1')).toThrow(
          expect.objectContaining({ code: 'ERR_SERVER_ALREADY_LISTEN' }) as Error,
        );
      }
    }
    await new Promise((r) => setImmediate(r));
    expect(count()).toBe(before);
    expect(errors).toEqual([]);
  });
});

describe("errors shaped as net's (syscall, negative errno, message, address, port)", () => {
  it('listen on a busy port: "listen EADDRINUSE: address already in use 127.0.0.1:PORT"', async () => {
    const port = await busyPort();
    const seen = [];
    for (const impl of [NET, MPTCP]) {
      const server = track(impl.server());
      server.listen(port, '127.0.0.1');
      const [err] = (await once(server, 'error')) as [NodeJS.ErrnoException];
      seen.push(shape(err, port));
    }
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[1]).toMatchObject({ syscall: 'listen', errno: -98, systemErrorName: 'EADDRINUSE' });
  });

  it('connect refused: "connect ECONNREFUSED 127.0.0.1:PORT", errno -111 (also for a host name)', async () => {
    const port = await deadPort();
    for (const host of ['127.0.0.1', 'localhost']) {
      const seen = [];
      for (const impl of [NET, MPTCP]) {
        // family 4: localhost's ::1 would make node's Happy Eyeballs answer with an AggregateError.
        const c = impl.connect({ host, port, family: 4 });
        sockets.push(c);
        const [err] = (await once(c, 'error')) as [NodeJS.ErrnoException];
        seen.push(shape(err, port));
      }
      expect(seen[1]).toEqual(seen[0]);
      expect(seen[1]).toMatchObject({ errno: -111, systemErrorName: 'ECONNREFUSED' });
    }
  });
});

describe('setNoDelay()/setKeepAlive() while a host-name connect runs (as net)', () => {
  it('reach the connected socket', async () => {
    const server = track(net.createServer((s) => s.on('error', () => undefined)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const read = (s: net.Socket): Record<string, number> => {
      const fd = (s as unknown as { _handle: { fd: number } })._handle.fd;
      const get = (level: string, name: string): number => {
        const r = binding().getsockoptInt(fd, sysconst(level), sysconst(name));
        return typeof r === 'number' ? r : r.value;
      };
      return {
        TCP_NODELAY: get('IPPROTO_TCP', 'TCP_NODELAY'),
        SO_KEEPALIVE: get('SOL_SOCKET', 'SO_KEEPALIVE'),
        TCP_KEEPIDLE: get('IPPROTO_TCP', 'TCP_KEEPIDLE'),
      };
    };
    const seen = [];
    for (const impl of [NET, MPTCP]) {
      const c = impl.connect({ host: 'localhost', port, family: 4 });
      sockets.push(c);
      c.setNoDelay(true);
      c.setKeepAlive(true, 5000);
      await once(c, 'connect');
      seen.push(read(c));
    }
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[1]).toEqual({ TCP_NODELAY: 1, SO_KEEPALIVE: 1, TCP_KEEPIDLE: 5 });
  });
});

describe("a host-name connect's 'lookup' event and resolver answers (as net)", () => {
  const events = async (
    impl: (typeof impls)[0],
    port: number,
    lookup: (h: string, o: unknown, cb: (...a: unknown[]) => void) => void,
  ): Promise<unknown[]> => {
    const log: unknown[] = [];
    const c = impl.connect({ host: 'example.test', port, lookup });
    sockets.push(c);
    c.on('lookup', (err: Error | null, address: unknown, family: unknown, host: unknown) =>
      log.push(['lookup', err && (err as NodeJS.ErrnoException).code, address, family, host]),
    );
    await new Promise<void>((resolve) => {
      c.once('connect', () => {
        log.push(['connect']);
        resolve();
      });
      c.once('error', (e: NodeJS.ErrnoException) => {
        log.push(['error', e.name, e.code, e.message]);
        resolve();
      });
    });
    return log;
  };
  const answer =
    (...list: Array<{ address: string; family: number }>) =>
    (_h: string, o: unknown, cb: (...a: unknown[]) => void): void => {
      const first = list[0] as { address: string; family: number };
      // Asynchronous as a real resolver: net calls lookup inside connect(), before listeners exist.
      setImmediate(() => {
        if ((o as { all?: boolean }).all) cb(null, list);
        else cb(null, first.address, first.family);
      });
    };

  it.each([
    ['one address', [{ address: '127.0.0.1', family: 4 }]],
    [
      'a non-IP answer next to a good one',
      [
        { address: 'not-an-ip', family: 4 },
        { address: '127.0.0.1', family: 4 },
      ],
    ],
    ['only a non-IP answer: ERR_INVALID_IP_ADDRESS', [{ address: 'not-an-ip', family: 4 }]],
  ])('%s', async (_title, list) => {
    const server = track(net.createServer((s) => s.on('error', () => undefined)));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    const expected = await events(NET, port, answer(...list));
    const actual = await events(MPTCP, port, answer(...list));
    expect(actual).toEqual(expected);
    expect(actual[0]).toEqual(['lookup', null, list[0]?.address, 4, 'example.test']);
  });

  it('a failed lookup: lookup(err) then error', async () => {
    const fail = (_h: string, _o: unknown, cb: (...a: unknown[]) => void): void => {
      setImmediate(() => cb(Object.assign(new Error('getaddrinfo EAI_AGAIN example.test'), { code: 'EAI_AGAIN' })));
    };
    const expected = await events(NET, 1, fail);
    const actual = await events(MPTCP, 1, fail);
    expect(actual).toEqual(expected);
    expect(actual[0]).toEqual(['lookup', 'EAI_AGAIN', undefined, undefined, 'example.test']);
  });
});

const noNetns = missing(probes.root, probes.netns, probes.mptcp);

describe.skipIf(noNetns)('fetch through MptcpAgent: the connect timeout as undici (SYNs dropped)', () => {
  const target = '10.254.78.2';
  let ns = '';
  beforeAll(() => {
    ns = createNetns('natfct');
    // Routed out of lo, the SYNs come back to a host that does not own the address and does not
    // forward: the kernel drops them silently, so only a connect timeout ends the attempt.
    sh('ip', ['-n', ns, 'route', 'add', '10.254.78.0/24', 'dev', 'lo']);
  });
  afterAll(() => deleteNetns(ns));

  it('connect.timeout, connectTimeout and the 10 s default: ConnectTimeoutError (UND_ERR_CONNECT_TIMEOUT)', async () => {
    type Outcome = { error: string; cause: string; code: string; message: string } | string;
    const r = lastJson<Record<string, { undici: Outcome; mptcp: Outcome }>>(
      await runIn(ns, 'fetch-connect-timeout.mjs', { TARGET: target, WITH_DEFAULT: '1' }, 60_000),
    );
    expect(Object.keys(r).sort()).toEqual(
      ['connect.timeout', 'connect.timeout over connectTimeout', 'connectTimeout', 'default (10 s)'].sort(),
    );
    for (const [name, { undici, mptcp }] of Object.entries(r)) {
      expect({ name, outcome: mptcp }).toEqual({ name, outcome: undici });
      expect(mptcp).toMatchObject({
        error: 'TypeError',
        cause: 'ConnectTimeoutError',
        code: 'UND_ERR_CONNECT_TIMEOUT',
      });
    }
  }, 90_000);
});
