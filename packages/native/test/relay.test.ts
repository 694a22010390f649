/**
 * spliceRelay (addon_splice.cc): a zero-copy relay between two real sockets on loopback, TCP and
 * MPTCP: every byte in order both ways (sha-256 of large random transfers), half-close passed on,
 * a peer reset reported with its errno name, abort closing both sides, no fd leaked.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fstatSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, listen, spliceRelay, SpliceRelayError, detachSocket, type MptcpSocketError } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { closeServer, connected, listening } from './helpers/net.js';

const noMptcp = missing(probes.mptcp);
const servers: net.Server[] = [];
afterAll(async () => Promise.all(servers.map(closeServer)));

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** Resolves when the socket has closed (at once if it already has: allowHalfOpen closes after both ends). */
const closed = (s: net.Socket): Promise<unknown> => (s.closed ? Promise.resolve() : once(s, 'close'));
const ended = (s: net.Socket): Promise<unknown> => (s.readableEnded ? Promise.resolve() : once(s, 'end'));
/** The pipes this process has open (the relay makes two per relay and must close them). */
const openPipes = (): number =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith('pipe:');
    } catch {
      return false;
    }
  }).length;

function collect(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** A server whose connections arrive paused (nothing read by node:net), each delivered once. */
async function pausedServer(mptcp: boolean): Promise<{ port: number; next(): Promise<net.Socket> }> {
  const queue: net.Socket[] = [];
  const waiters: Array<(s: net.Socket) => void> = [];
  const onConn = (s: net.Socket): void => {
    const w = waiters.shift();
    if (w) w(s);
    else queue.push(s);
  };
  const opts = { pauseOnConnect: true, allowHalfOpen: true };
  const server = mptcp
    ? listen({ ...opts, port: 0, host: '127.0.0.1', mptcp: 'require' }, onConn)
    : net.createServer(opts, onConn);
  if (!mptcp) server.listen(0, '127.0.0.1');
  servers.push(server);
  const port = await listening(server);
  return {
    port,
    next: () => {
      const s = queue.shift();
      return s ? Promise.resolve(s) : new Promise((r) => waiters.push(r));
    },
  };
}

/**
 * client ⇄ [front: accepted fd | relay | back: connected fd] ⇄ backend. Returns the two outer
 * peers and the relay's promise.
 */
async function relayed(mptcp: boolean, signal?: AbortSignal) {
  const front = await pausedServer(mptcp);
  const backendServer = await pausedServer(mptcp);
  const client = mptcp
    ? connect({ port: front.port, host: '127.0.0.1', mptcp: 'require', allowHalfOpen: true })
    : net.connect({ port: front.port, host: '127.0.0.1', allowHalfOpen: true });
  await connected(client);
  const accepted = await front.next();
  const out = mptcp
    ? connect({ port: backendServer.port, host: '127.0.0.1', mptcp: 'require', allowHalfOpen: true })
    : net.connect({ port: backendServer.port, host: '127.0.0.1', allowHalfOpen: true });
  out.pause();
  await connected(out);
  const backend = await backendServer.next();
  backend.resume();
  const relay = spliceRelay(accepted, detachSocket(out), signal ? { signal } : {});
  return { client, backend, relay };
}

const variants = [
  { name: 'TCP', mptcp: false, skip: undefined as string | undefined },
  { name: 'MPTCP', mptcp: true, skip: noMptcp },
];

describe.each(variants)('spliceRelay over $name', ({ mptcp, skip }) => {
  it.skipIf(skip !== undefined)(
    'relays 48 MiB one way and 16 MiB back, every byte in order, then resolves with the counts',
    async () => {
      const pipesBefore = openPipes();
      const { client, backend, relay } = await relayed(mptcp);
      const up = randomBytes(48 << 20);
      const down = randomBytes(16 << 20);
      const atBackend = collect(backend);
      const atClient = collect(client);
      client.end(up);
      backend.end(down);

      const [gotUp, gotDown, counts] = await Promise.all([atBackend, atClient, relay]);
      expect(gotUp.length).toBe(up.length);
      expect(sha(gotUp)).toBe(sha(up));
      expect(sha(gotDown)).toBe(sha(down));
      expect(counts).toEqual({ aToB: up.length, bToA: down.length });
      client.destroy();
      backend.destroy();
      await Promise.all([closed(client), closed(backend)]);
      expect(openPipes()).toBe(pipesBefore);
    },
    180_000,
  );

  it.skipIf(skip !== undefined)(
    'passes a half-close on: the backend sees EOF and can still answer',
    async () => {
      const { client, backend, relay } = await relayed(mptcp);
      const request: Buffer[] = [];
      backend.on('data', (c: Buffer) => request.push(c));
      const atClient = collect(client);
      client.end('question');
      await once(backend, 'end'); // the FIN went through while the other direction is still open
      expect(Buffer.concat(request).toString()).toBe('question');
      backend.end(`answer to ${Buffer.concat(request).toString()}`);
      expect((await atClient).toString()).toBe('answer to question');
      expect(await relay).toEqual({ aToB: 8, bToA: 18 });
      client.destroy();
      backend.destroy();
    },
    60_000,
  );

  it.skipIf(skip !== undefined)(
    'rejects with the errno name when a peer resets the connection',
    async () => {
      const { client, backend, relay } = await relayed(mptcp);
      client.on('error', () => undefined);
      const clientEnded = ended(client);
      backend.write('partial');
      await once(client, 'data');
      backend.resetAndDestroy();
      const err = (await relay.then(
        () => undefined,
        (e: unknown) => e,
      )) as SpliceRelayError;
      expect(err).toBeInstanceOf(SpliceRelayError);
      expect(['ECONNRESET', 'EPIPE']).toContain(err.code);
      expect(err.syscall).toBe('splice');
      expect(err.bToA).toBe(7);
      await clientEnded; // the relay closed its side of the client connection
      client.destroy();
    },
    60_000,
  );

  it.skipIf(skip !== undefined)(
    'abort closes both sides and rejects with the reason',
    async () => {
      const ac = new AbortController();
      const { client, backend, relay } = await relayed(mptcp, ac.signal);
      client.on('error', () => undefined);
      backend.on('error', () => undefined);
      const ends = Promise.all([ended(client), ended(backend)]);
      client.resume();
      const reason = new Error('stop');
      ac.abort(reason);
      await expect(relay).rejects.toBe(reason);
      await ends;
      client.destroy();
      backend.destroy();
    },
    60_000,
  );
});

describe('spliceRelay at scale', () => {
  it('runs 200 relays at once on the one event loop, every byte of each in order', async () => {
    const pipesBefore = openPipes();
    const n = 200;
    const pairs = await Promise.all(Array.from({ length: n }, () => relayed(false)));
    const results = await Promise.all(
      pairs.map(async ({ client, backend, relay }, i) => {
        const up = randomBytes(256 << 10);
        const down = Buffer.alloc(64 << 10, i & 0xff);
        const atBackend = collect(backend);
        const atClient = collect(client);
        client.end(up);
        backend.end(down);
        const [gotUp, gotDown, counts] = await Promise.all([atBackend, atClient, relay]);
        client.destroy();
        backend.destroy();
        return (
          sha(gotUp) === sha(up) && gotDown.equals(down) && counts.aToB === up.length && counts.bToA === down.length
        );
      }),
    );
    expect(results.filter((ok) => !ok)).toEqual([]);
    expect(openPipes()).toBe(pipesBefore);
  }, 300_000);
});

describe('spliceRelay arguments', () => {
  it('rejects a non-socket fd with ENOTSOCK and closes it', async () => {
    const r = openSync('/dev/null', 'r');
    const w = openSync('/dev/null', 'r');
    const err = (await spliceRelay(r, w).then(
      () => undefined,
      (e: unknown) => e,
    )) as MptcpSocketError;
    expect(err.code).toBe('ENOTSOCK');
    expect(() => fstatSync(r)).toThrow(/EBADF/);
    expect(() => fstatSync(w)).toThrow(/EBADF/);
  });

  it('refuses to detach a socket that still has bytes buffered in node:net', async () => {
    const front = await pausedServer(false);
    const client = net.connect({ port: front.port, host: '127.0.0.1' });
    await connected(client);
    const accepted = await front.next();
    accepted.unshift(Buffer.from('x'));
    expect(() => detachSocket(accepted)).toThrow(/node:net still holds 1 bytes read/);
    client.destroy();
    accepted.destroy();
  });
});
