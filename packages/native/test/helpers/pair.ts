/** A connected MPTCP pair over loopback, for tests of what one connection does. */
import type * as net from 'node:net';
import { connect, listen } from '../../src/index.js';
import { connected, listening } from './net.js';

/**
 * Listens on 127.0.0.1 (MPTCP required), connects to it and resolves with the client and the accepted
 * socket. The listener is pushed onto `servers`, which the test closes.
 */
export async function mptcpPair(servers: net.Server[]): Promise<{ client: net.Socket; server: net.Socket }> {
  const srv = listen({ host: '127.0.0.1', port: 0, mptcp: 'require' });
  servers.push(srv);
  const port = await listening(srv);
  const accepted = new Promise<net.Socket>((resolve) => srv.once('connection', resolve));
  const client = connect({ host: '127.0.0.1', port, mptcp: 'require' });
  await connected(client);
  return { client, server: await accepted };
}
