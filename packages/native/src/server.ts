/**
 * MPTCP listeners as real net.Server objects: the addon creates and binds the socket (protocol
 * 262 when the mode allows), then Node adopts it with server.listen({ fd }), which calls listen().
 * The same code serves createServer()/listen() here and the `register` hook, which runs it for
 * every net.Server (http, https, http2, tls and the frameworks on top).
 */
import * as net from 'node:net';
import { lookup } from 'node:dns/promises';
import { binding, bindingAvailable, sysconst } from './binding.js';
import { MptcpSocketError, netSyscallError, syscallError } from './errors.js';
import { hasInheritedListeners, takeInheritedListener } from './inherited.js';
import { createConfiguredSocket, effectiveMode, wantsMptcp, type CreatedSocket } from './policy.js';
import { ipSockAddr } from './sockaddr.js';
import { pickSocketOptions, type MptcpSocketOptions } from './socket-options.js';
import type { MptcpMode, MptcpModeOption } from './types.js';
import {
  bulkTuningFor,
  presetBulkReceiveBuffer,
  presetBulkSendBuffer,
  sendTuningFor,
  useMptcpBulkTuning,
  useMptcpWritePath,
  writePathDisabled,
} from './write-path.js';
import { readPathDisabled, useMptcpReadPath } from './read-path.js';
import { invalidArgType, nodeError, validateMptcp, validatePort } from './validate.js';

export interface MptcpListenOptions extends MptcpSocketOptions {
  /** Address to bind; default '::' (dual stack, IPV6_V6ONLY=0), or '0.0.0.0' without IPv6. */
  host?: string;
  /** Port; default 0 (the kernel picks one). */
  port?: number;
  /** Default: 'prefer' (plain TCP with NODE_MPTCP=0). */
  mptcp?: MptcpModeOption;
  /** listen() backlog; default 511 as net. */
  backlog?: number;
  /** For IPv6 hosts: accept IPv6 only (IPV6_V6ONLY=1). Default false (dual stack). */
  ipv6Only?: boolean;
  /** SO_REUSEPORT before bind(). */
  reusePort?: boolean;
  /** Closes the server when aborted, as net. */
  signal?: AbortSignal;
}

export interface MptcpServerOptions extends net.ServerOpts {
  mptcp?: MptcpModeOption;
}

type ConnectionListener = (socket: net.Socket) => void;
type ListenFn = (...args: unknown[]) => net.Server;

/** The socket a listen() created; kept so mptcpStatus(server) can tell a 'prefer' fallback. */
export const listenerFallbacks = new WeakMap<net.Server, CreatedSocket>();

function defaultHost(): string {
  const fd = binding().socket(sysconst('AF_INET6'), sysconst('SOCK_STREAM'), 0);
  if (fd < 0) return '0.0.0.0';
  binding().close(fd);
  return '::';
}

/** socket() + options + bind(): the fd to hand to server.listen({ fd }). */
function bindListener(
  server: net.Server,
  address: string,
  family: 'inet' | 'inet6',
  options: MptcpListenOptions,
  requested: MptcpMode | undefined,
): CreatedSocket {
  const native = binding();
  const port = options.port ?? 0;
  const created = createConfiguredSocket(
    { family, kind: 'stream', role: 'listener', warn: true, ...(requested === undefined ? {} : { mptcp: requested }) },
    // net sets noDelay/keepAlive on every accepted socket: MPTCP must support them too.
    { check: pickSocketOptions(server), apply: pickSocketOptions(options) },
    'listener',
  );
  const { fd } = created;
  try {
    configureListener(fd, address, family, port, options);
  } catch (err) {
    native.close(fd); // on every error path: a failed listen() leaves no fd behind
    throw err;
  }
  return created;
}

function configureListener(
  fd: number,
  address: string,
  family: 'inet' | 'inet6',
  port: number,
  options: MptcpListenOptions,
): void {
  const native = binding();
  const fail = (errno: number, syscall: string): never => {
    throw syscallError(errno, { syscall, address, port });
  };
  if (family === 'inet6') {
    const r = native.setsockoptInt(fd, sysconst('IPPROTO_IPV6'), sysconst('IPV6_V6ONLY'), options.ipv6Only ? 1 : 0);
    if (r < 0) fail(-r, 'setsockopt');
  }
  // Accepted connections inherit the listener's buffers (write-path.ts, bulk tuning).
  if (bulkTuningFor('server')) {
    presetBulkReceiveBuffer(fd);
    presetBulkSendBuffer(fd);
  }
  // As libuv does for every TCP listener: rebinding a port in TIME_WAIT must work.
  let r = native.setsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_REUSEADDR'), 1);
  if (r < 0) fail(-r, 'setsockopt');
  if (options.reusePort) {
    r = native.setsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_REUSEPORT'), 1);
    if (r < 0) fail(-r, 'setsockopt');
  }
  r = native.bind(fd, { family, address, port });
  // libuv defers a bind() error to listen(): net reports it as "listen EADDRINUSE: … 127.0.0.1:80".
  if (r < 0) throw netSyscallError(-r, { syscall: 'listen', address, port });
}

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
    const o = first as net.ListenOptions & MptcpListenOptions & { fd?: unknown; handle?: unknown; _handle?: unknown };
    if (o.path !== undefined || o.fd !== undefined || o.handle !== undefined || o._handle !== undefined)
      return undefined;
    if (typeof (first as { listen?: unknown }).listen === 'function') return undefined; // a handle object (server/socket)
    options = { ...o };
    // As net: port undefined or null is 0; a numeric string ('8080') is a port; else ERR_SOCKET_BAD_PORT.
    const port: unknown = o.port;
    if (port === undefined || port === null) delete options.port;
    else if (typeof port === 'number' || typeof port === 'string') options.port = validatePort(port, 'options.port');
    else throw invalidArgType('options.port', 'one of type number or string', port);
  } else if (typeof first === 'string' && !/^\d+$/.test(first)) {
    return undefined; // a pipe path
  } else {
    options = {};
    if (first !== undefined && first !== null) options.port = validatePort(first, 'options.port');
    if (typeof args[1] === 'string') options.host = args[1];
    const backlog = typeof args[1] === 'number' ? args[1] : args[2];
    if (typeof backlog === 'number') options.backlog = backlog;
  }
  return callback ? { options, callback } : { options };
}

