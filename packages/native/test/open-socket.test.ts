import * as net from 'node:net';
import * as dgram from 'node:dgram';
import { mkdtempSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { IPPROTO_MPTCP, SOL_SOCKET } from '@mptcp/constants';
import {
  accept,
  close,
  fdFlags,
  getSocketOption,
  getSocketOptionBytes,
  isListening,
  openSocket,
  peerCredentials,
  peerName,
  sendDatagram,
  setCloexec,
  setNonBlocking,
  socketProtocol,
  socketType,
  sockName,
  sysconst,
  watchReadable,
  type OpenSocketSpec,
} from '../src/index.js';
import { missing, probes } from './helpers/capability.js';

const noMptcp = missing(probes.mptcp);
const dir = mkdtempSync(join(tmpdir(), 'mptcp-native-'));
const fds: number[] = [];
afterEach(() => {
  for (const fd of fds.splice(0)) {
    try {
      close(fd);
    } catch {
      // already closed by the test
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function open(spec: OpenSocketSpec): ReturnType<typeof openSocket> {
  const s = openSocket(spec);
  fds.push(s.fd);
  return s;
}

const opt = (fd: number, level: string, name: string): number => getSocketOption(fd, sysconst(level), sysconst(name));

describe('openSocket: families and kinds', () => {
  it.each([
    ['stream', 'inet'],
    ['stream', 'inet6'],
    ['datagram', 'inet'],
    ['datagram', 'inet6'],
  ] as const)('%s %s binds, resolves port 0, listens only for stream', (kind, family) => {
    const address = family === 'inet' ? '127.0.0.1' : '::1';
    const s = open({ kind, address: { family, address, port: 0 } });
    expect(s.local.family).toBe(family);
    expect(s.local.family !== 'unix' && s.local.family !== 'vsock' && s.local.port).toBeGreaterThan(0);
    expect(socketType(s.fd)).toBe(kind);
    expect(fdFlags(s.fd)).toEqual({ nonBlocking: true, cloexec: true });
    if (kind === 'stream') expect(isListening(s.fd)).toBe(true);
    expect(s.warnings).toEqual([]);
  });

  it.each(['stream', 'datagram', 'seqpacket'] as const)('abstract AF_UNIX %s', (kind) => {
    const name = `mptcp-native-test-${process.pid}-${kind}`;
    const s = open({ kind, address: { family: 'unix', path: name, abstract: true } });
    expect(s.local).toEqual({ family: 'unix', path: name, abstract: true });
    expect(socketType(s.fd)).toBe(kind);
  });

  it('path AF_UNIX: parents created with directoryMode, node with socketMode, stale node replaced', () => {
    const path = join(dir, 'a', 'b', 'sock');
    const s = open({
      kind: 'stream',
      address: { family: 'unix', path, abstract: false },
      socketMode: 0o600,
      directoryMode: 0o710,
    });
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o710);
    expect(statSync(join(dir, 'a', 'b')).mode & 0o777).toBe(0o710);
    close(s.fd);
    // The node is left behind (stale): a second openSocket unlinks it and binds again.
    const again = open({ kind: 'stream', address: { family: 'unix', path, abstract: false }, socketMode: 0o660 });
    expect(statSync(path).mode & 0o777).toBe(0o660);
    expect(again.local).toEqual({ family: 'unix', path, abstract: false });
  });

  it('a regular file in the way is also replaced (systemd unlinks on EADDRINUSE)', () => {
    const path = join(dir, 'file-in-the-way');
    writeFileSync(path, 'x');
    open({ kind: 'datagram', address: { family: 'unix', path, abstract: false } });
    expect(statSync(path).isSocket()).toBe(true);
  });

  it('a bind error is a typed error naming the address', () => {
    const a = open({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
    const port = a.local.family === 'inet' ? a.local.port : 0;
    expect(() => openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port } })).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind' }),
    );
  });

  it('BindIPv6Only: ipv6-only and both set IPV6_V6ONLY', () => {
    const only = open({
      kind: 'stream',
      address: { family: 'inet6', address: '::', port: 0 },
      bindIPv6Only: 'ipv6-only',
    });
    expect(opt(only.fd, 'IPPROTO_IPV6', 'IPV6_V6ONLY')).toBe(1);
    const both = open({ kind: 'stream', address: { family: 'inet6', address: '::', port: 0 }, bindIPv6Only: 'both' });
    expect(opt(both.fd, 'IPPROTO_IPV6', 'IPV6_V6ONLY')).toBe(0);
  });
});

describe('openSocket: options', () => {
  it('applies the [Socket] options (read back with getsockopt)', () => {
    const s = open({
      kind: 'stream',
      address: { family: 'inet', address: '127.0.0.1', port: 0 },
      backlog: 7,
      reusePort: true,
      freeBind: true,
      keepAlive: true,
      keepAliveTimeSec: 61,
      keepAliveIntervalSec: 7,
      keepAliveProbes: 4,
      noDelay: true,
      priority: 3,
      deferAcceptSec: 5,
      receiveBuffer: 65536,
      sendBuffer: 65536,
      ipTos: 0x10,
      ipTtl: 33,
      mark: 42,
      tcpCongestion: 'reno',
      bindToDevice: 'lo',
    });
    expect(s.warnings).toEqual([]);
    expect(opt(s.fd, 'SOL_SOCKET', 'SO_REUSEADDR')).toBe(1);
    expect(opt(s.fd, 'SOL_SOCKET', 'SO_REUSEPORT')).toBe(1);
    expect(opt(s.fd, 'IPPROTO_IP', 'IP_FREEBIND')).toBe(1);
    expect(opt(s.fd, 'SOL_SOCKET', 'SO_KEEPALIVE')).toBe(1);
    expect(opt(s.fd, 'IPPROTO_TCP', 'TCP_KEEPIDLE')).toBe(61);
    expect(opt(s.fd, 'IPPROTO_TCP', 'TCP_KEEPINTVL')).toBe(7);
    expect(opt(s.fd, 'IPPROTO_TCP', 'TCP_KEEPCNT')).toBe(4);
    expect(opt(s.fd, 'IPPROTO_TCP', 'TCP_NODELAY')).toBe(1);
    // IP_TOS (applied after Priority, as in systemd) rewrites the priority: low-delay → 6.
    expect(opt(s.fd, 'SOL_SOCKET', 'SO_PRIORITY')).toBe(6);
    expect(opt(s.fd, 'IPPROTO_TCP', 'TCP_DEFER_ACCEPT')).toBeGreaterThan(0);
    expect(opt(s.fd, 'SOL_SOCKET', 'SO_RCVBUF')).toBe(2 * 65536); // the kernel doubles it
    expect(opt(s.fd, 'SOL_SOCKET', 'SO_SNDBUF')).toBe(2 * 65536);
    expect(opt(s.fd, 'IPPROTO_IP', 'IP_TOS')).toBe(0x10);
    expect(opt(s.fd, 'IPPROTO_IP', 'IP_TTL')).toBe(33);
    expect(opt(s.fd, 'SOL_SOCKET', 'SO_MARK')).toBe(42);
    const cc = getSocketOptionBytes(s.fd, sysconst('IPPROTO_TCP'), sysconst('TCP_CONGESTION'), 16);
    expect(cc.toString('latin1').replace(/\0.*$/s, '')).toBe('reno');
    const dev = getSocketOptionBytes(s.fd, sysconst('SOL_SOCKET'), sysconst('SO_BINDTODEVICE'), 16);
    expect(dev.toString('latin1').replace(/\0.*$/s, '')).toBe('lo');
  });

  it('Priority alone', () => {
    const s = open({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 }, priority: 3 });
    expect(opt(s.fd, 'SOL_SOCKET', 'SO_PRIORITY')).toBe(3);
  });

  it('datagram options: Broadcast, PassCredentials, PassPacketInfo', () => {
    const u = open({
      kind: 'datagram',
      address: { family: 'inet', address: '127.0.0.1', port: 0 },
      broadcast: true,
      passPacketInfo: true,
    });
    expect(opt(u.fd, 'SOL_SOCKET', 'SO_BROADCAST')).toBe(1);
    expect(opt(u.fd, 'IPPROTO_IP', 'IP_PKTINFO')).toBe(1);
    const x = open({
      kind: 'datagram',
      address: { family: 'unix', path: `mptcp-native-cred-${process.pid}`, abstract: true },
      passCredentials: true,
    });
    expect(opt(x.fd, 'SOL_SOCKET', 'SO_PASSCRED')).toBe(1);
  });

  it('a refused option is a warning, not an error (unknown congestion control)', () => {
    const s = open({
      kind: 'stream',
      address: { family: 'inet', address: '127.0.0.1', port: 0 },
      tcpCongestion: 'no-such-cc',
    });
    expect(s.warnings).toEqual([expect.objectContaining({ option: 'TCPCongestion', code: 'ENOENT' })]);
  });

  it.skipIf(noMptcp)('MPTCP listener: protocol 262; IP_TTL refused with EOPNOTSUPP as a warning', () => {
    const s = open({
      kind: 'stream',
      protocol: IPPROTO_MPTCP,
      address: { family: 'inet', address: '127.0.0.1', port: 0 },
      ipTtl: 10,
      noDelay: true,
    });
    expect(s.protocol).toBe(IPPROTO_MPTCP);
    expect(socketProtocol(s.fd)).toBe(IPPROTO_MPTCP);
    expect(s.warnings).toEqual([expect.objectContaining({ option: 'IPTTL', code: 'EOPNOTSUPP' })]);
    expect(opt(s.fd, 'IPPROTO_TCP', 'TCP_NODELAY')).toBe(1);
  });

  it('setNonBlocking / setCloexec toggle the flags (fds handed to children)', () => {
    const s = open({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
    setCloexec(s.fd, false);
    setNonBlocking(s.fd, false);
    expect(fdFlags(s.fd)).toEqual({ nonBlocking: false, cloexec: false });
    setCloexec(s.fd, true);
    setNonBlocking(s.fd, true);
    expect(fdFlags(s.fd)).toEqual({ nonBlocking: true, cloexec: true });
    expect(() => setCloexec(1_000_000, true)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('nonBlocking: false clears O_NONBLOCK', () => {
    const s = open({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 }, nonBlocking: false });
    expect(fdFlags(s.fd).nonBlocking).toBe(false);
  });
});

describe('watchReadable / accept', () => {
  it('fires on an incoming connection without accepting it; stop() works; restart works', async () => {
    const s = open({
      kind: 'stream',
      protocol: noMptcp ? 0 : IPPROTO_MPTCP,
      address: { family: 'inet', address: '127.0.0.1', port: 0 },
    });
    const port = s.local.family === 'inet' ? s.local.port : 0;
    expect(accept(s.fd)).toBeNull(); // nothing queued: EAGAIN → null
    let fired = 0;
    const ready = new Promise<void>((resolve) => {
      const w = watchReadable(s.fd, (err) => {
        expect(err).toBeNull();
        fired++;
        w.stop();
        expect(w.active).toBe(false);
        resolve();
      });
      expect(w.active).toBe(true);
    });
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await ready;
    await new Promise((r) => setTimeout(r, 30));
    expect(fired).toBe(1); // stopped: no further callbacks although the connection is still queued
    const conn = accept(s.fd);
    expect(conn).not.toBeNull();
    if (!conn) return;
    fds.push(conn.fd);
    expect(conn.local).toEqual({ family: 'inet', address: '127.0.0.1', port });
    expect(conn.remote.family).toBe('inet');
    expect(fdFlags(conn.fd)).toEqual({ nonBlocking: true, cloexec: true });
    expect(sockName(conn.fd)).toEqual(conn.local);
    expect(peerName(conn.fd)).toEqual(conn.remote);
    expect(conn.remote).toEqual({ family: 'inet', address: '127.0.0.1', port: client.localPort });
    expect(accept(s.fd)).toBeNull();
    // restart: a second watcher on the same fd sees the next connection
    const again = new Promise<void>((resolve) => {
      const w = watchReadable(s.fd, () => {
        w.stop();
        resolve();
      });
    });
    const client2 = net.connect(port, '127.0.0.1');
    client2.on('error', () => undefined);
    await again;
    const c2 = accept(s.fd);
    expect(c2).not.toBeNull();
    if (c2) fds.push(c2.fd);
    client.destroy();
    client2.destroy();
  });

  it('a stopped watcher does not keep the process alive (child process exits)', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = `
      import { openSocket, watchReadable } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
      const s = openSocket({ kind: 'stream', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
      const w = watchReadable(s.fd, () => {});
      setTimeout(() => w.stop(), 20);
    `;
    const t0 = Date.now();
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 5000 });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('datagram readiness: fires when a datagram waits', async () => {
    const s = open({ kind: 'datagram', address: { family: 'inet', address: '127.0.0.1', port: 0 } });
    const port = s.local.family === 'inet' ? s.local.port : 0;
    const got = new Promise<void>((resolve) => {
      const w = watchReadable(s.fd, () => {
        w.stop();
        resolve();
      });
    });
    const sender = dgram.createSocket('udp4');
    sender.send('ping', port, '127.0.0.1', () => sender.close());
    await got;
  });

  it.each([true, false])('sendDatagram to an AF_UNIX datagram socket (abstract: %s)', async (abstract) => {
    const path = abstract ? `mptcp-native-notify-${process.pid}` : join(dir, 'notify.sock');
    const s = open({ kind: 'datagram', address: { family: 'unix', path, abstract } });
    const got = new Promise<void>((resolve) => {
      const w = watchReadable(s.fd, () => {
        w.stop();
        resolve();
      });
    });
    sendDatagram(abstract ? `@${path}` : path, Buffer.from('READY=1'));
    await got;
    const buf = Buffer.alloc(64);
    const n = readSync(s.fd, buf);
    expect(buf.subarray(0, n).toString()).toBe('READY=1');
  });

  it('sendDatagram to a missing path is a typed ENOENT from connect', () => {
    expect(() => sendDatagram(join(dir, 'nobody.sock'), Buffer.from('x'))).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'connect' }),
    );
  });

  it('peerCredentials on an AF_UNIX connection', async () => {
    const path = join(dir, 'cred.sock');
    const s = open({ kind: 'stream', address: { family: 'unix', path, abstract: false } });
    const client = net.connect({ path });
    await new Promise((r) => client.once('connect', r));
    let conn = accept(s.fd);
    for (let i = 0; !conn && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 10));
      conn = accept(s.fd);
    }
    expect(conn).not.toBeNull();
    if (!conn) return;
    fds.push(conn.fd);
    expect(peerCredentials(conn.fd)).toEqual({ pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
    expect(getSocketOption(conn.fd, SOL_SOCKET, sysconst('SO_TYPE'))).toBe(sysconst('SOCK_STREAM'));
    client.destroy();
  });
});
