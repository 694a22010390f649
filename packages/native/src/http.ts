/**
 * HTTP over MPTCP without the register hook: servers whose listen() opens MPTCP sockets, and
 * http/https Agents whose connections are MPTCP. Each is node's own class with one seam replaced
 * (listen() for servers, createConnection() for agents), so everything else behaves as node's.
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { dial, type MptcpConnectOptions } from './client.js';
import { withMptcp } from './server.js';
import type { MptcpMode, MptcpModeOption } from './types.js';
import { invalidArgType, validateMptcp } from './validate.js';

/** The `mptcp` option every helper takes: the mode (default 'prefer'; plain TCP with NODE_MPTCP=0). */
export interface WithMptcpMode {
  mptcp?: MptcpModeOption;
}

function split<T extends WithMptcpMode>(options: T | undefined): [Omit<T, 'mptcp'>, MptcpMode] {
  const { mptcp, ...rest } = options ?? ({} as T);
  return [rest, validateMptcp(mptcp) ?? 'prefer'];
}

/** node's (listener) and (options[, listener]) forms of the create*Server() functions. */
function serverArgs<O extends WithMptcpMode, L>(
  first: O | L | undefined,
  second: L | undefined,
): [Omit<O, 'mptcp'>, MptcpMode, L | undefined] {
  const [options, listener] = typeof first === 'function' ? [undefined, first as L] : [first as O | undefined, second];
  if (listener !== undefined && typeof listener !== 'function') {
    throw invalidArgType('requestListener', 'of type function', listener);
  }
  const [opts, mptcp] = split(options);
  return [opts, mptcp, listener];
}

type Http2Handler = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;

/** http.createServer() whose listen() opens an MPTCP socket. */
export function createHttpServer(listener?: http.RequestListener): http.Server;
export function createHttpServer(
  options?: http.ServerOptions & WithMptcpMode,
  listener?: http.RequestListener,
): http.Server;
export function createHttpServer(
  first?: (http.ServerOptions & WithMptcpMode) | http.RequestListener,
  second?: http.RequestListener,
): http.Server {
  const [opts, mptcp, listener] = serverArgs(first, second);
  return withMptcp(listener ? http.createServer(opts, listener) : http.createServer(opts), { mptcp });
}

/** https.createServer() whose listen() opens an MPTCP socket (TLS runs over it unchanged). */
export function createHttpsServer(listener?: http.RequestListener): https.Server;
export function createHttpsServer(
  options: https.ServerOptions & WithMptcpMode,
  listener?: http.RequestListener,
): https.Server;
export function createHttpsServer(
  first?: (https.ServerOptions & WithMptcpMode) | http.RequestListener,
  second?: http.RequestListener,
): https.Server {
  const [opts, mptcp, listener] = serverArgs(first, second);
  return withMptcp(listener ? https.createServer(opts, listener) : https.createServer(opts), { mptcp });
}

/** http2.createServer() (h2c) whose listen() opens an MPTCP socket. */
export function createHttp2Server(listener?: Http2Handler): http2.Http2Server;
export function createHttp2Server(
  options?: http2.ServerOptions & WithMptcpMode,
  listener?: Http2Handler,
): http2.Http2Server;
export function createHttp2Server(
  first?: (http2.ServerOptions & WithMptcpMode) | Http2Handler,
  second?: Http2Handler,
): http2.Http2Server {
  const [opts, mptcp, listener] = serverArgs(first, second);
  return withMptcp(listener ? http2.createServer(opts, listener) : http2.createServer(opts), { mptcp });
}

/** http2.createSecureServer() whose listen() opens an MPTCP socket. */
export function createSecureHttp2Server(listener?: Http2Handler): http2.Http2SecureServer;
export function createSecureHttp2Server(
  options: http2.SecureServerOptions & WithMptcpMode,
  listener?: Http2Handler,
): http2.Http2SecureServer;
export function createSecureHttp2Server(
  first?: (http2.SecureServerOptions & WithMptcpMode) | Http2Handler,
  second?: Http2Handler,
): http2.Http2SecureServer {
  const [opts, mptcp, listener] = serverArgs(first, second);
  return withMptcp(listener ? http2.createSecureServer(opts, listener) : http2.createSecureServer(opts), { mptcp });
}

type AgentConnectOptions = net.NetConnectOpts &
  tls.ConnectionOptions & { host?: string; port?: number | string; servername?: string };

/** The connect options an Agent passes to createConnection, as dial() options. */
function dialOptions(o: AgentConnectOptions): MptcpConnectOptions {
  const raw = o as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = { host: o.host ?? 'localhost', port: Number(o.port) };
  for (const k of [
    'localAddress',
    'localPort',
    'family',
    'hints',
    'lookup',
    'autoSelectFamily',
    'autoSelectFamilyAttemptTimeout',
    'noDelay',
    'keepAlive',
    'keepAliveInitialDelay',
    'signal',
  ]) {
    if (raw[k] !== undefined) out[k] = raw[k];
  }
  return out as unknown as MptcpConnectOptions;
}

/** An http.Agent whose connections are MPTCP (keep-alive, maxSockets… as http.Agent). */
export class MptcpHttpAgent extends http.Agent {
  readonly mptcp: MptcpMode;

  constructor(options?: http.AgentOptions & WithMptcpMode) {
    const [opts, mptcp] = split(options);
    super(opts);
    this.mptcp = mptcp;
  }

  // http.Agent calls createConnection(options, callback); returning the socket is enough.
  override createConnection(options: AgentConnectOptions): net.Socket {
    const socket = dial(dialOptions(options), undefined, this.mptcp);
    if (typeof options.timeout === 'number' && options.timeout > 0) socket.setTimeout(options.timeout);
    return socket;
  }
}

/** An https.Agent whose TLS connections run over MPTCP (TLS sessions are cached as https.Agent does). */
export class MptcpHttpsAgent extends https.Agent {
  readonly mptcp: MptcpMode;

  constructor(options?: https.AgentOptions & WithMptcpMode) {
    const [opts, mptcp] = split(options);
    super(opts);
    this.mptcp = mptcp;
  }

  override createConnection(options: AgentConnectOptions): tls.TLSSocket {
    const socket = dial(dialOptions(options), undefined, this.mptcp);
    const base = https.Agent.prototype as unknown as {
      createConnection(o: AgentConnectOptions & { socket: net.Socket }): tls.TLSSocket;
    };
    return base.createConnection.call(this, { ...options, socket });
  }
}

/** tls.connect() over an MPTCP connection (same options; `socket` is ours). */
export function connectTls(
  options: tls.ConnectionOptions & WithMptcpMode & { host?: string; port: number },
  secureListener?: () => void,
): tls.TLSSocket {
  const [opts, mptcp] = split(options);
  const socket = dial(dialOptions(opts), undefined, mptcp);
  return tls.connect(
    {
      ...opts,
      socket,
      ...(opts.servername === undefined && opts.host !== undefined && !/^[\d.:]+$/.test(opts.host)
        ? { servername: opts.host }
        : {}),
    },
    secureListener,
  );
}
