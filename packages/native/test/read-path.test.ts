/**
 * The read path (read-path.ts): MPTCP sockets the library creates or accepts read up to 1 MiB per
 * recvmsg() through net's `onread` buffer, and re-emit the bytes into the ordinary Readable side.
 * Checked with real sockets: every byte (sha256) in both directions with backpressure, pause and
 * resume, setEncoding, half-close, destroy and reset mid-stream, http; that MPTCP sockets really
 * read more than 64 KiB at a time; and that TCP sockets are left alone. Speed: `bench --only loopback`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import {
  connect,
  createHttpServer,
  DEFAULT_READ_BUFFER,
  listen,
  readPathBufferSize,
  readPathDisabled,
  readPathStats,
  useMptcpReadPath,
} from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { closeServer, codeOf, connected, listening } from './helpers/net.js';
import { mptcpPair } from './helpers/pair.js';

const MiB = 1 << 20;
const noMptcp = missing(probes.mptcp);
const servers: net.Server[] = [];
afterAll(async () => Promise.all(servers.map(closeServer)));

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

/** Reads `socket` to its end; with `pauses`, pauses after every chunk and resumes on the next turn. */
function drain(socket: net.Socket, pauses = false): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    socket.on('data', (c: Buffer) => {
      h.update(c);
      bytes += c.length;
      if (pauses) {
        socket.pause();
        setImmediate(() => socket.resume());
      }
    });
    socket.once('end', () => resolve({ sha256: h.digest('hex'), bytes }));
    socket.once('error', reject);
  });
}

/** Resolves once `socket` has delivered `n` bytes to its 'data' listeners. */
function received(socket: net.Socket, n: number): Promise<void> {
  return new Promise((resolve) => {
    let bytes = 0;
    const onData = (c: Buffer): void => {
      bytes += c.length;
      if (bytes < n) return;
      socket.off('data', onData);
      resolve();
    };
    socket.on('data', onData);
  });
}

/** Writes `data` in 256 KiB pieces, honouring write() === false; ends unless `end` is false. */
async function pump(socket: net.Socket, data: Buffer, end = true): Promise<void> {
  for (let at = 0; at < data.length; at += 256 << 10) {
    if (!socket.write(data.subarray(at, at + (256 << 10)))) await once(socket, 'drain');
  }
  if (end) socket.end();
}

describe('MPTCP_READ_PATH', () => {
  it('is on unless 0/off/false; a number of bytes (≥ 64 KiB) sets the buffer', () => {
    expect(readPathDisabled({})).toBe(false);
    for (const v of ['0', 'off', 'false']) expect(readPathDisabled({ MPTCP_READ_PATH: v })).toBe(true);
    expect(readPathDisabled({ MPTCP_READ_PATH: '1' })).toBe(false);
    expect(readPathBufferSize({})).toBe(DEFAULT_READ_BUFFER);
    expect(readPathBufferSize({ MPTCP_READ_PATH: String(4 * MiB) })).toBe(4 * MiB);
    expect(readPathBufferSize({ MPTCP_READ_PATH: '1000' })).toBe(DEFAULT_READ_BUFFER);
    expect(readPathBufferSize({ MPTCP_READ_PATH: 'x' })).toBe(DEFAULT_READ_BUFFER);
  });
});

