/**
 * The syscalls the engine needs from @mptcp/native, behind one small interface. The engine takes an
 * implementation in its options (tests and benchmarks can count calls), and otherwise loads the real
 * addon on first use — so that importing @mptcp/activation never loads a .node file by itself.
 */
import type { AcceptedConnection, OpenSocketSpec, OpenedSocket, PeerCredentials } from './native-types.js';
import { ActivationError, messageOf } from './errors.js';

/** A readiness watch on one fd; `stop()` is idempotent. */
export interface ReadableWatch {
  stop(): void;
}

export interface NativeApi {
  openSocket(spec: OpenSocketSpec): OpenedSocket;
  /** Calls `onReadable` each time the fd polls readable (level-triggered), until stopped. */
  watchReadable(fd: number, onReadable: () => void): ReadableWatch;
  /** accept4(SOCK_NONBLOCK|SOCK_CLOEXEC); null when nothing is queued (EAGAIN). */
  accept(fd: number): AcceptedConnection | null;
  close(fd: number): void;
  setNonBlocking(fd: number, on: boolean): void;
  setCloexec(fd: number, on: boolean): void;
  socketProtocol(fd: number): number;
  peerCredentials(fd: number): PeerCredentials | null;
}

let loaded: Promise<NativeApi> | undefined;

/** Loads @mptcp/native once, adapting it to {@link NativeApi}. */
export function loadNative(): Promise<NativeApi> {
  loaded ??= import('@mptcp/native').then(
    (mod) => adaptNative(mod as unknown as Record<string, unknown>),
    (err: unknown) => {
      loaded = undefined;
      throw new ActivationError('NATIVE_UNAVAILABLE', `@mptcp/native could not be loaded: ${messageOf(err)}`, { cause: err });
    },
  );
  return loaded;
}

type Fn = (...args: unknown[]) => unknown;

function need(mod: Record<string, unknown>, name: string): Fn {
  const f = mod[name];
  if (typeof f !== 'function') {
    throw new ActivationError('NATIVE_UNAVAILABLE', `@mptcp/native does not export ${name}() (is the addon built? run the native build)`);
  }
  return f as Fn;
}

/** Wraps the module's exports; the shape checks give one clear error instead of a TypeError later. */
export function adaptNative(mod: Record<string, unknown>): NativeApi {
  const openSocket = need(mod, 'openSocket');
  const watchReadable = need(mod, 'watchReadable');
  const accept = need(mod, 'accept');
  const close = need(mod, 'close');
  const setNonBlocking = need(mod, 'setNonBlocking');
  const setCloexec = need(mod, 'setCloexec');
  const socketProtocol = need(mod, 'socketProtocol');
  const peerCredentials = need(mod, 'peerCredentials');
  return {
    openSocket: (spec) => openSocket(spec) as OpenedSocket,
    watchReadable: (fd, cb) => toWatch(watchReadable(fd, cb)),
    accept: (fd) => (accept(fd) as AcceptedConnection | null | undefined) ?? null,
    close: (fd) => void close(fd),
    setNonBlocking: (fd, on) => void setNonBlocking(fd, on),
    setCloexec: (fd, on) => void setCloexec(fd, on),
    socketProtocol: (fd) => socketProtocol(fd) as number,
    peerCredentials: (fd) => (peerCredentials(fd) as PeerCredentials | null | undefined) ?? null,
  };
}

/** The addon may return a handle with stop()/close(), or a plain function that stops the watch. */
function toWatch(handle: unknown): ReadableWatch {
  let stopped = false;
  const stopFn = (): void => {
    if (typeof handle === 'function') (handle as () => void)();
    else if (typeof handle === 'object' && handle !== null) {
      const h = handle as { stop?: () => void; close?: () => void };
      if (typeof h.stop === 'function') h.stop();
      else if (typeof h.close === 'function') h.close();
    }
  };
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      stopFn();
    },
  };
}
