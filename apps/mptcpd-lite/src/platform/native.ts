/**
 * The one place the app touches @mptcp/native. The contract (packages/native/src/types.ts) names the
 * functions; while the addon is being written some may be missing, so each is looked up at run time
 * and a missing one fails with NATIVE_MISSING naming it — the commands then fall back or explain.
 */
import type { Socket } from 'node:net';
import * as nativeModule from '@mptcp/native';

export type {
  MptcpInfo,
  MptcpMode,
  MptcpStatus,
  MptcpSupport,
  OpenSocketSpec,
  OpenedSocket,
  PeerCredentials,
  SockAddr,
  SubflowInfo,
} from './native-types.js';
import type { AcceptedConnection, MptcpInfo, MptcpStatus, MptcpSupport, OpenSocketSpec, OpenedSocket, PeerCredentials, SubflowInfo } from './native-types.js';

/** What the app calls, with the shapes the app expects. */
export interface NativeApi {
  mptcpSupport(): MptcpSupport;
  openSocket(spec: OpenSocketSpec): OpenedSocket;
  peerCredentials(fd: number): PeerCredentials;
  netlinkRequest(protocol: number, message: Buffer): Buffer[];
  mptcpStatus(target: Socket | number): MptcpStatus;
  mptcpInfo(target: Socket | number): MptcpInfo | null;
  subflows(target: Socket | number): SubflowInfo[];
  /** Calls onReadable while the fd polls readable (level-triggered); the handle stops it. */
  watchReadable(fd: number, onReadable: () => void): unknown;
  /** accept4(SOCK_NONBLOCK|SOCK_CLOEXEC); null on EAGAIN. */
  accept(fd: number): AcceptedConnection | null;
  close(fd: number): void;
  setNonBlocking(fd: number, on: boolean): void;
  setCloexec(fd: number, on: boolean): void;
  /** Optional (asked for): send one AF_UNIX datagram from this process. */
  sendDatagram(path: string, data: Buffer): void;
}

export class NativeMissingError extends Error {
  readonly code = 'NATIVE_MISSING';
  constructor(readonly fn: string) {
    super(`@mptcp/native does not provide ${fn}() (yet); rebuild the workspace or update @mptcp/native`);
  }
}

const mod = nativeModule as unknown as Record<string, unknown>;

/** The function `name` of the addon, or undefined when this build of @mptcp/native lacks it. */
export function nativeFn<K extends keyof NativeApi>(name: K): NativeApi[K] | undefined {
  const fn = mod[name];
  return typeof fn === 'function' ? (fn as NativeApi[K]) : undefined;
}

/** The function `name`, or a NativeMissingError. */
export function requireNative<K extends keyof NativeApi>(name: K): NativeApi[K] {
  const fn = nativeFn(name);
  if (!fn) throw new NativeMissingError(name);
  return fn;
}

export function hasNative(name: keyof NativeApi): boolean {
  return nativeFn(name) !== undefined;
}

/** The fd behind a node:net socket (Linux: the libuv handle's fd). */
export function socketFd(socket: Socket): number | undefined {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

/** Compile-time check that @mptcp/native provides what the app calls (sendDatagram is still a request). */
export const NATIVE_CONFORMS: Omit<NativeApi, 'sendDatagram'> = nativeModule;
