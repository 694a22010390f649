/**
 * A zero-copy relay between two connected stream sockets (TCP, MPTCP, AF_UNIX), as
 * systemd-socket-proxyd does it: splice(2) through a pipe in each direction, driven by libuv
 * polling on the event loop inside the addon (no thread per relay, no byte in JS).
 */
import type * as net from 'node:net';
import { binding, type SpliceRelayHandle } from './binding.js';
import { check, errnoName, MptcpSocketError, syscallError } from './errors.js';
import { fdOf } from './fd.js';

export interface SpliceRelayOptions {
  /** Aborting closes both sockets at once and rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Whether the running relay keeps the event loop alive (default true). */
  ref?: boolean;
}

/** Bytes delivered in each direction. */
export interface SpliceRelayResult {
  /** From fdA's peer to fdB's peer. */
  aToB: number;
  /** From fdB's peer to fdA's peer. */
  bToA: number;
}

/** A relay that failed: `code` is the errno name (ECONNRESET, EPIPE…); the bytes moved until then. */
export class SpliceRelayError extends MptcpSocketError {
  readonly aToB: number;
  readonly bToA: number;

  constructor(errno: number, aToB: number, bToA: number) {
    const base = syscallError(errno, { syscall: 'splice', detail: `after ${aToB} + ${bToA} bytes` });
    super({ code: base.code, errno: base.errno, message: base.message, syscall: 'splice' });
    this.name = 'SpliceRelayError';
    this.aToB = aToB;
    this.bToA = bToA;
  }
}

/** Whether the loaded addon has the relay (an older development build may not). */
export function spliceRelayAvailable(): boolean {
  try {
    return typeof binding().spliceRelay === 'function';
  } catch {
    return false;
  }
}

/**
 * Takes a connected socket's fd away from node:net: dup(2) (close-on-exec), then the net.Socket is
 * destroyed (its own fd closes; the connection stays open on the returned fd, which the caller
 * owns). Use it on a socket that has read nothing yet (a server's `pauseOnConnect`, or a client
 * paused before 'connect') and has nothing left to write: bytes buffered in node:net would be
 * lost, so that throws.
 */
export function detachSocket(socket: net.Socket): number {
  if (socket.readableLength > 0 || socket.writableLength > 0)
    throw new MptcpSocketError({
      code: 'EBUSY',
      errno: 16,
      message: `detachSocket: node:net still holds ${socket.readableLength} bytes read and ${socket.writableLength} to write`,
    });
  const fd = check(binding().dup(fdOf(socket)), { syscall: 'dup' });
  socket.destroy();
  return fd;
}

// Running relays stay reachable so their handles are not collected while the promise is pending.
const running = new Set<SpliceRelayHandle>();

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/**
 * Relays bytes between the connected stream sockets `fdA` and `fdB` until both directions have
 * ended: an EOF read from one side is passed on as shutdown(SHUT_WR) to the other once everything
 * before it was delivered (half-close), and the other direction keeps flowing. Resolves with the
 * byte counts; rejects with a {@link SpliceRelayError} (errno name, syscall 'splice') on the first
 * socket error, or with `signal.reason` when aborted.
 *
 * The relay takes both fds: it makes them non-blocking and closes them when the promise settles,
 * whatever the outcome (also when it cannot start). They must not be watched by anything else on
 * this event loop: a net.Socket given instead of an fd is detached first ({@link detachSocket}).
 */
export function spliceRelay(
  a: number | net.Socket,
  b: number | net.Socket,
  options: SpliceRelayOptions = {},
): Promise<SpliceRelayResult> {
  let fdA: number;
  let fdB: number;
  try {
    fdA = typeof a === 'number' ? a : detachSocket(a);
    fdB = typeof b === 'number' ? b : detachSocket(b);
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  if (!Number.isInteger(fdA) || !Number.isInteger(fdB) || fdA < 0 || fdB < 0)
    return Promise.reject(new TypeError('spliceRelay: fdA and fdB must be open file descriptors'));
  const native = binding();
  const { signal } = options;
  if (signal?.aborted) {
    native.close(fdA);
    native.close(fdB);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<SpliceRelayResult>((resolve, reject) => {
    const state: { handle?: SpliceRelayHandle; settled: boolean } = { settled: false };
    const onAbort = (): void => {
      if (state.handle) native.spliceRelayAbort(state.handle);
    };
    const r = native.spliceRelay(fdA, fdB, (errno, aToB, bToA) => {
      state.settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (state.handle) running.delete(state.handle);
      if (errno === 0) resolve({ aToB, bToA });
      else if (signal?.aborted && errnoName(errno) === 'ECANCELED') reject(abortReason(signal));
      else reject(new SpliceRelayError(errno, aToB, bToA));
    });
    if (typeof r === 'number') {
      native.close(fdA);
      native.close(fdB);
      reject(syscallError(-r, { syscall: 'splice' }));
      return;
    }
    if (state.settled) return;
    state.handle = r;
    running.add(r);
    if (options.ref === false) native.spliceRelayRef(r, false);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
