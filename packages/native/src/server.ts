/**
 * MPTCP listeners as real net.Server objects: the addon creates and binds the socket (protocol
 * 262 when the mode allows), then Node adopts it with server.listen({ fd }), which calls listen().
 */
import * as net from 'node:net';
import { lookup } from 'node:dns/promises';
import { binding, bindingAvailable, sysconst } from './binding.js';
import { MptcpSocketError, syscallError } from './errors.js';
import { createSocket, effectiveMode, type CreatedSocket } from './policy.js';
import { ipSockAddr } from './sockaddr.js';
import type { MptcpMode } from './types.js';

export interface MptcpListenOptions {
  /** Address to bind; default '::' (dual stack, IPV6_V6ONLY=0), or '0.0.0.0' without IPv6. */
  host?: string;
  /** Port; default 0 (the kernel picks one). */
  port?: number;
  /** Default: 'prefer' (per NODE_MPTCP; servers are MPTCP by default, as Go ≥ 1.24 and mptcp.dev recommend). */
  mptcp?: MptcpMode;
  /** listen() backlog; default 511 as net. */
  backlog?: number;
  /** For IPv6 hosts: accept IPv6 only (IPV6_V6ONLY=1). Default false (dual stack). */
  ipv6Only?: boolean;
  /** SO_REUSEPORT before bind(). */
  reusePort?: boolean;
}

export interface MptcpServerOptions extends net.ServerOpts {
  mptcp?: MptcpMode;
}

type ConnectionListener = (socket: net.Socket) => void;

/** The socket a listen() created; kept so mptcpStatus(server) can tell a 'prefer' fallback. */
export const listenerFallbacks = new WeakMap<net.Server, CreatedSocket>();

function defaultHost(): string {
  const fd = binding().socket(sysconst('AF_INET6'), sysconst('SOCK_STREAM'), 0);
  if (fd < 0) return '0.0.0.0';
  binding().close(fd);
  return '::';
}

/** socket() + options + bind(): the fd to hand to server.listen({ fd }). */
function bindListener(address: string, family: 'inet' | 'inet6', options: MptcpListenOptions, requested: MptcpMode | undefined): CreatedSocket {
  const native = binding();
  const port = options.port ?? 0;
  const created = createSocket({ family, kind: 'stream', role: 'listener', warn: true, ...(requested === undefined ? {} : { mptcp: requested }) });
  const { fd } = created;
  const fail = (errno: number, syscall: string): never => {
    native.close(fd);
    throw syscallError(errno, { syscall, address, port });
  };
  if (family === 'inet6') {
    const r = native.setsockoptInt(fd, sysconst('IPPROTO_IPV6'), sysconst('IPV6_V6ONLY'), options.ipv6Only ? 1 : 0);
    if (r < 0) fail(-r, 'setsockopt');
  }
  // As libuv does for every TCP listener: rebinding a port in TIME_WAIT must work.
  let r = native.setsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_REUSEADDR'), 1);
  if (r < 0) fail(-r, 'setsockopt');
  if (options.reusePort) {
    r = native.setsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_REUSEPORT'), 1);
    if (r < 0) fail(-r, 'setsockopt');
  }
  r = native.bind(fd, { family, address, port });
  if (r < 0) fail(-r, 'bind');
  return created;
}

type ListenFn = net.Server['listen'];

function isListenOptions(v: unknown): v is net.ListenOptions & MptcpListenOptions {
  return typeof v === 'object' && v !== null;
}

/**
 * Parses net's listen() overloads into options and callback; returns undefined for the forms that
 * do not create a TCP socket (path, fd, handle), which go to net unchanged.
 */
