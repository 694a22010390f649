/**
 * Adversarial tests of the MPTCP read path (read-path.ts): every case runs on three kinds of
 * connection over loopback — MPTCP with the read path, MPTCP with MPTCP_READ_PATH=0, plain TCP —
 * and all three must behave the same: bytes (sha256) with random write sizes and random pauses,
 * buffers kept from earlier 'data' events (a zero-copy slab must never be written again while user
 * code holds a view of it), read(n) in 'readable' mode, async iteration, pipeline() into a slow
 * writable, setEncoding() with multibyte characters split anywhere, unshift(), bytesRead, a paused
 * socket whose peer ends or resets, TLS on top (wrapped before and after 'connect', and a tls server
 * made MPTCP with withMptcp()), http upgrade to a raw socket, and the memory an idle connection keeps
 * after a burst. Waits are on events only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tls from 'node:tls';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, createHttpServer, listen, readPathStats, withMptcp } from '../src/index.js';
import { missing, probes } from './helpers/capability.js';
import { listening } from './helpers/net.js';
import { selfSignedCert } from './helpers/tls.js';

const MiB = 1 << 20;
const noMptcp = missing(probes.mptcp);
const servers: net.Server[] = [];
afterAll(() => {
  for (const s of servers) if (s.listening) s.close();
});

type Kind = 'mptcp' | 'mptcp-off' | 'tcp';
const KINDS: Kind[] = ['mptcp', 'mptcp-off', 'tcp'];

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Runs `fn` with MPTCP_READ_PATH set as `kind` asks (the library reads it per listen/connect). */
function withReadPathEnv<T>(kind: Kind, fn: () => T): T {
  const saved = process.env['MPTCP_READ_PATH'];
  if (kind === 'mptcp-off') process.env['MPTCP_READ_PATH'] = '0';
  else delete process.env['MPTCP_READ_PATH'];
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env['MPTCP_READ_PATH'];
    else process.env['MPTCP_READ_PATH'] = saved;
  }
}

/** A listener of `kind` on 127.0.0.1 (pushed onto `servers`). */
function server(kind: Kind, opts: net.ServerOpts = {}): net.Server {
  const srv = withReadPathEnv(kind, () =>
    kind === 'tcp'
      ? net.createServer(opts).listen(0, '127.0.0.1')
      : listen({ host: '127.0.0.1', port: 0, mptcp: 'require', ...opts }),
  );
  servers.push(srv);
  return srv;
}

function dial(kind: Kind, port: number, opts: { allowHalfOpen?: boolean } = {}): net.Socket {
  return withReadPathEnv(kind, () =>
    kind === 'tcp'
      ? net.connect({ port, host: '127.0.0.1', ...opts })
      : connect({ host: '127.0.0.1', port, mptcp: 'require', ...opts }),
  );
}

/** A connected pair of `kind`; the listener is closed once the connection is accepted. */
async function pair(kind: Kind, opts: { allowHalfOpen?: boolean } = {}): Promise<{ c: net.Socket; s: net.Socket }> {
  const srv = server(kind, opts);
  const port = await listening(srv);
  const accepted = once(srv, 'connection') as Promise<[net.Socket]>;
  const c = dial(kind, port, opts);
  await once(c, 'connect');
  const [s] = await accepted;
  srv.close(); // stops listening now; its callback would wait for this pair to close
  const onPath = kind === 'mptcp';
  expect(readPathStats(c) !== undefined, `${kind} client read path`).toBe(onPath);
  expect(readPathStats(s) !== undefined, `${kind} server read path`).toBe(onPath);
  return { c, s };
}

/** Writes `data` in random pieces (1 B … 2 MiB), honouring backpressure; ends unless told not to. */
async function pumpRandom(socket: net.Socket, data: Buffer, end = true): Promise<void> {
  for (let at = 0; at < data.length;) {
    const n = 1 + Math.floor(Math.random() * 2 * MiB);
    if (!socket.write(data.subarray(at, at + n))) await once(socket, 'drain');
    at += n;
  }
  if (end) socket.end();
}

/** Resolves on 'close' (never rejects on 'error': the caller looks at what happened). */
const closed = (s: net.Socket): Promise<void> =>
  s.closed ? Promise.resolve() : new Promise((r) => s.once('close', r));

