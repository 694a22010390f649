/**
 * The one place that reads Node internals: the fd behind a net.Socket / net.Server is
 * `_handle.fd` (Linux; libuv's uv_fileno), and an accepted socket knows its server as `.server`.
 */
import type * as net from 'node:net';
import { MptcpSocketError } from './errors.js';

interface WithHandle {
  _handle?: { fd?: unknown } | null;
}

/** Something that has (or is) a socket file descriptor. */
export type FdLike = net.Socket | net.Server | number;

/** The fd, or undefined when there is none (not connected yet, or closed). */
export function tryFdOf(target: FdLike): number | undefined {
  if (typeof target === 'number') return target;
  const fd = (target as unknown as WithHandle)._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** The fd, or throws EBADF with an explanation. */
export function fdOf(target: FdLike): number {
  const fd = tryFdOf(target);
  if (fd === undefined) {
    throw new MptcpSocketError({
      code: 'EBADF',
      errno: 9,
      message: 'the socket has no file descriptor (not connected yet, or already closed)',
    });
  }
  return fd;
}

/** The server that accepted this socket, if any (net sets socket.server in onconnection). */
export function acceptingServer(socket: net.Socket): net.Server | undefined {
  const server = (socket as unknown as { server?: unknown }).server;
  return server !== null && typeof server === 'object' ? (server as net.Server) : undefined;
}

/**
 * net.Socket#connecting is typed read-only but is a plain property that net itself flips; while it
 * is true, net queues writes, reads and end() until 'connect'.
 */
export function setConnecting(socket: net.Socket, connecting: boolean): void {
  (socket as unknown as { connecting: boolean }).connecting = connecting;
}