describe.skipIf(noMptcp)('read path on real MPTCP sockets (loopback)', () => {
  it('both ends of a library pair take it; every byte arrives both ways at once, with pauses', async () => {
    const { client, server } = await mptcpPair(servers);
    expect(readPathStats(client)).toMatchObject({ reads: 0, readBuffer: DEFAULT_READ_BUFFER });
    expect(readPathStats(server)).toMatchObject({ reads: 0, readBuffer: DEFAULT_READ_BUFFER });
    const up = randomBytes(24 * MiB);
    const down = randomBytes(24 * MiB);
    const atServer = drain(server, true);
    const atClient = drain(client);
    // Each side ends only once it has written everything AND read everything the other sends: the pair
    // is not half-open, so a side that saw the other's end first would end itself with its upload
    // unfinished (the faster reader made that race visible: a hang, then a test timeout under load).
    const serverGot = received(server, up.length);
    const clientGot = received(client, down.length);
    await Promise.all([
      pump(client, up, false).then(async () => (await clientGot, client.end())),
      pump(server, down, false).then(async () => (await serverGot, server.end())),
    ]);
    const [s, c] = await Promise.all([atServer, atClient]);
    expect(s).toEqual({ sha256: sha(up), bytes: up.length });
    expect(c).toEqual({ sha256: sha(down), bytes: down.length });
    expect(readPathStats(server)!.bytes).toBe(up.length);
    expect(readPathStats(client)!.bytes).toBe(down.length);
    expect(server.bytesRead).toBe(up.length);
  });

  it('reads more than net’s 64 KiB per call when the kernel holds more (observable in the stats)', async () => {
    const { client, server } = await mptcpPair(servers);
    client.pause();
    const data = randomBytes(8 * MiB);
    // Once the server's kernel took all 8 MiB, most of it waits in the client's receive queue.
    await new Promise<void>((resolve, reject) => server.write(data, (e) => (e ? reject(e) : resolve())));
    server.end();
    const got = drain(client);
    client.resume();
    expect(await got).toEqual({ sha256: sha(data), bytes: data.length });
    const st = readPathStats(client)!;
    expect(st.maxRead).toBeGreaterThan(64 << 10);
    expect(st.maxRead).toBeLessThanOrEqual(DEFAULT_READ_BUFFER);
    expect(st.reads).toBeLessThan(data.length / (64 << 10));
    expect(st.slabs).toBeGreaterThan(0);
  });

  it('a read that fills the buffer sends the next reads straight into buffers of their own, pushed without a copy', async () => {
    const { client, server } = await mptcpPair(servers);
    client.pause();
    const data = randomBytes(16 * MiB);
    // Once the server's kernel took it all, most of it waits in the client's receive queue: reads fill 1 MiB.
    await new Promise<void>((resolve, reject) => server.write(data, (e) => (e ? reject(e) : resolve())));
    server.end();
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    const ended = once(client, 'end');
    client.resume();
    await ended;
    // Every chunk kept until the end: none was overwritten by a later read.
    expect(sha(Buffer.concat(chunks))).toBe(sha(data));
    const st = readPathStats(client)!;
    expect(st.direct).toBeGreaterThan(0);
    expect(st.slabs).toBeGreaterThanOrEqual(st.direct);
    // A chunk pushed without a copy is the start of a buffer of its own: no two share memory.
    const own = chunks.filter((c) => c.byteOffset === 0 && c.buffer.byteLength === DEFAULT_READ_BUFFER);
    expect(own.length).toBeGreaterThanOrEqual(st.direct);
    expect(new Set(own.map((c) => c.buffer)).size).toBe(own.length);
  });

  it('after a bulk burst, a small read returns the connection to the shared buffer (an idle connection pins no read memory)', async () => {
    const first = await mptcpPair(servers);
    const second = await mptcpPair(servers);
    const readBufferOf = (s: net.Socket): unknown => {
      const sym = Object.getOwnPropertySymbols(s).find((x) => x.description === 'kBuffer')!;
      return (s as unknown as Record<symbol, unknown>)[sym];
    };
    const shared = readBufferOf(second.client);
    expect(readBufferOf(first.client)).toBe(shared);
    first.client.pause();
    const burst = randomBytes(8 * MiB);
    await new Promise<void>((resolve, reject) => first.server.write(burst, (e) => (e ? reject(e) : resolve())));
    const chunks: Buffer[] = [];
    first.client.on('data', (c: Buffer) => chunks.push(c));
    first.client.resume();
    await received(first.client, burst.length);
    const direct = readPathStats(first.client)!.direct;
    expect(direct).toBeGreaterThan(0);
    // Mixed traffic afterwards: small messages, each one read on its own.
    for (let i = 0; i < 3; i++) {
      const got = received(first.client, 100);
      first.server.write(Buffer.alloc(100, i));
      await got;
    }
    expect(readBufferOf(first.client)).toBe(shared);
    expect(sha(Buffer.concat(chunks))).toBe(
      sha(Buffer.concat([burst, Buffer.alloc(100, 0), Buffer.alloc(100, 1), Buffer.alloc(100, 2)])),
    );
    for (const s of [first.client, first.server, second.client, second.server]) s.destroy();
  });

  it('a paused reader stops reading once its buffer is full and the sender blocks (backpressure); nothing is lost', async () => {
    // Without send-buffer growth, so the sender's kernel buffer cannot absorb the whole transfer.
    process.env['MPTCP_BULK_TUNING'] = '0';
    let pair: { client: net.Socket; server: net.Socket };
    try {
      pair = await mptcpPair(servers);
    } finally {
      delete process.env['MPTCP_BULK_TUNING'];
    }
    const { client, server } = pair;
    // pause() stops 'data' only (as on TCP); the first read's push() === false then stops reading.
    server.pause();
    const data = randomBytes(48 * MiB);
    let onBlocked: () => void = () => {};
    const blocked = new Promise<void>((resolve) => (onBlocked = resolve));
    const sent = (async () => {
      for (let at = 0; at < data.length; at += MiB) {
        if (!client.write(data.subarray(at, at + MiB))) {
          onBlocked();
          await once(client, 'drain');
        }
      }
      client.end();
    })();
    await blocked;
    expect(readPathStats(server)!.bytes).toBeLessThan(data.length);
    const got = drain(server, true);
    server.resume();
    await sent;
    expect(await got).toEqual({ sha256: sha(data), bytes: data.length });
  });

  it('setEncoding decodes characters split across large reads', async () => {
    const { client, server } = await mptcpPair(servers);
    const text = 'añ€😀-'.repeat(600_000); // 6.6 MB of 1- to 4-byte characters
    client.setEncoding('utf8');
    let got = '';
    client.on('data', (s: string) => {
      expect(typeof s).toBe('string');
      got += s;
    });
    const ended = once(client, 'end');
    server.end(text);
    await ended;
    expect(got.length).toBe(text.length);
    expect(sha(got)).toBe(sha(text));
  });

  it('half-close: the client ends, reads the reply, then sees the end', async () => {
    const srv = listen({ host: '127.0.0.1', port: 0, mptcp: 'require', allowHalfOpen: true });
    servers.push(srv);
    const port = await listening(srv);
    srv.on('connection', (s: net.Socket) => {
      const h = createHash('sha256');
      s.on('data', (c: Buffer) => h.update(c));
      s.once('end', () => s.end(h.digest('hex')));
    });
    const client = connect({ host: '127.0.0.1', port, mptcp: 'require', allowHalfOpen: true });
    await connected(client);
    const data = randomBytes(5 * MiB + 17);
    let reply = '';
    client.setEncoding('latin1');
    client.on('data', (s: string) => (reply += s));
    const ended = once(client, 'end');
    await pump(client, data);
    await ended;
    expect(reply).toBe(sha(data));
    expect(readPathStats(client)!.bytes).toBe(64);
  });

  it('destroy mid-stream: the reader stops cleanly, the writer gets an error, the next pair works', async () => {
    const first = await mptcpPair(servers);
    const closed = once(first.server, 'close');
    let seen = 0;
    first.server.on('data', (c: Buffer) => {
      seen += c.length;
      if (seen >= 2 * MiB && !first.server.destroyed) first.server.destroy();
    });
    // The writer learns of it by an error, or (MPTCP) by the peer's end: when close() finds the msk's
    // receive queue empty (a 1 MiB read just drained it) while more is still in the subflow, the
    // kernel sends a DATA_FIN instead of a fastclose, and the orphaned msk then takes the data in and
    // closes its window; the writer would wait for the close timeout (60 s) to get its reset.
    const failed = new Promise<string | undefined>((resolve) => {
      first.client.once('error', (e) => resolve(codeOf(e)));
      first.client.once('end', () => resolve('end'));
      first.client.once('close', () => resolve('closed'));
    });
    const big = randomBytes(64 * MiB);
    first.client.write(big);
    await closed;
    expect(seen).toBeGreaterThanOrEqual(2 * MiB);
    expect(['EPIPE', 'ECONNRESET', 'end', 'closed']).toContain(await failed);
    first.client.destroy();
    // The shared read buffer is reused by the next connection.
    const { client, server } = await mptcpPair(servers);
    const data = randomBytes(3 * MiB);
    const got = drain(server);
    client.end(data);
    expect(await got).toEqual({ sha256: sha(data), bytes: data.length });
  });

  it('a reset while reading surfaces as ECONNRESET on the reader', async () => {
    const { client, server } = await mptcpPair(servers);
    const data = randomBytes(MiB);
    let got = 0;
    const error = new Promise<string | undefined>((resolve) => client.once('error', (e) => resolve(codeOf(e))));
    client.on('data', (c: Buffer) => (got += c.length));
    server.write(data, () => server.resetAndDestroy());
    expect(await error).toBe('ECONNRESET');
    expect(got).toBeLessThanOrEqual(data.length);
  });

  it('http over MPTCP: a 6 MiB upload and download arrive intact', async () => {
    const srv = createHttpServer({ mptcp: 'require' }, (req, res) => {
      const h = createHash('sha256');
      req.on('data', (c: Buffer) => h.update(c));
      req.on('end', () => {
        res.setHeader('x-sha256', h.digest('hex'));
        res.end(Buffer.alloc(6 * MiB, 7));
      });
    });
    srv.listen({ host: '127.0.0.1', port: 0 });
    servers.push(srv);
    const port = await listening(srv);
    const body = randomBytes(6 * MiB);
    const agentSocket = connect({ host: '127.0.0.1', port, mptcp: 'require' });
    await connected(agentSocket);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ method: 'POST', path: '/', createConnection: () => agentSocket }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    expect(res.headers['x-sha256']).toBe(sha(body));
    expect(sha(Buffer.concat(chunks))).toBe(sha(Buffer.alloc(6 * MiB, 7)));
    expect(readPathStats(agentSocket)!.bytes).toBeGreaterThanOrEqual(6 * MiB);
    agentSocket.destroy();
  });

  it('MPTCP_READ_PATH=0 leaves the library’s sockets on net’s own reads', async () => {
    process.env['MPTCP_READ_PATH'] = '0';
    let pair: { client: net.Socket; server: net.Socket };
    try {
      pair = await mptcpPair(servers);
    } finally {
      delete process.env['MPTCP_READ_PATH'];
    }
    expect(readPathStats(pair.client)).toBeUndefined();
    expect(readPathStats(pair.server)).toBeUndefined();
    const data = randomBytes(2 * MiB);
    const got = drain(pair.server);
    pair.client.end(data);
    expect(await got).toEqual({ sha256: sha(data), bytes: data.length });
  });
});

describe('TCP sockets are left alone', () => {
  it('plain node:net sockets never take the read path', async () => {
    const srv = net.createServer();
    servers.push(srv);
    srv.listen(0, '127.0.0.1');
    const port = await listening(srv);
    const accepted = once(srv, 'connection') as Promise<[net.Socket]>;
    const client = net.connect({ host: '127.0.0.1', port });
    await connected(client);
    const [server] = await accepted;
    expect(useMptcpReadPath(client)).toBe(false);
    expect(useMptcpReadPath(server)).toBe(false);
    expect(readPathStats(client)).toBeUndefined();
    const data = randomBytes(2 * MiB);
    const got = drain(server);
    client.end(data);
    expect(await got).toEqual({ sha256: sha(data), bytes: data.length });
    expect(readPathStats(server)).toBeUndefined();
  });
});