/** How listen() decides, beyond NODE_MPTCP. */
export interface ListenPolicy {
  /** The server's default mode (createServer({ mptcp })). */
  mptcp?: MptcpMode;
  /** register: when the mode is plain TCP and no socket was passed in, leave listen() to net untouched. */
  passThroughWhenOff?: boolean;
}

/**
 * listen() with MPTCP: adopts a passed socket (LISTEN_FDS) bound to the address, or opens an MPTCP
 * (or TCP, per mode, fallback and options) socket and hands it to net. Errors (EADDRINUSE…, or
 * ENOPROTOOPT with 'require') are emitted as 'error' on the server, as net does.
 */
export function mptcpListen(
  server: net.Server,
  original: ListenFn,
  args: unknown[],
  policy: ListenPolicy = {},
): net.Server {
  // As net, before any socket is made: a second listen() throws (and leaks no fd).
  if ((server as { _handle?: unknown })._handle) {
    throw nodeError(
      Error,
      'ERR_SERVER_ALREADY_LISTEN',
      'Listen method has been called more than once without closing.',
    );
  }
  const parsed = parseListenArgs(args.slice());
  if (!parsed) return original(...args);
  const { options: listenOptions, callback } = parsed;
  // As net: the callback is a 'listening' listener from now on, so it also runs when this attempt
  // fails (EADDRINUSE) and the app retries with listen(otherPort) without one (Vite does).
  if (callback) server.once('listening', callback);
  const rest = callback ? args.slice(0, -1) : args;
  const requested = validateMptcp(listenOptions.mptcp) ?? policy.mptcp;
  const port = listenOptions.port ?? 0;
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
  const native = bindingAvailable();
  const passThrough = policy.passThroughWhenOff === true && (!wantsMptcp(mode) || !native);
  if (passThrough && !(native && port > 0 && hasInheritedListeners())) return original(...rest);
  if (!native) {
    if (mode === 'require') {
      try {
        binding();
      } catch (err) {
        emitError(err);
      }
      return server;
    }
    const { host, backlog, ipv6Only, reusePort, signal } = listenOptions;
    return original({
      host,
      port,
      backlog,
      ipv6Only,
      ...(reusePort ? { reusePort } : {}),
      ...(signal ? { signal } : {}),
    });
  }
  const withFd = (fd: number, own: boolean): void => {
    armWritePath(server);
    try {
      original({
        fd,
        backlog: listenOptions.backlog ?? 511,
        ...(listenOptions.signal ? { signal: listenOptions.signal } : {}),
      });
    } catch (err) {
      if (own) binding().close(fd); // net refused it: the socket made for it must not leak
      throw err;
    }
  };
  const open = (address: string | undefined, family: 'inet' | 'inet6' | undefined): void => {
    const passed = takeInheritedListener(address, port);
    if (passed !== undefined) {
      withFd(passed, false);
      return;
    }
    if (passThrough) {
      original(...rest);
      return;
    }
    let created: CreatedSocket;
    try {
      const host = address ?? defaultHost();
      created = bindListener(server, host, family ?? (host.includes(':') ? 'inet6' : 'inet'), listenOptions, requested);
    } catch (err) {
      emitError(err);
      return;
    }
    listenerFallbacks.set(server, created);
    withFd(created.fd, true);
  };
  const host = listenOptions.host;
  if (host === undefined || host === '') {
    open(undefined, undefined);
    return server;
  }
  const literal = ipSockAddr(host, port);
  if (literal && (literal.family === 'inet' || literal.family === 'inet6')) {
    open(literal.address, literal.family);
  } else {
    // As net's lookupAndListen(): a close() (or another listen()) during the lookup cancels this one.
    const listeningId = (server as { _listeningId?: number })._listeningId;
    const current = (): boolean => (server as { _listeningId?: number })._listeningId === listeningId;
    lookup(host).then(
      (r) => {
        if (current()) open(r.address, r.family === 6 ? 'inet6' : 'inet');
      },
      (err: unknown) => {
        if (!current()) return;
        emitError(err instanceof Error ? err : new MptcpSocketError({ code: 'ENOTFOUND', message: String(err) }));
      },
    );
  }
  return server;
}

