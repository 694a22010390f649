/**
 * The proxy engine behind `mptcpd-lite proxy` (systemd-socket-proxyd's job, MPTCP-aware): accept on
 * the given listening sockets, connect each client to the backend (TCP, MPTCP or AF_UNIX), write a
 * PROXY protocol header first when asked, then relay both directions with half-close (a FIN one way
 * is passed on as shutdown(SHUT_WR), the other way keeps flowing).
 *
 * The bytes never enter JS when @mptcp/native's addon has spliceRelay() (relay 'splice', the
 * default 'auto' when it loads): once the backend is connected (and the PROXY header written), both
 * sockets are taken from node:net and relayed with splice(2) through a pipe per direction, as
 * systemd-socket-proxyd does. Without the addon (relay 'stream') they go through Node streams.
 */
import { closeSync } from 'node:fs';
import net from 'node:net';
import {
  connect as mptcpConnect,
  createServer as mptcpCreateServer,
  detachSocket,
  mptcpStatus,
  spliceRelay,
  spliceRelayAvailable,
  type MptcpMode,
} from '@mptcp/native';
import { MptcpdLiteError } from '../errors.js';
import { formatProxyAddress, type ProxyAddress } from './address.js';
import { proxyHeader, type ProxyProtocolVersion } from './proxy-protocol.js';

export type ProxyEvent =
  | {
      event: 'ready';
      listen: Array<{ address: string; transport: string }>;
      backend: string;
      relay: 'splice' | 'stream';
      pid: number;
    }
  | {
      event: 'connection';
      id: number;
      client: string;
      transport: 'mptcp' | 'tcp' | 'fallback' | 'unix';
      backendTransport?: 'mptcp' | 'tcp' | 'fallback' | 'unix';
    }
  | {
      event: 'closed';
      id: number;
      client: string;
      bytesIn: number;
      bytesOut: number;
      relay: 'splice' | 'stream';
      error?: string;
    }
  | { event: 'error'; id?: number; message: string; code?: string }
  | { event: 'idle-exit'; seconds: number };

export interface ProxyOptions {
  /** Addresses to listen on (--listen), or undefined when `listenFds` are given. */
  listen?: ProxyAddress[];
  /** Listening fds passed by socket activation (LISTEN_FDS). */
  listenFds?: number[];
  /** MPTCP mode of the sockets created for `listen`. */
  mptcp: MptcpMode;
  backend: ProxyAddress;
  backendMptcp: MptcpMode;
  proxyProtocol?: ProxyProtocolVersion | undefined;
  /** Exit after this many seconds without a connection (0 = never). */
  exitIdleTime: number;
  /** Connections beyond this are refused (closed at once). */
  connectionsMax: number;
  /** splice: zero-copy (needs the addon; fails to start without it), stream: Node streams, auto (default): splice when available. */
  relay?: 'auto' | 'splice' | 'stream';
  events(e: ProxyEvent): void;
}

export interface RunningProxy {
  /** Resolves when the proxy has stopped (idle exit or close()). */
  done: Promise<'idle' | 'closed'>;
  close(): Promise<void>;
}

function transportOf(s: net.Socket): 'mptcp' | 'tcp' | 'fallback' | 'unix' {
  if (s.remoteFamily === undefined && s.remoteAddress === undefined) return 'unix';
  try {
    const st = mptcpStatus(s);
    return st.active ? 'mptcp' : st.fallback ? 'fallback' : 'tcp';
  } catch {
    return 'tcp';
  }
}

/** 'mptcp' when the listening socket was created with IPPROTO_MPTCP (SO_PROTOCOL), else 'tcp'. */
function listenerTransport(target: net.Server | number): 'mptcp' | 'tcp' {
  try {
    return mptcpStatus(target).requested ? 'mptcp' : 'tcp';
  } catch {
    return 'tcp';
  }
}

