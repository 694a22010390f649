/**
 * Stream sockets for the benchmarks: plain TCP through node:net, MPTCP through @mptcp/native. The
 * benchmark compares exactly these two, so everything else (buffers, loops, hashing) is shared.
 */
import { createServer, Socket, type Server } from 'node:net';
import { IPPROTO_MPTCP } from '@mptcp/constants';

type NativeModule = Record<string, unknown>;
let nativeMod: Promise<NativeModule> | undefined;

/** @mptcp/native, loaded on first MPTCP use (plain TCP runs never load the addon). */
export function native(): Promise<NativeModule> {
  nativeMod ??= import('@mptcp/native').then((m) => m as unknown as NativeModule);
  return nativeMod;
}

function fn<T extends (...a: never[]) => unknown>(mod: NativeModule, name: string): T {
  const f = mod[name];
  if (typeof f !== 'function') throw new Error(`@mptcp/native does not export ${name}() yet`);
  return f as T;
}

export type Transport = 'tcp' | 'mptcp';

/** Listen on host:port; resolves once listening. */
export async function listen(transport: Transport, host: string, port: number): Promise<Server> {
  const server = createServer({ noDelay: false });
  if (transport === 'tcp') {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, backlog: 511 }, resolve);
    });
    return server;
  }
  const mod = await native();
  const openSocket = fn<(spec: unknown) => { fd: number }>(mod, 'openSocket');
  const { fd } = openSocket({
    kind: 'stream',
    address: { family: host.includes(':') ? 'inet6' : 'inet', address: host, port },
    protocol: IPPROTO_MPTCP,
    backlog: 511,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, resolve);
  });
  return server;
}

/** Connect to host:port; resolves once connected. */
export async function connect(transport: Transport, host: string, port: number): Promise<Socket> {
  let sock: Socket;
  if (transport === 'tcp') {
    sock = new Socket();
  } else {
    const mod = await native();
    const createSocket = fn<(o: unknown) => { fd: number } | number>(mod, 'createSocket');
    const r = createSocket({ family: host.includes(':') ? 'inet6' : 'inet', protocol: IPPROTO_MPTCP });
    sock = new Socket({ fd: typeof r === 'number' ? r : r.fd, readable: true, writable: true });
  }
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.connect({ host, port }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  return sock;
}

/** Whether a connected socket really runs MPTCP (null when the addon cannot tell). */
export async function isMptcp(sock: Socket): Promise<boolean | null> {
  const mod = await native().catch(() => null);
  const f = mod?.mptcpStatus ?? mod?.isMptcp;
  if (typeof f !== 'function') return null;
  const r = (f as (s: Socket) => unknown)(sock);
  if (typeof r === 'boolean') return r;
  if (typeof r === 'object' && r !== null && 'active' in r) return Boolean((r as { active: unknown }).active);
  return null;
}
