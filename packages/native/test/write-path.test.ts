/**
 * The MPTCP write path (write-path.ts): node:net's writes taken over for MPTCP sockets, with a
 * retry when POLLOUT does not come. Real sockets on loopback; what is checked is correctness
 * (every byte, in order, both directions, bytesWritten, backpressure, no leaked fd), never speed.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fdOf, useMptcpWritePath, writePathDisabled, writePathRetries } from '../src/index.js';
import { closeServer, connected, listening } from './helpers/net.js';
import { missing, probes } from './helpers/capability.js';
import { mptcpPair } from './helpers/pair.js';

const noMptcp = missing(probes.mptcp);
const servers: net.Server[] = [];
afterAll(async () => Promise.all(servers.map(closeServer)));

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Reads everything until EOF; `pauseFirst` ms without reading first (the writer must block). */
function drain(socket: net.Socket, pauseFirst = 0): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('error', reject);
    if (pauseFirst) {
      socket.pause();
      setTimeout(() => socket.resume(), pauseFirst).unref();
    }
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      socket.end();
      resolve(Buffer.concat(chunks));
    });
  });
}

describe('MPTCP_WRITE_PATH', () => {
  it('is opt-in: off unless set to 1 or a retry interval', () => {
    expect(writePathDisabled({})).toBe(true);
    expect(writePathDisabled({ MPTCP_WRITE_PATH: '0' })).toBe(true);
    expect(writePathDisabled({ MPTCP_WRITE_PATH: '' })).toBe(true);
    expect(writePathDisabled({ MPTCP_WRITE_PATH: '1' })).toBe(false);
    expect(writePathDisabled({ MPTCP_WRITE_PATH: '5' })).toBe(false);
  });
});

describe.skipIf(noMptcp)('MPTCP write path', () => {
  const saved = process.env['MPTCP_WRITE_PATH'];
  beforeAll(() => {
    process.env['MPTCP_WRITE_PATH'] = '1';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env['MPTCP_WRITE_PATH'];
    else process.env['MPTCP_WRITE_PATH'] = saved;
  });

  it('with MPTCP_WRITE_PATH=1, is on for the library’s MPTCP sockets (both ends); calling it again is a no-op', async () => {
    const { client, server } = await mptcpPair(servers);
    expect(useMptcpWritePath(client)).toBe(false); // already armed by connect()
    expect(useMptcpWritePath(server)).toBe(false); // already armed by the server
    client.destroy();
    server.destroy();
  });

  it('is not applied to plain TCP sockets', async () => {
    const srv = net.createServer();
    servers.push(srv);
    const port = await listening(srv.listen(0, '127.0.0.1'));
    const c = net.connect(port, '127.0.0.1');
    await connected(c);
    expect(useMptcpWritePath(c)).toBe(false);
    c.destroy();
  });

  it('delivers every byte in order in both directions (writes, cork/writev, strings), and bytesWritten counts them', async () => {
    const { client, server } = await mptcpPair(servers);
    const up = randomBytes(24 << 20);
    const down = randomBytes(9 << 20);
    const gotUp = drain(server);
    const gotDown = drain(client);
    client.cork();
    client.write(up.subarray(0, 1000));
    client.write(up.subarray(1000, 5000));
    client.uncork();
    client.end(up.subarray(5000));
    server.write('héllo');
    server.end(down);
    const [u, d] = await Promise.all([gotUp, gotDown]);
    expect(sha(u)).toBe(sha(up));
    expect(d.subarray(0, 6).toString()).toBe('héllo');
    expect(sha(d.subarray(6))).toBe(sha(down));
    expect(client.bytesWritten).toBe(up.length);
  });

  it('backpressure: a reader that does not read for a while blocks the writer, which resumes and loses nothing; the dup fd is closed with the socket', async () => {
    // The fds this pair opens (the sockets and the write path's dup), not a count: sockets of
    // earlier tests may still be closing meanwhile.
    // (readdirSync lists its own directory fd, closed by the time it returns: left out.)
    const fds = (): Set<string> =>
      new Set(
        readdirSync('/proc/self/fd').filter((f) => {
          try {
            return readlinkSync(`/proc/self/fd/${f}`) !== '';
          } catch {
            return false;
          }
        }),
      );
    const before = fds();
    // Without bulk tuning's 64 MiB send-buffer preset, which alone would take the 48 MiB below
    // without ever pushing back: backpressure is what is checked.
    process.env['MPTCP_BULK_SNDBUF'] = '0';
    let pair: { client: net.Socket; server: net.Socket };
    try {
      pair = await mptcpPair(servers);
    } finally {
      delete process.env['MPTCP_BULK_SNDBUF'];
    }
    const { client, server } = pair;
    const listener = String(fdOf(servers[servers.length - 1]!)); // stays open until afterAll
    const added = [...fds()].filter((f) => !before.has(f) && f !== listener);
    const data = randomBytes(48 << 20);
    const got = drain(server, 300);
    let sawBackpressure = false;
    await new Promise<void>((resolve) => {
      let at = 0;
      const pump = (): void => {
        while (at < data.length) {
          const piece = data.subarray(at, at + (1 << 20));
          at += piece.length;
          if (!client.write(piece)) {
            sawBackpressure = true;
            client.once('drain', pump);
            return;
          }
        }
        client.end(resolve);
      };
      pump();
    });
    expect(sawBackpressure).toBe(true);
    expect(sha(await got)).toBe(sha(data));
    expect(writePathRetries(client)).toBeGreaterThanOrEqual(0);
    await new Promise<void>((resolve) => (client.destroyed ? resolve() : client.once('close', () => resolve())));
    await new Promise<void>((resolve) => (server.destroyed ? resolve() : server.once('close', () => resolve())));
    const now = fds();
    expect(added.filter((f) => now.has(f))).toEqual([]);
  });

  it('a write after the peer reset fails with an error on the socket, as node:net would', async () => {
    const { client, server } = await mptcpPair(servers);
    server.resetAndDestroy();
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      client.on('error', resolve);
      const flood = (): void => {
        for (let i = 0; i < 64 && !client.destroyed; i++) client.write(Buffer.alloc(1 << 20));
        if (!client.destroyed) setTimeout(flood, 10);
      };
      flood();
    });
    expect(['EPIPE', 'ECONNRESET']).toContain(err.code);
  });
});