describe.skipIf(noMptcp)('read path against MPTCP_READ_PATH=0 and TCP (loopback)', () => {
  it.each(KINDS)('%s: 24 MiB each way, random writes, random pauses; kept buffers never change', async (kind) => {
    for (const dir of ['up', 'down'] as const) {
      const { c, s } = await pair(kind);
      const [from, to] = dir === 'up' ? [c, s] : [s, c];
      const data = randomBytes(24 * MiB);
      const kept: Buffer[] = [];
      const copies: Buffer[] = [];
      to.on('data', (b: Buffer) => {
        kept.push(b);
        copies.push(Buffer.from(b));
        if (Math.random() < 0.2) {
          to.pause();
          setImmediate(() => to.resume());
        }
      });
      const ended = once(to, 'end');
      await pumpRandom(from, data);
      await ended;
      // Every buffer handed out earlier still holds what it held when it was handed out.
      expect(kept.every((b, i) => b.equals(copies[i] as Buffer))).toBe(true);
      expect(sha(Buffer.concat(kept))).toBe(sha(data));
      expect(to.bytesRead).toBe(data.length);
      await Promise.all([closed(c), closed(s)]);
    }
  });

  it.each(KINDS)('%s: read(n) in readable mode, async iteration, pipeline() into a slow writable', async (kind) => {
    const data = randomBytes(8 * MiB);
    {
      const { c, s } = await pair(kind);
      void pumpRandom(c, data);
      const got: Buffer[] = [];
      await new Promise<void>((resolve, reject) => {
        s.on('readable', () => {
          for (;;) {
            const want = 1 + Math.floor(Math.random() * 300_000);
            const b = s.read(want) as Buffer | null;
            if (b === null) break;
            got.push(b);
          }
        });
        s.once('end', () => resolve());
        s.once('error', reject);
      });
      // read(n) returns n bytes except for the tail, which comes as the remainder.
      expect(sha(Buffer.concat(got))).toBe(sha(data));
      await closed(s);
    }
    {
      const { c, s } = await pair(kind);
      void pumpRandom(c, data);
      const h = createHash('sha256');
      for await (const b of s as AsyncIterable<Buffer>) {
        h.update(b);
        if (Math.random() < 0.2) await turn();
      }
      expect(h.digest('hex')).toBe(sha(data));
    }
    {
      const { c, s } = await pair(kind);
      void pumpRandom(c, data);
      const h = createHash('sha256');
      const slow = new Writable({
        highWaterMark: 1024,
        write(chunk: Buffer, _enc, cb) {
          h.update(chunk);
          if (Math.random() < 0.3) setImmediate(cb);
          else cb();
        },
      });
      await pipeline(s, slow);
      expect(h.digest('hex')).toBe(sha(data));
    }
  });

  it.each(KINDS)('%s: setEncoding(utf8) decodes 2/3/4-byte characters split at any byte', async (kind) => {
    const { c, s } = await pair(kind);
    const text = 'aé€😀'.repeat(300_000);
    const bytes = Buffer.from(text);
    s.setEncoding('utf8');
    let got = '';
    s.on('data', (d: string) => (got += d));
    const ended = once(s, 'end');
    for (let at = 0; at < bytes.length;) {
      const n = 1 + Math.floor(Math.random() * 400_000);
      if (!c.write(bytes.subarray(at, at + n))) await once(c, 'drain');
      at += n;
    }
    c.end();
    await ended;
    expect(got.length).toBe(text.length);
    expect(got === text).toBe(true);
  });

  it.each(KINDS)('%s: unshift() of a first chunk puts it back in front', async (kind) => {
    const { c, s } = await pair(kind);
    const data = randomBytes(6 * MiB);
    void pumpRandom(c, data);
    const [first] = (await once(s, 'data')) as [Buffer];
    s.pause();
    s.unshift(first);
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.resume();
    await once(s, 'end');
    expect(sha(Buffer.concat(got))).toBe(sha(data));
  });

  it.each(KINDS)('%s: a paused socket still sees its peer end (and then closes)', async (kind) => {
    const { c, s } = await pair(kind);
    s.pause();
    const seen: string[] = [];
    s.on('end', () => seen.push('end'));
    c.resume();
    const cEnd = once(c, 'end');
    c.end();
    // allowHalfOpen=false: the paused side ends its half when it reads the FIN, so the client sees 'end'.
    await Promise.all([closed(s), cEnd]);
    expect(seen).toEqual(['end']);
  });

  it.each(KINDS)('%s: a paused socket still sees its peer reset (ECONNRESET, then close)', async (kind) => {
    const { c, s } = await pair(kind);
    s.pause();
    const errors: string[] = [];
    s.on('error', (e: NodeJS.ErrnoException) => errors.push(e.code ?? '?'));
    c.resetAndDestroy();
    await closed(s);
    expect(errors).toEqual(['ECONNRESET']);
  });

  it.each(KINDS)('%s: half-close with allowHalfOpen both ways, event order', async (kind) => {
    const { c, s } = await pair(kind, { allowHalfOpen: true });
    const reply = randomBytes(5 * MiB);
    const order: string[] = [];
    s.on('end', () => {
      order.push('server end');
      void pumpRandom(s, reply);
    });
    s.resume();
    const got: Buffer[] = [];
    c.on('data', (d: Buffer) => got.push(d));
    c.on('end', () => order.push('client end'));
    c.end(randomBytes(3 * MiB));
    await Promise.all([closed(c), closed(s)]);
    expect(order).toEqual(['server end', 'client end']);
    expect(sha(Buffer.concat(got))).toBe(sha(reply));
  });

  it.each(KINDS)('%s: destroy() inside a data handler mid-stream stops delivery at once', async (kind) => {
    const { c, s } = await pair(kind);
    c.on('error', () => {});
    // The writer stops at an error or at the peer's end: on MPTCP, close() may send a DATA_FIN instead
    // of a fastclose (the msk's queue was empty, more was still in the subflow), and the orphaned msk
    // then closes its window: without this the writer waited for the kernel's 60 s close timeout.
    c.on('end', () => c.destroy());
    let after = 0;
    let n = 0;
    s.on('data', () => {
      n += 1;
      if (s.destroyed) after += 1;
      if (n === 3) s.destroy();
    });
    const writer = (async (): Promise<void> => {
      const block = randomBytes(MiB);
      while (!c.destroyed && c.writable) {
        if (!c.write(block)) await new Promise<void>((r) => (c.once('drain', r), c.once('close', r)));
      }
    })();
    await Promise.all([closed(s), closed(c), writer]);
    expect(n).toBe(3);
    expect(after).toBe(0);
  });
});