function parseListenArgs(args: unknown[]): { options: MptcpListenOptions; callback?: () => void } | undefined {
  const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as () => void) : undefined;
  const first = args[0];
  let options: MptcpListenOptions;
  if (isListenOptions(first)) {
    const o = first as net.ListenOptions & MptcpListenOptions & { fd?: unknown; handle?: unknown };
    if (o.path !== undefined || o.fd !== undefined || o.handle !== undefined) return undefined;
    options = { ...o };
  } else if (typeof first === 'string' && !/^\d+$/.test(first)) {
    return undefined; // a pipe path
  } else {
    options = {};
    if (first !== undefined && first !== null) options.port = Number(first);
    if (typeof args[1] === 'string') options.host = args[1];
    const backlog = typeof args[1] === 'number' ? args[1] : args[2];
    if (typeof backlog === 'number') options.backlog = backlog;
  }
  return callback ? { options, callback } : { options };
}

/**
 * Creates a net.Server whose listen() opens an MPTCP socket. The usual listen() forms work
 * (`listen(port, host, backlog, cb)`, `listen({ port, host, backlog, ipv6Only, reusePort, mptcp })`);
 * path/fd/handle forms go to net unchanged. Errors (EADDRINUSE…, or ENOPROTOOPT with 'require')
 * are emitted as 'error' on the server, as net does.
 */
export function createServer(options: MptcpServerOptions = {}, connectionListener?: ConnectionListener): net.Server {
  const { mptcp, ...serverOpts } = options;
  const server = connectionListener ? net.createServer(serverOpts, connectionListener) : net.createServer(serverOpts);
  const original: ListenFn = server.listen.bind(server);

  const mptcpListen = function (this: net.Server, ...args: unknown[]): net.Server {
    const parsed = parseListenArgs(args.slice());
    if (!parsed) return (original as (...a: unknown[]) => net.Server)(...args);
    const { options: listenOptions, callback } = parsed;
    const requested = listenOptions.mptcp ?? mptcp;
    const emitError = (err: unknown): void => {
      process.nextTick(() => server.emit('error', err));
    };
    let mode: MptcpMode;
    try {
      mode = effectiveMode('listener', requested);
    } catch (err) {
      emitError(err);
      return server;
    }
    if (!bindingAvailable()) {
      if (mode === 'require') {
        try {
          binding();
        } catch (err) {
          emitError(err);
        }
        return server;
      }
      const { host, port, backlog, ipv6Only, reusePort } = listenOptions;
      return original({ host, port, backlog, ipv6Only, ...(reusePort ? { reusePort } : {}) }, callback);
    }
    const adopt = (address: string, family: 'inet' | 'inet6'): void => {
      let created: CreatedSocket;
      try {
        created = bindListener(address, family, listenOptions, requested);
      } catch (err) {
        emitError(err);
        return;
      }
      listenerFallbacks.set(server, created);
      original({ fd: created.fd, backlog: listenOptions.backlog ?? 511 }, callback);
    };
    const host = listenOptions.host ?? defaultHost();
    const literal = ipSockAddr(host, listenOptions.port ?? 0);
    if (literal && (literal.family === 'inet' || literal.family === 'inet6')) {
      adopt(literal.address, literal.family);
    } else {
      lookup(host).then(
        (r) => adopt(r.address, r.family === 6 ? 'inet6' : 'inet'),
        (err: unknown) => emitError(err instanceof Error ? err : new MptcpSocketError({ code: 'ENOTFOUND', message: String(err) })),
      );
    }
    return server;
  };
  server.listen = mptcpListen as ListenFn;
  return server;
}

/** createServer(options, listener).listen(options): a listening MPTCP server in one call. */
export function listen(options: MptcpListenOptions & MptcpServerOptions = {}, connectionListener?: ConnectionListener): net.Server {
  const { host, port, backlog, ipv6Only, reusePort, mptcp, ...serverOpts } = options;
  const server = createServer({ ...serverOpts, ...(mptcp === undefined ? {} : { mptcp }) }, connectionListener);
  const listenOptions: MptcpListenOptions = {};
  if (host !== undefined) listenOptions.host = host;
  if (port !== undefined) listenOptions.port = port;
  if (backlog !== undefined) listenOptions.backlog = backlog;
  if (ipv6Only !== undefined) listenOptions.ipv6Only = ipv6Only;
  if (reusePort !== undefined) listenOptions.reusePort = reusePort;
  server.listen(listenOptions);
  return server;
}
