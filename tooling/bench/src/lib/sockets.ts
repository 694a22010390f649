/**
 * Stream sockets for the benchmarks: plain TCP through node:net, MPTCP through @mptcp/native
 * (`createServer`/`connect` with `mptcp: 'require'`, so a silent fallback can never pass for
 * MPTCP). Everything else (buffers, loops, hashing) is shared, so the comparison is only the socket.
 */
import * as net from 'node:net';
import { connect as mptcpConnect, createServer as mptcpCreateServer, mptcpStatus } from '@mptcp/native';

export type Transport = 'tcp' | 'mptcp';

/** Listen on host:port; resolves once listening. */
export async function listen(transport: Transport, host: string, port: number): Promise<net.Server> {
  const server = transport === 'tcp' ? net.createServer() : mptcpCreateServer({ mptcp: 'require' });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 511 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Connect to host:port; resolves once connected. */
export async function connect(transport: Transport, host: string, port: number): Promise<net.Socket> {
  const sock = transport === 'tcp' ? net.connect({ host, port }) : mptcpConnect({ host, port, mptcp: 'require' });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      resolve();
    });
  });
  return sock;
}

/** Whether a connected socket really runs MPTCP (TCP_IS_MPTCP / MPTCP_INFO through the addon). */
export function isMptcp(sock: net.Socket): boolean {
  return mptcpStatus(sock).active;
}