describe.skipIf(noMptcp)('read path under TLS and HTTP', () => {
  const cert = selfSignedCert('q-rp-tls-');
  afterAll(() => cert.remove());
  const key = readFileSync(cert.key);
  const crt = readFileSync(cert.cert);

  it.each(KINDS.flatMap((k) => [[k, 'before connect'] as const, [k, 'after connect'] as const]))(
    '%s: tls.connect({ socket }) wrapped %s, tls server on the same kind: 8 MiB each way',
    async (kind, when) => {
      const srv = withReadPathEnv(kind, () => {
        const t = tls.createServer({ key, cert: crt, allowHalfOpen: true });
        return kind === 'tcp' ? t : withMptcp(t, { mptcp: 'require' });
      });
      servers.push(srv);
      withReadPathEnv(kind, () => srv.listen(0, '127.0.0.1'));
      const port = await listening(srv);
      const up = randomBytes(8 * MiB);
      const down = randomBytes(8 * MiB);
      const atServer = new Promise<string>((resolve, reject) =>
        srv.once('secureConnection', (ts: tls.TLSSocket) => {
          const h = createHash('sha256');
          ts.on('data', (d: Buffer) => {
            h.update(d);
            if (Math.random() < 0.1) {
              ts.pause();
              setImmediate(() => ts.resume());
            }
          });
          ts.once('end', () => {
            resolve(h.digest('hex'));
            void pumpRandom(ts, down);
          });
          ts.once('error', reject);
        }),
      );
      const raw = dial(kind, port);
      if (when === 'after connect') await once(raw, 'connect');
      // allowHalfOpen reaches the TLSSocket (net.Socket option) although @types/node's ConnectionOptions omits it.
      const options: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
        socket: raw,
        rejectUnauthorized: false,
        allowHalfOpen: true,
      };
      const ts = tls.connect(options);
      await once(ts, 'secureConnect');
      const h = createHash('sha256');
      ts.on('data', (d: Buffer) => h.update(d));
      const ended = once(ts, 'end');
      await pumpRandom(ts, up);
      expect(await atServer).toBe(sha(up));
      await ended;
      expect(h.digest('hex')).toBe(sha(down));
      srv.close();
    },
  );

  it.each(KINDS)('%s: http keep-alive with chunked bodies, then an upgrade to a raw socket', async (kind) => {
    const body = randomBytes(5 * MiB + 11);
    const srv = withReadPathEnv(kind, () => {
      const handler: http.RequestListener = (req, res) => {
        const h = createHash('sha256');
        req.on('data', (d: Buffer) => h.update(d));
        req.on('end', () => {
          res.setHeader('x-up', h.digest('hex'));
          let at = 0;
          const step = (): void => {
            while (at < body.length) {
              const n = 1 + Math.floor(Math.random() * 500_000);
              const ok = res.write(body.subarray(at, at + n));
              at += n;
              if (!ok) {
                res.once('drain', step);
                return;
              }
            }
            res.end();
          };
          step();
        });
      };
      const s = kind === 'tcp' ? http.createServer(handler) : createHttpServer({ mptcp: 'require' }, handler);
      s.listen(0, '127.0.0.1');
      return s;
    });
    servers.push(srv);
    srv.on('upgrade', (_req: http.IncomingMessage, sock: net.Socket, head: Buffer) => {
      sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: q\r\nConnection: Upgrade\r\n\r\n');
      const h = createHash('sha256').update(head);
      sock.on('data', (d: Buffer) => h.update(d));
      sock.on('end', () => sock.end(h.digest('hex')));
    });
    const port = await listening(srv);
    const agent = new http.Agent({
      keepAlive: true,
      maxSockets: 1,
      createConnection: (o: net.NetConnectOpts) => dial(kind, (o as net.TcpNetConnectOpts).port),
    } as http.AgentOptions);
    const sockets = new Set<net.Socket>();
    for (let i = 0; i < 3; i++) {
      const up = randomBytes(2 * MiB + i);
      const r = await new Promise<{ up: string | undefined; down: string }>((resolve, reject) => {
        const req = http.request({ port, host: '127.0.0.1', method: 'POST', agent }, (res) => {
          const h = createHash('sha256');
          res.on('data', (d: Buffer) => h.update(d));
          res.on('end', () => resolve({ up: res.headers['x-up'] as string | undefined, down: h.digest('hex') }));
        });
        req.on('socket', (so: net.Socket) => sockets.add(so));
        req.on('error', reject);
        void pumpRandom(req as unknown as net.Socket, up);
      });
      expect(r).toEqual({ up: sha(up), down: sha(body) });
    }
    expect(sockets.size).toBe(1);
    agent.destroy();
    const req = http.request({
      port,
      host: '127.0.0.1',
      headers: { Connection: 'Upgrade', Upgrade: 'q' },
      createConnection: () => dial(kind, port),
    });
    req.end();
    const [, sock, head] = (await once(req, 'upgrade')) as [http.IncomingMessage, net.Socket, Buffer];
    const data = randomBytes(6 * MiB);
    const got: Buffer[] = [head];
    sock.on('data', (d: Buffer) => got.push(d));
    const ended = once(sock, 'end');
    await pumpRandom(sock, data);
    await ended;
    expect(Buffer.concat(got).toString()).toBe(sha(data));
    srv.close();
  });
});

