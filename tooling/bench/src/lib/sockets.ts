/**
 * Stream sockets for the benchmarks: plain TCP through node:net, MPTCP through @mptcp/native
 * (`createServer`/`connect` with `mptcp: 'require'`, so a silent fallback can never pass for
 * MPTCP). Everything else (buffers, loops, hashing) is shared, so the comparison is only the socket.
 */
import * as net from 'node:net';

type Mode = 'require' | 'prefer' | false;
interface NativeApi {
  createServer(o: { mptcp?: Mode }): net.Server;
  connect(o: { host: string; port: number; mptcp?: Mode }): net.Socket;
  mptcpStatus?(s: net.Socket): { active: boolean } | boolean;
}

let nativeMod: Promise<NativeApi> | undefined;

/** @mptcp/native, loaded on first MPTCP use (plain TCP runs never load the addon). */
export function native(): Promise<NativeApi> {
  nativeMod ??= import('@mptcp/native').then((m) => {
    const mod = m as unknown as Partial<NativeApi>;
    if (typeof mod.createServer !== 'function' || typeof mod.connect !== 'function') {
      throw new Error('@mptcp/native does not export createServer()/connect() (not landed or not built)');
    }
    return mod as NativeApi;
  });
  return nativeMod;
}

export type Transport = 'tcp' | 'mptcp';

/** Listen on host:port; resolves once listening. */
export async function listen(transport: Transport, host: string, port: number): Promise<net.Server> {
  const server = transport === 'tcp' ? net.createServer() : (await native()).createServer({ mptcp: 'require' });
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
  const sock = transport === 'tcp' ? net.connect({ host, port }) : (await native()).connect({ host, port, mptcp: 'require' });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      resolve();
    });
  });
  return sock;
}

/** Whether a connected socket really runs MPTCP (null when the addon cannot tell). */
export async function isMptcp(sock: net.Socket): Promise<boolean | null> {
  const mod = await native().catch(() => null);
  if (!mod?.mptcpStatus) return null;
  try {
    const r = mod.mptcpStatus(sock);
    return typeof r === 'boolean' ? r : Boolean(r.active);
  } catch {
    return null;
  }
}
