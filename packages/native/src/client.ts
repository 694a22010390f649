/**
 * MPTCP clients as real net.Socket objects. connect() returns the socket at once (like
 * net.connect); then, without ever blocking the loop: dns.lookup (host names, every address) →
 * per address: socket(…, 262) (or TCP, per mode, fallback and options) → bind (localAddress/
 * localPort) → non-blocking connect() → uv_poll for writable → SO_ERROR. With several addresses
 * and autoSelectFamily, attempts are staggered as net's Happy Eyeballs (RFC 8305) does; the first
 * connection wins. Failures are emitted as 'error' (MptcpSocketError, or dns' errors).
 *
 * Mechanics: the returned net.Socket wraps an fd from the start (created by the addon, not yet
 * read by libuv: `manualStart`, and `connecting` is true so net queues writes and reads until
 * 'connect'). When the target is known only after DNS, the winning connection replaces that
 * placeholder with dup3() under the same fd number.
 */
import * as net from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { binding, bindingAvailable, sysconst } from './binding.js';
import { MptcpSocketError, errnoName, netSyscallError, syscallError } from './errors.js';
import { createConfiguredSocket, effectiveMode, type CreatedSocket } from './policy.js';
import { ipSockAddr } from './sockaddr.js';
import { pickSocketOptions, type MptcpSocketOptions } from './socket-options.js';
import type { MptcpMode, MptcpModeOption } from './types.js';
import { watchWritable, type FdWatcher } from './watch.js';
import { setConnecting } from './fd.js';
import {
  bulkTuningFor,
  presetBulkReceiveBuffer,
  presetBulkSendBuffer,
  useMptcpBulkTuning,
  useMptcpWritePath,
  writePathDisabled,
} from './write-path.js';
import { readPathDisabled, useMptcpReadPath } from './read-path.js';
import { invalidArgType, nodeError, validateConnectOptions, validateMptcp, validatePort } from './validate.js';

type IpFamily = 'inet' | 'inet6';

/** net's `lookup` option shape: (hostname, { family, hints, all }, callback(err, address(es), family)). */
export type LookupFunction = (
  hostname: string,
  options: { family: number; hints?: number; all?: boolean },
  callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
) => void;

export interface MptcpConnectOptions extends MptcpSocketOptions {
  host?: string;
  port: number;
  /** Default 'prefer' (true is 'prefer'): an MPTCP library's connect tries MPTCP (plain TCP with NODE_MPTCP=0). Other values throw ERR_INVALID_ARG_VALUE. */
  mptcp?: MptcpModeOption;
  localAddress?: string;
  localPort?: number;
  /** Connect timeout in ms: if not connected by then, 'timeout' is emitted and the socket is destroyed with ETIMEDOUT. */
  timeout?: number;
  /** Address family for host-name lookups (4 or 6; default: every address the resolver gives). */
  family?: 0 | 4 | 6;
  /** getaddrinfo hints, as net. */
  hints?: number;
  /** Host-name resolver, net-style (default dns.lookup). */
  lookup?: LookupFunction;
  /** Happy Eyeballs over the resolved addresses (default: net.getDefaultAutoSelectFamily()). */
  autoSelectFamily?: boolean;
  /** Delay before the next address is tried in parallel (default: net's, 250 ms). */
  autoSelectFamilyAttemptTimeout?: number;
  allowHalfOpen?: boolean;
  /** Aborting destroys the socket with an AbortError, as net. */
  signal?: AbortSignal;
}

/** How each client socket was created (for mptcpStatus). */
export const clientSockets = new WeakMap<net.Socket, CreatedSocket>();

interface InternalSocketOptions extends net.SocketConstructorOpts {
  /** net-internal (used by child_process and tls): do not start reading in the constructor. */
  manualStart?: boolean;
}

interface Target {
  address: string;
  family: IpFamily;
}

/** net's 'lookup' event arguments: (err, address, family, host). */
type LookupEmitter = (err: Error | null, address: string | undefined, family: number | string | undefined) => void;