/** V8's gc(), for the memory measurement (flag set before first use, as node --expose-gc). */
function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe.skipIf(noMptcp)('memory of idle connections', () => {
  it.each(KINDS)(
    '%s: 40 connections idle after a 3 MiB burst each keep < 2 MiB of read memory each (a per-socket 4 MiB slab did)',
    async (kind) => {
      const gc = gcFunction();
      const N = 40;
      const srv = server(kind);
      const port = await listening(srv);
      const accepted: net.Socket[] = [];
      let left = 0;
      let drained: () => void = () => {};
      srv.on('connection', (s: net.Socket) => {
        accepted.push(s);
        s.on('data', (d: Buffer) => {
          left -= d.length;
          if (left === 0) drained();
        });
      });
      const clients: net.Socket[] = [];
      for (let i = 0; i < N; i++) {
        const c = dial(kind, port);
        await once(c, 'connect');
        clients.push(c);
      }
      while (accepted.length < N) await once(srv, 'connection');
      gc();
      const before = process.memoryUsage().arrayBuffers;
      const burst = randomBytes(3 * MiB + 12_345);
      left = N * burst.length;
      const all = new Promise<void>((r) => (drained = r));
      for (const c of clients) c.write(burst);
      await all;
      await turn();
      gc();
      const held = process.memoryUsage().arrayBuffers - before - burst.length;
      for (const c of clients) c.destroy();
      await Promise.all(accepted.map(closed));
      srv.close();
      // TCP itself keeps ~0.8 MiB per connection here (what gc() leaves of net's 64 KiB reads).
      expect(held / N).toBeLessThan(2 * MiB);
    },
  );
});
