import type * as net from 'node:net';
import { once } from 'node:events';

/** Resolves with the port once the server listens. */
export async function listening(server: net.Server): Promise<number> {
  if (!server.listening) {
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([e]: unknown[]) => {
        throw e;
      }),
    ]);
  }
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no address');
  return a.port;
}

/** Resolves once the socket is connected; rejects with its 'error'. */
export function connected(socket: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
}

/** Sends `data`, ends, and collects everything the peer sends back until it ends. */
export async function roundTrip(socket: net.Socket, data: Buffer | string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = once(socket, 'end');
  socket.end(data);
  await ended;
  return Buffer.concat(chunks);
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** An error's code, for expectations. */
export function codeOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}
