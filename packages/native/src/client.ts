/**
 * MPTCP clients as real net.Socket objects. connect() returns the socket at once (like
 * net.connect); then, without ever blocking the loop: dns.lookup (host names) → socket(…, 262)
 * (or TCP, per mode and fallback) → bind (localAddress/localPort) → non-blocking connect() →
 * uv_poll for writable → SO_ERROR → 'connect'. Failures are emitted as 'error' (MptcpSocketError).
 *
 * Mechanics: the returned net.Socket wraps an fd from the start (created by the addon, not yet
 * read by libuv: `manualStart`, and `connecting` is true so net queues writes and reads until
 * 'connect'). When the target family is known only after DNS, the real socket replaces it with
 * dup3() under the same fd number before connect().
 */
import * as net from 'node:net';
import { lookup } from 'node:dns/promises';
import { binding, bindingAvailable, sysconst } from './binding.js';
import { MptcpSocketError, errnoName, syscallError } from './errors.js';
import { createSocket, effectiveMode, type CreatedSocket } from './policy.js';
import { ipSockAddr } from './sockaddr.js';
import type { MptcpMode } from './types.js';
import { watchWritable, type FdWatcher } from './watch.js';
import { setConnecting } from './fd.js';

/** net's `lookup` option shape: (hostname, { family }, callback(err, address, family)). */
export type LookupFunction = (
  hostname: string,
  options: { family: number },
  callback: (err: Error | null, address: string, family: number) => void,
) => void;

function resolve(host: string, family: number, custom: LookupFunction | undefined): Promise<{ address: string; family: number }> {
  if (!custom) return lookup(host, { family });
  return new Promise((ok, fail) => {
    custom(host, { family }, (err, address, fam) => (err ? fail(err) : ok({ address, family: fam })));
  });
}

export interface MptcpConnectOptions {
  host?: string;
  port: number;
  /** Default false (clients opt in), or 'prefer' with NODE_MPTCP=1/3. */
  mptcp?: MptcpMode;
  localAddress?: string;
  localPort?: number;
  /** Connect timeout in ms: if not connected by then, 'timeout' is emitted and the socket is destroyed with ETIMEDOUT. */
  timeout?: number;
  /** Address family for host-name lookups (4 or 6; default: the resolver's first answer). */
  family?: 0 | 4 | 6;
  /** Host-name resolver, net-style (default dns.lookup). */
  lookup?: LookupFunction;
  allowHalfOpen?: boolean;
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
}

/** How each client socket was created (for mptcpStatus). */
export const clientSockets = new WeakMap<net.Socket, CreatedSocket>();

type IpFamily = 'inet' | 'inet6';

interface InternalSocketOptions extends net.SocketConstructorOpts {
  /** net-internal (used by child_process and tls): do not start reading in the constructor. */
  manualStart?: boolean;
}

function errorSocket(err: unknown, listener?: () => void): net.Socket {
  const socket = new net.Socket();
  if (listener) socket.once('connect', listener);
  process.nextTick(() => socket.destroy(err instanceof Error ? err : new Error(String(err))));
  return socket;
}

/**
 * Opens an MPTCP (or TCP, per `mptcp` and NODE_MPTCP) connection and returns the net.Socket at
 * once. Emits 'connect' when established; 'error' with an MptcpSocketError otherwise.
 */