function resolveAll(
  host: string,
  options: MptcpConnectOptions,
  all: boolean,
  emitLookup: LookupEmitter,
): Promise<Target[]> {
  const lookup = options.lookup ?? (dnsLookup as unknown as LookupFunction);
  const query = {
    family: options.family ?? 0,
    ...(options.hints === undefined ? {} : { hints: options.hints }),
    ...(all ? { all: true } : {}),
  };
  return new Promise((ok, fail) => {
    lookup(host, query, (err, address, family) => {
      if (err) {
        emitLookup(err, undefined, undefined);
        fail(err);
        return;
      }
      const list = Array.isArray(address) ? address : [{ address, family: family ?? (address.includes(':') ? 6 : 4) }];
      // As net: one 'lookup' event per address the resolver gave, before any is tried.
      for (const a of list) emitLookup(null, a?.address, a?.family);
      if (list.length === 0 || list.some((a) => typeof a?.address !== 'string' || a.address === '')) {
        // A resolver that answered nothing: as getaddrinfo's "no such name", never a hang.
        const e = nodeError(Error, 'ENOTFOUND', `getaddrinfo ENOTFOUND ${host}`);
        Object.assign(e, { syscall: 'getaddrinfo', hostname: host });
        fail(e);
        return;
      }
      // As net: answers that are not IP addresses are skipped; none at all is ERR_INVALID_IP_ADDRESS.
      const valid = list.filter((a) => net.isIP(a.address) !== 0);
      if (valid.length === 0) {
        fail(nodeError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${list[0]?.address}`));
        return;
      }
      ok(valid.map((a) => ({ address: a.address, family: net.isIP(a.address) === 6 ? 'inet6' : 'inet' })));
    });
  });
}

/** Interleaves families starting with the first one's, as net does for Happy Eyeballs. */
function interleave(targets: Target[]): Target[] {
  const first = targets[0]?.family;
  const a = targets.filter((t) => t.family === first);
  const b = targets.filter((t) => t.family !== first);
  const out: Target[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x) out.push(x);
    if (y) out.push(y);
  }
  return out;
}

function errorSocket(err: unknown, listener?: () => void): net.Socket {
  const socket = new net.Socket();
  if (listener) socket.once('connect', listener);
  process.nextTick(() => socket.destroy(err instanceof Error ? err : new Error(String(err))));
  return socket;
}

/** One non-blocking connect() on one fd; resolves when established, rejects with the typed error. */
interface Attempt {
  done: Promise<void>;
  cancel(): void;
}

/** net names the local end in a connect error when both localAddress and localPort were given. */
function localOf(options: MptcpConnectOptions): { local?: string } {
  return options.localAddress && options.localPort ? { local: `${options.localAddress}:${options.localPort}` } : {};
}

/** TCP_NODELAY and keepalive as setNoDelay()/setKeepAlive() left them on `from` (set ones only). */
const CARRIED_OPTIONS = [
  ['IPPROTO_TCP', 'TCP_NODELAY'],
  ['SOL_SOCKET', 'SO_KEEPALIVE'],
  ['IPPROTO_TCP', 'TCP_KEEPIDLE'],
  ['IPPROTO_TCP', 'TCP_KEEPINTVL'],
  ['IPPROTO_TCP', 'TCP_KEEPCNT'],
] as const;

/**
 * Copies what net's setNoDelay()/setKeepAlive() set on the placeholder fd (the socket's handle
 * while a host-name connect runs) to the winning connection, which dup3() then puts in its place.
 * Only options that were turned on are carried: the winner's own (from the connect options) stay.
 */
function carrySocketOptions(from: number, to: number): void {
  const native = binding();
  const get = (level: string, name: string): number | undefined => {
    const r = native.getsockoptInt(from, sysconst(level), sysconst(name));
    return typeof r === 'number' ? undefined : r.value;
  };
  const set = (level: string, name: string, value: number): void => {
    // Best effort, as before: an option the winner's protocol refuses stays its default.
    native.setsockoptInt(to, sysconst(level), sysconst(name), value);
  };
  if (get('IPPROTO_TCP', 'TCP_NODELAY') === 1) set('IPPROTO_TCP', 'TCP_NODELAY', 1);
  if (get('SOL_SOCKET', 'SO_KEEPALIVE') !== 1) return;
  for (const [level, name] of CARRIED_OPTIONS.slice(1)) {
    const v = get(level, name);
    if (v !== undefined) set(level, name, v);
  }
}

function startAttempt(fd: number, target: Target, port: number, options: MptcpConnectOptions): Attempt {
  const native = binding();
  let watcher: FdWatcher | undefined;
  let pollFd = -1;
  const cancel = (): void => {
    watcher?.stop();
    watcher = undefined;
    if (pollFd >= 0) native.close(pollFd);
    pollFd = -1;
  };
  const done = new Promise<void>((resolve, reject) => {
    if (options.localAddress !== undefined || options.localPort !== undefined) {
      const local = options.localAddress ?? (target.family === 'inet6' ? '::' : '0.0.0.0');
      if (net.isIP(local) !== (target.family === 'inet6' ? 6 : 4)) {
        // The kernel's answer to a local address of the other family, as net reports it.
        reject(netSyscallError(22 /* EINVAL */, { syscall: 'bind', address: local, port: options.localPort ?? 0 }));
        return;
      }
      const r = native.bind(fd, { family: target.family, address: local, port: options.localPort ?? 0 });
      if (r < 0) {
        reject(netSyscallError(-r, { syscall: 'bind', address: local, port: options.localPort ?? 0 }));
        return;
      }
    }
    // Before the handshake, so the window can open from the first round trip (write-path.ts).
    if (bulkTuningFor('client')) {
      presetBulkReceiveBuffer(fd);
      presetBulkSendBuffer(fd);
    }
    const r = native.connect(fd, { family: target.family, address: target.address, port });
    if (r === 0) {
      resolve();
      return;
    }
    if (errnoName(-r) !== 'EINPROGRESS') {
      reject(netSyscallError(-r, { syscall: 'connect', address: target.address, port, ...localOf(options) }));
      return;
    }
    // Poll a duplicate, so the watcher never shares an fd number with libuv's TCP handle.
    const dup = native.dup(fd);
    if (dup < 0) {
      reject(syscallError(-dup, { syscall: 'fcntl' }));
      return;
    }
    pollFd = dup;
    watcher = watchWritable(dup, (error) => {
      cancel();
      // libuv reports POLLERR as EBADF: the real reason is in SO_ERROR.
      const so = native.getsockoptInt(fd, sysconst('SOL_SOCKET'), sysconst('SO_ERROR'));
      const soError = typeof so === 'number' ? -so : so.value;
      if (soError !== 0)
        reject(netSyscallError(soError, { syscall: 'connect', address: target.address, port, ...localOf(options) }));
      else if (error) reject(error);
      else resolve();
    });
  });
  return { done, cancel };
}

/**
 * Opens an MPTCP (or TCP, per `mptcp` and NODE_MPTCP=0) connection and returns the net.Socket at
 * once. Emits 'connect' when established; 'error' with an MptcpSocketError otherwise.
 */
export function connect(options: MptcpConnectOptions, connectListener?: () => void): net.Socket {
  // Thrown synchronously with net's codes (ERR_SOCKET_BAD_PORT, ERR_INVALID_ARG_TYPE…), as net.connect.
  validateConnectOptions(options);
  if (connectListener !== undefined && typeof connectListener !== 'function') {
    throw invalidArgType('listener', 'of type function', connectListener);
  }
  return dial(options, connectListener, validateMptcp(options.mptcp) ?? 'prefer');
}

/**
 * The shared dialer: `requested` undefined means the NODE_MPTCP dialer default (the register hook
 * and the agents use that); connect() passes 'prefer' unless told otherwise.
 */
export function dial(
  options: MptcpConnectOptions,
  connectListener: (() => void) | undefined,
  requested: MptcpMode | undefined,
): net.Socket {
  validateConnectOptions(options);
  // As net: `options.host || 'localhost'` (an empty host is localhost), a numeric string port is a port.
  const host = options.host || 'localhost';
  const port = validatePort(options.port);
  if (requested !== undefined) requested = validateMptcp(requested);
  // MPTCP_READ_PATH is read when connect() is called, as NODE_MPTCP is (read-path.ts).
  const readPath = !readPathDisabled();
  let mode: MptcpMode;
  try {
    mode = effectiveMode('dialer', requested);
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
    if (options.family !== undefined) plain.family = options.family;
    if (options.signal !== undefined) plain.signal = options.signal;
    return net.connect(plain, connectListener);
  }
  const native = binding();
  const literal = ipSockAddr(host, port);
  const literalTarget: Target | undefined =
    literal && (literal.family === 'inet' || literal.family === 'inet6')
      ? { address: literal.address, family: literal.family }
      : undefined;
  const socketOptions = pickSocketOptions(options);
  const create = (family: IpFamily): CreatedSocket =>
    createConfiguredSocket(
      { family, kind: 'stream', role: 'dialer', warn: true, ...(requested === undefined ? {} : { mptcp: requested }) },
      { apply: socketOptions },
      'dial',
    );

  // The fd the net.Socket is built on: the real socket when the target is known now, else a
  // placeholder that dup3() replaces with the winning connection.
  let created: CreatedSocket | undefined;
  let fd: number;
  try {
    if (literalTarget) {
      created = create(literalTarget.family);
      fd = created.fd;
    } else {
      const r = native.socket(sysconst('AF_INET'), sysconst('SOCK_STREAM'), 0);
      if (r < 0) throw syscallError(-r, { syscall: 'socket' });
      fd = r;
    }
  } catch (err) {
    return errorSocket(err, connectListener);
  }

  const ctorOptions: InternalSocketOptions = { fd, manualStart: true, readable: true, writable: true };
  if (options.allowHalfOpen !== undefined) ctorOptions.allowHalfOpen = options.allowHalfOpen;
  const socket = new net.Socket(ctorOptions);
  setConnecting(socket, true);
  if (created) clientSockets.set(socket, created);
  if (connectListener) socket.once('connect', connectListener);

  const pending = new Set<{ attempt: Attempt; fd: number; own: boolean }>();
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const cleanup = (): void => {
    settled = true;
    for (const p of pending) {
      p.attempt.cancel();
      if (p.own) native.close(p.fd);
    }
    pending.clear();
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const fail = (err: unknown): void => {
    if (settled) return;
    cleanup();
    socket.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  // Called from process.nextTick, outside any promise: an exception thrown by a 'connect' listener
  // reaches 'uncaughtException' (or ends the process), as it does from net's libuv callback.
  const succeed = (): void => {
    if (settled || socket.destroyed) return;
    cleanup();
    try {
      setConnecting(socket, false);
      // MPTCP sender stall workarounds (write-path.ts); no-ops for a TCP fallback.
      if (!writePathDisabled()) useMptcpWritePath(socket);
      else if (bulkTuningFor('client')) useMptcpBulkTuning(socket);
      if (readPath) useMptcpReadPath(socket);
      if (options.noDelay) socket.setNoDelay(true);
      if (options.keepAlive) socket.setKeepAlive(true, options.keepAliveInitialDelay ?? 0);
    } catch (err) {
      socket.destroy(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    socket.emit('connect');
    socket.emit('ready');
    if (!socket.isPaused()) socket.read(0);
  };
  // As net: aborting destroys the socket with an AbortError at any time, connected or not.
  const onAbort = (): void => {
    const reason: unknown = options.signal?.reason;
    const err = new Error('The operation was aborted', { cause: reason });
    err.name = 'AbortError';
    (err as Error & { code: string }).code = 'ABORT_ERR';
    if (!settled) fail(err);
    else if (!socket.destroyed) socket.destroy(err);
  };
  if (options.signal) {
    const signal = options.signal;
    if (signal.aborted) {
      process.nextTick(onAbort);
      return socket;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  // The user may destroy the socket while it is connecting.
  socket.once('close', () => {
    if (!settled) cleanup();
  });
  if (options.timeout !== undefined && options.timeout > 0) {
    timer = setTimeout(() => {
      if (settled) return;
      socket.emit('timeout');
      fail(
        syscallError(110, {
          syscall: 'connect',
          address: host,
          port,
          detail: `(no answer within ${options.timeout} ms)`,
        }),
      );
    }, options.timeout);
  }

  /** Attempts on fresh fds, staggered (Happy Eyeballs); the winner is moved onto `fd`. */
  const race = (targets: Target[]): Promise<void> => {
    const stagger =
      (options.autoSelectFamily ?? net.getDefaultAutoSelectFamily())
        ? (options.autoSelectFamilyAttemptTimeout ?? net.getDefaultAutoSelectFamilyAttemptTimeout())
        : undefined;
    const list = stagger === undefined ? targets.slice(0, 1) : interleave(targets);
    return new Promise<void>((resolve, reject) => {
      let next = 0;
      let failures = 0;
      let lastError: unknown;
      let staggerTimer: NodeJS.Timeout | undefined;
      const launch = (): void => {
        if (staggerTimer) clearTimeout(staggerTimer);
        staggerTimer = undefined;
        if (settled || socket.destroyed || next >= list.length) return;
        const target = list[next++] as Target;
        let made: CreatedSocket;
        try {
          made = create(target.family);
        } catch (err) {
          lastError = err;
          failures++;
          if (failures === list.length) reject(lastError);
          else launch();
          return;
        }
        const entry = { attempt: startAttempt(made.fd, target, port, options), fd: made.fd, own: true };
        pending.add(entry);
        entry.attempt.done.then(
          () => {
            if (staggerTimer) clearTimeout(staggerTimer);
            pending.delete(entry);
            if (settled || socket.destroyed) {
              native.close(made.fd);
              return;
            }
            carrySocketOptions(fd, made.fd);
            const r = native.dup3(made.fd, fd);
            native.close(made.fd);
            if (r < 0) {
              reject(syscallError(-r, { syscall: 'dup3' }));
              return;
            }
            created = { ...made, fd };
            clientSockets.set(socket, created);
            resolve();
          },
          (err: unknown) => {
            pending.delete(entry);
            native.close(made.fd);
            lastError = err;
            failures++;
            if (failures === list.length) reject(lastError);
            else launch();
          },
        );
        if (stagger !== undefined && next < list.length) staggerTimer = setTimeout(launch, stagger);
      };
      launch();
    });
  };

  const start = async (): Promise<void> => {
    // Never emit 'connect' or 'error' before connect() has returned, as net does.
    await new Promise<void>((resolve) => process.nextTick(resolve));
    if (settled || socket.destroyed) return;
    if (literalTarget) {
      const attempt = startAttempt(fd, literalTarget, port, options);
      const entry = { attempt, fd, own: false };
      pending.add(entry);
      await attempt.done;
      pending.delete(entry);
    } else {
      const targets = await resolveAll(
        host,
        options,
        options.autoSelectFamily ?? net.getDefaultAutoSelectFamily(),
        (err, address, family) => {
          if (!settled && !socket.destroyed) socket.emit('lookup', err, address, family, host);
        },
      );
      if (settled || socket.destroyed) return;
      await race(targets);
    }
  };
  start().then(
    () => process.nextTick(succeed),
    (err: unknown) => {
      if (err instanceof MptcpSocketError) {
        fail(err);
      } else if (err instanceof Error && 'code' in err) {
        fail(err); // dns errors (ENOTFOUND…) as net reports them
      } else {
        // Not a syscall's failure: the error itself, never dressed up as an errno.
        fail(err);
      }
    },
  );
  return socket;
}

/**
 * net.connect()'s argument forms — (options[, cb]), (port[, host][, cb]) — as options for dial();
 * undefined for the forms that are not TCP (path, fd, an existing socket) or use options dial()
 * does not implement (onread), which go to net unchanged.
 */
export function parseConnectArgs(args: unknown[]): { options: MptcpConnectOptions; callback?: () => void } | undefined {
  const list = args.slice();
  const callback = typeof list[list.length - 1] === 'function' ? (list.pop() as () => void) : undefined;
  const first = list[0];
  let raw: Record<string, unknown>;
  if (typeof first === 'object' && first !== null) {
    raw = { ...(first as Record<string, unknown>) };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    raw = { port: Number(first), ...(typeof list[1] === 'string' ? { host: list[1] } : {}) };
  } else {
    return undefined;
  }
  // (http.Agent passes path: null for TCP: only a real value means a pipe.)
  if (raw['path'] != null || raw['fd'] != null || raw['onread'] != null || raw['socket'] != null) return undefined;
  const port = Number(raw['port']);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined; // let net report it
  // net's `timeout` is an idle timeout (socket.setTimeout), not a connect timeout: the caller sets it.
  delete raw['timeout'];
  return callback
    ? { options: { ...(raw as unknown as MptcpConnectOptions), port }, callback }
    : { options: { ...(raw as unknown as MptcpConnectOptions), port } };
}

/**
 * A drop-in for net.connect/net.createConnection: the same arguments and semantics (`timeout` is
 * socket.setTimeout), over MPTCP per `mptcp` (undefined: the NODE_MPTCP dialer default).
 */
export function netCompatibleConnect(
  args: unknown[],
  requested: MptcpMode | undefined,
  fallback: (...a: unknown[]) => net.Socket,
): net.Socket {
  const parsed = parseConnectArgs(args);
  if (!parsed) return fallback(...args);
  const first = args[0];
  const idle = typeof first === 'object' && first !== null ? (first as { timeout?: unknown }).timeout : undefined;
  const socket = dial(parsed.options, parsed.callback, requested);
  if (typeof idle === 'number' && idle > 0) socket.setTimeout(idle);
  return socket;
}