const peer = (s: net.Socket): string =>
  s.remoteAddress
    ? s.remoteAddress.includes(':')
      ? `[${s.remoteAddress}]:${s.remotePort}`
      : `${s.remoteAddress}:${s.remotePort}`
    : 'unix';

/** The relay a proxy with these options uses; throws when 'splice' is asked for and unavailable. */
export function relayMode(asked: ProxyOptions['relay']): 'splice' | 'stream' {
  if (asked === 'stream') return 'stream';
  if (spliceRelayAvailable()) return 'splice';
  if (asked === 'splice')
    throw new MptcpdLiteError(
      'MPTCP_ADDON_UNAVAILABLE',
      '--relay splice: the @mptcp/native addon (spliceRelay) is not available',
    );
  return 'stream';
}

export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const relay = relayMode(opts.relay);
  const relays = new Set<AbortController>();
  let nextId = 1;
  let active = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  let resolveDone!: (how: 'idle' | 'closed') => void;
  const done = new Promise<'idle' | 'closed'>((r) => (resolveDone = r));
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  let stopping = false;

  const close = async (how: 'idle' | 'closed'): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (idleTimer) clearTimeout(idleTimer);
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    if (how === 'closed') {
      for (const s of sockets) s.destroy();
      for (const r of relays) r.abort();
    }
    resolveDone(how);
  };
  const armIdle = (): void => {
    if (opts.exitIdleTime <= 0 || active > 0 || stopping) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      opts.events({ event: 'idle-exit', seconds: opts.exitIdleTime });
      void close('idle');
    }, opts.exitIdleTime * 1000);
  };

  const onClient = (client: net.Socket): void => {
    const id = nextId++;
    const who = peer(client);
    if (active >= opts.connectionsMax) {
      opts.events({
        event: 'error',
        id,
        message: `${who}: refused, --connections-max ${opts.connectionsMax} reached`,
        code: 'EMFILE',
      });
      client.destroy();
      return;
    }
    active++;
    if (idleTimer) clearTimeout(idleTimer);
    const backend =
      opts.backend.kind === 'unix'
        ? net.connect({ path: opts.backend.path, allowHalfOpen: true })
        : mptcpConnect({
            host: opts.backend.host,
            port: opts.backend.port,
            mptcp: opts.backendMptcp,
            allowHalfOpen: true,
          });
    // Nothing may be read into node:net before the sockets are handed to the splice relay.
    if (relay === 'splice') backend.pause();
    sockets.add(client);
    sockets.add(backend);
    client.setNoDelay(true);
    let error: string | undefined;
    let closed = 0;
    const fail = (where: string) => (err: NodeJS.ErrnoException) => {
      error ??= `${where}: ${err.code ?? ''} ${err.message}`.trim();
      client.destroy();
      backend.destroy();
    };
    client.on('error', fail('client'));
    backend.on('error', fail(`backend ${formatProxyAddress(opts.backend)}`));
    const finish = (bytesIn: number, bytesOut: number, how: 'splice' | 'stream'): void => {
      active--;
      opts.events({ event: 'closed', id, client: who, bytesIn, bytesOut, relay: how, ...(error ? { error } : {}) });
      armIdle();
    };
    const onClose = (): void => {
      if (++closed < 2) return;
      sockets.delete(client);
      sockets.delete(backend);
      finish(client.bytesRead, client.bytesWritten, 'stream');
    };
    /** Hands both sockets to the addon's splice relay (no byte through JS from here on). */
    const startSplice = (): void => {
      if (client.destroyed || backend.destroyed) return; // failed meanwhile: onClose reports it
      client.off('close', onClose);
      backend.off('close', onClose);
      sockets.delete(client);
      sockets.delete(backend);
      let clientFd: number;
      let backendFd: number;
      try {
        clientFd = detachSocket(client);
      } catch (err) {
        error = `relay: ${(err as Error).message}`;
        client.destroy();
        backend.destroy();
        finish(0, 0, 'splice');
        return;
      }
      try {
        backendFd = detachSocket(backend);
      } catch (err) {
        error = `relay: ${(err as Error).message}`;
        closeSync(clientFd);
        backend.destroy();
        finish(0, 0, 'splice');
        return;
      }
      const ac = new AbortController();
      relays.add(ac);
      spliceRelay(clientFd, backendFd, { signal: ac.signal }).then(
        (r) => {
          relays.delete(ac);
          finish(r.aToB, r.bToA, 'splice');
        },
        (err: unknown) => {
          relays.delete(ac);
          const e = err as { code?: string; message?: string; aToB?: number; bToA?: number };
          if (!ac.signal.aborted) error ??= `relay: ${e.message ?? String(err)}`;
          finish(e.aToB ?? 0, e.bToA ?? 0, 'splice');
        },
      );
    };
    client.once('close', onClose);
    backend.once('close', onClose);
    backend.once('connect', () => {
      if (opts.backend.kind === 'inet') backend.setNoDelay(true);
      opts.events({
        event: 'connection',
        id,
        client: who,
        transport: transportOf(client),
        backendTransport: opts.backend.kind === 'unix' ? 'unix' : transportOf(backend),
      });
      if (opts.proxyProtocol) {
        const source =
          client.remoteAddress !== undefined && client.remotePort !== undefined
            ? { address: client.remoteAddress, port: client.remotePort }
            : undefined;
        const destination =
          client.localAddress !== undefined && client.localPort !== undefined
            ? { address: client.localAddress, port: client.localPort }
            : undefined;
        const header = proxyHeader(opts.proxyProtocol, { source, destination });
        // splice: the header must have left node:net before the socket is detached.
        if (relay === 'splice') {
          backend.write(header, (err) => {
            if (!err) startSplice();
          });
          return;
        }
        backend.write(header);
      }
      if (relay === 'splice') {
        startSplice();
        return;
      }
      client.pipe(backend);
      backend.pipe(client);
      client.resume();
    });
  };

  const listening: Array<{ address: string; transport: string }> = [];
  const serverOpts = { allowHalfOpen: true, pauseOnConnect: true };
  const start = (server: net.Server, arg: net.ListenOptions | { fd: number }, label: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // { fd } is the handle form of listen() (an inherited listening socket).
      server.listen(arg as net.ListenOptions, () => {
        server.off('error', reject);
        server.on('error', (err: NodeJS.ErrnoException) =>
          opts.events({ event: 'error', message: `${label}: ${err.message}`, ...(err.code ? { code: err.code } : {}) }),
        );
        resolve();
      });
    });
  for (const fd of opts.listenFds ?? []) {
    const server = net.createServer(serverOpts, onClient);
    servers.push(server);
    await start(server, { fd }, `fd ${fd}`);
    const a = server.address();
    listening.push({
      address:
        typeof a === 'string'
          ? a
          : a
            ? formatProxyAddress({ kind: 'inet', host: a.address, port: a.port })
            : `fd ${fd}`,
      transport: typeof a === 'string' ? 'unix' : listenerTransport(fd),
    });
  }
  for (const l of opts.listen ?? []) {
    const server =
      l.kind === 'unix'
        ? net.createServer(serverOpts, onClient)
        : mptcpCreateServer({ ...serverOpts, mptcp: opts.mptcp }, onClient);
    servers.push(server);
    await start(server, l.kind === 'unix' ? { path: l.path } : { host: l.host, port: l.port }, formatProxyAddress(l));
    const a = server.address();
    const transport = l.kind === 'unix' ? 'unix' : listenerTransport(server);
    listening.push({
      address:
        typeof a === 'string'
          ? formatProxyAddress(l)
          : a
            ? formatProxyAddress({ kind: 'inet', host: a.address, port: a.port })
            : formatProxyAddress(l),
      transport,
    });
  }
  opts.events({
    event: 'ready',
    listen: listening,
    backend: formatProxyAddress(opts.backend),
    relay,
    pid: process.pid,
  });
  armIdle();
  return { done, close: () => close('closed') };
}