export function connect(options: MptcpConnectOptions, connectListener?: () => void): net.Socket {
  const host = options.host ?? 'localhost';
  const port = options.port;
  let mode: MptcpMode;
  try {
    mode = effectiveMode('dialer', options.mptcp);
  } catch (err) {
    return errorSocket(err, connectListener);
  }
  if (!bindingAvailable()) {
    if (mode === 'require') {
      try {
        binding();
      } catch (err) {
        return errorSocket(err, connectListener);
      }
    }
    const plain: net.NetConnectOpts = { host, port };
    if (options.localAddress !== undefined) plain.localAddress = options.localAddress;
    if (options.localPort !== undefined) plain.localPort = options.localPort;
    return net.connect(plain, connectListener);
  }
  const native = binding();
  const literal = ipSockAddr(host, port);
  const literalFamily: IpFamily | undefined = literal && (literal.family === 'inet' || literal.family === 'inet6') ? literal.family : undefined;

  // The fd the net.Socket is built on: the real socket when the family is known now, else a
  // placeholder of the likely family that dup3() replaces after the lookup.
  let created: CreatedSocket | undefined;
  let fd: number;
  try {
    if (literalFamily) {
      created = createSocket({ family: literalFamily, kind: 'stream', role: 'dialer', warn: true, ...(options.mptcp === undefined ? {} : { mptcp: options.mptcp }) });
      fd = created.fd;
    } else {
      const r = native.socket(sysconst('AF_INET'), sysconst('SOCK_STREAM'), 0);
      if (r < 0) throw syscallError(-r, { syscall: 'socket' });
      fd = r;
    }
  } catch (err) {
    return errorSocket(err, connectListener);
  }

  const socketOptions: InternalSocketOptions = { fd, manualStart: true, readable: true, writable: true };
  if (options.allowHalfOpen !== undefined) socketOptions.allowHalfOpen = options.allowHalfOpen;
  const socket = new net.Socket(socketOptions);
  setConnecting(socket, true);
  if (created) clientSockets.set(socket, created);
  if (connectListener) socket.once('connect', connectListener);

  let watcher: FdWatcher | undefined;
  let pollFd = -1;
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const cleanup = (): void => {
    settled = true;
    watcher?.stop();
    watcher = undefined;
    if (pollFd >= 0) native.close(pollFd);
    pollFd = -1;
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const fail = (err: unknown): void => {
    if (settled) return;
    cleanup();
    socket.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  const succeed = (): void => {
    if (settled) return;
    cleanup();
    setConnecting(socket, false);
    if (options.noDelay) socket.setNoDelay(true);
    if (options.keepAlive) socket.setKeepAlive(true, options.keepAliveInitialDelay ?? 0);
    socket.emit('connect');
    socket.emit('ready');
    if (!socket.isPaused()) socket.read(0);
  };
  // The user may destroy the socket while it is connecting.
  socket.once('close', () => {
    if (!settled) cleanup();
  });
  if (options.timeout !== undefined && options.timeout > 0) {
    timer = setTimeout(() => {
      if (settled) return;
      socket.emit('timeout');
      fail(syscallError(110, { syscall: 'connect', address: host, port, detail: `(no answer within ${options.timeout} ms)` }));
    }, options.timeout);
  }

  const start = async (): Promise<void> => {
    // Never emit 'connect' or 'error' before connect() has returned, as net does.
    await new Promise<void>((resolve) => process.nextTick(resolve));
    if (settled || socket.destroyed) return;
    let address: string;
    let family: IpFamily;
    if (literal && literalFamily) {
      address = literal.address;
      family = literalFamily;
    } else {
      const r = await resolve(host, options.family ?? 0, options.lookup);
      address = r.address;
      family = r.family === 6 ? 'inet6' : 'inet';
    }
    if (settled || socket.destroyed) return;
    if (!created) {
      created = createSocket({ family, kind: 'stream', role: 'dialer', warn: true, ...(options.mptcp === undefined ? {} : { mptcp: options.mptcp }) });
      clientSockets.set(socket, created);
      const r = native.dup3(created.fd, fd);
      native.close(created.fd);
      if (r < 0) throw syscallError(-r, { syscall: 'dup3' });
      created = { ...created, fd };
    }
    if (options.localAddress !== undefined || options.localPort !== undefined) {
      const local = options.localAddress ?? (family === 'inet6' ? '::' : '0.0.0.0');
      const r = native.bind(fd, { family, address: local, port: options.localPort ?? 0 });
      if (r < 0) throw syscallError(-r, { syscall: 'bind', address: local, port: options.localPort ?? 0 });
    }
    const r = native.connect(fd, { family, address, port });
    if (r === 0) {
      succeed();
      return;
    }
    if (errnoName(-r) !== 'EINPROGRESS') throw syscallError(-r, { syscall: 'connect', address, port });
    // Poll a duplicate, so the watcher never shares an fd number with libuv's TCP handle.
    const dup = native.dup(fd);
    if (dup < 0) throw syscallError(-dup, { syscall: 'fcntl' });
    pollFd = dup;
    watcher = watchWritable(dup, (error) => {
      // libuv reports POLLERR as EBADF: the real reason is in SO_ERROR.
      const so = native.getsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_ERROR'));
      const soError = typeof so === 'number' ? -so : so.value;
      if (soError !== 0) fail(syscallError(soError, { syscall: 'connect', address, port }));
      else if (error) fail(error);
      else succeed();
    });
  };
  start().catch((err: unknown) => {
    if (err instanceof MptcpSocketError) {
      fail(err);
    } else if (err instanceof Error && 'code' in err) {
      fail(err); // dns errors (ENOTFOUND…) as net reports them
    } else {
      fail(new MptcpSocketError({ code: 'EIO', message: String(err), cause: err }));
    }
  });
  return socket;
}