const writePathServers = new WeakSet<net.Server>();

/** The MPTCP sender stall workarounds (write-path.ts) on every MPTCP connection of `server`. */
function armWritePath(server: net.Server): void {
  const path = !writePathDisabled();
  const tuning = bulkTuningFor('server');
  const sendTuning = sendTuningFor('server');
  const reads = !readPathDisabled();
  if ((!path && !sendTuning && !reads) || writePathServers.has(server)) return;
  writePathServers.add(server);
  // Prepended, so it runs before an http server's own listener hands the handle to its parser.
  server.prependListener('connection', (socket: net.Socket) => {
    if (path) useMptcpWritePath(socket);
    // Servers grow the send buffer by default; the receive buffer only when asked (bulkTuningFor).
    else if (sendTuning) useMptcpBulkTuning(socket, tuning ? {} : { rcvbuf: 0 });
    if (reads) useMptcpReadPath(socket);
  });
}

/**
 * Makes an existing server's listen() open MPTCP sockets (any net.Server: http, https, http2, tls).
 * `mptcp` is the default mode of its listen() calls. Returns the server.
 */
export function withMptcp<T extends net.Server>(server: T, options: { mptcp?: MptcpModeOption } = {}): T {
  const original = server.listen.bind(server) as ListenFn;
  const mptcp = validateMptcp(options.mptcp);
  const policy: ListenPolicy = mptcp === undefined ? {} : { mptcp };
  (server as net.Server).listen = function (this: net.Server, ...args: unknown[]): net.Server {
    return mptcpListen(server, original, args, policy);
  } as net.Server['listen'];
  return server;
}

/**
 * Creates a net.Server whose listen() opens an MPTCP socket. The usual listen() forms work
 * (`listen(port, host, backlog, cb)`, `listen({ port, host, backlog, ipv6Only, reusePort, mptcp })`);
 * path/fd/handle forms go to net unchanged.
 */
export function createServer(connectionListener?: ConnectionListener): net.Server;
export function createServer(options?: MptcpServerOptions, connectionListener?: ConnectionListener): net.Server;
export function createServer(first?: MptcpServerOptions | ConnectionListener, second?: ConnectionListener): net.Server {
  // net's forms: (listener) and (options[, listener]).
  const [options, connectionListener] =
    typeof first === 'function' ? [{} as MptcpServerOptions, first] : [first ?? {}, second];
  if (connectionListener !== undefined && typeof connectionListener !== 'function') {
    throw invalidArgType('connectionListener', 'of type function', connectionListener);
  }
  const { mptcp: rawMode, ...serverOpts } = options;
  const mptcp = validateMptcp(rawMode);
  const server = connectionListener ? net.createServer(serverOpts, connectionListener) : net.createServer(serverOpts);
  // An explicit MPTCP API: 'prefer' unless told otherwise (NODE_MPTCP=0 still turns it off).
  return withMptcp(server, { mptcp: mptcp ?? 'prefer' });
}

/** createServer(options, listener).listen(options): a listening MPTCP server in one call. */
export function listen(
  options: MptcpListenOptions & MptcpServerOptions = {},
  connectionListener?: ConnectionListener,
): net.Server {
  const { host, port, backlog, ipv6Only, reusePort, mptcp, ...rest } = options;
  const socketOptions = pickSocketOptions(rest);
  const serverOpts: net.ServerOpts = { ...rest };
  for (const k of Object.keys(socketOptions)) delete (serverOpts as Record<string, unknown>)[k];
  // net's own noDelay/keepAlive server options stay server options (applied to accepted sockets).
  if (rest.noDelay !== undefined) serverOpts.noDelay = rest.noDelay;
  if (rest.keepAlive !== undefined) serverOpts.keepAlive = rest.keepAlive;
  if (rest.keepAliveInitialDelay !== undefined) serverOpts.keepAliveInitialDelay = rest.keepAliveInitialDelay;
  const server = createServer({ ...serverOpts, ...(mptcp === undefined ? {} : { mptcp }) }, connectionListener);
  const listenOptions: MptcpListenOptions = { ...socketOptions };
  delete listenOptions.noDelay;
  delete listenOptions.keepAlive;
  delete listenOptions.keepAliveInitialDelay;
  if (host !== undefined) listenOptions.host = host;
  if (port !== undefined) listenOptions.port = port;
  if (backlog !== undefined) listenOptions.backlog = backlog;
  if (ipv6Only !== undefined) listenOptions.ipv6Only = ipv6Only;
  if (reusePort !== undefined) listenOptions.reusePort = reusePort;
  server.listen(listenOptions);
  return server;
}
