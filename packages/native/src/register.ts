/**
 * `node --import @mptcp/native/register app.js` (or NODE_OPTIONS=--import=@mptcp/native/register):
 * an unmodified app speaks MPTCP, as Go ≥ 1.24 programs do.
 *
 * - Listeners: net.Server.prototype.listen — which http, https, http2, tls and every framework on
 *   top call — opens an MPTCP socket for TCP addresses and hands it to the server (NODE_MPTCP 1, 2
 *   (the default), and not 3 or 0). A socket passed in LISTEN_FDS bound to the address is adopted
 *   instead of opening a new one (systemd, `mptcpd-lite dev`/`activate`, systemfd).
 * - Dials (NODE_MPTCP 1 and 3): net.connect/net.createConnection, tls.connect, http.Agent and the
 *   global fetch (an undici dispatcher) dial MPTCP.
 * - Without MPTCP on the host: plain TCP, with one warning. Plain-TCP peers keep working (the kernel
 *   falls back per connection). Pipes, fds and handles are left to node.
 *
 * NODE_MPTCP is read on every listen()/connect(), so the switch can change at run time.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import tls from 'node:tls';
import { bindingAvailable } from './binding.js';
import { dial, netCompatibleConnect, parseConnectArgs } from './client.js';
import { effectiveMode, nodeMptcp, wantsMptcp } from './policy.js';
import { mptcpListen } from './server.js';

type AnyFn = (...args: unknown[]) => unknown;

const REGISTERED = Symbol.for('@mptcp/native/register');

function dialersEnabled(): boolean {
  try {
    return wantsMptcp(effectiveMode('dialer', undefined));
  } catch {
    return false;
  }
}

function install(): void {
  const g = globalThis as { [REGISTERED]?: boolean };
  if (g[REGISTERED]) return;
  g[REGISTERED] = true;

  if (!bindingAvailable() && nodeMptcp() !== '0') {
    process.emitWarning('@mptcp/native/register: the native addon is not available; using plain TCP', 'MptcpWarning');
    return;
  }

  // ---- listeners -----------------------------------------------------------------------------
  const originalListen = net.Server.prototype.listen as unknown as AnyFn;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]): net.Server {
    // A cluster worker's TCP listen() goes to the primary, which shares its handle: leave it to node.
    if (cluster.isWorker) return originalListen.apply(this, args) as net.Server;
    return mptcpListen(
      this,
      (...a: unknown[]) => {
        if (isPassedFd(a[0])) stopGracefullyOnSigterm(this);
        return originalListen.apply(this, a) as net.Server;
      },
      args,
      { passThroughWhenOff: true },
    );
  } as net.Server['listen'];

  // ---- dials ---------------------------------------------------------------------------------
  const originalConnect = net.connect as unknown as (...a: unknown[]) => net.Socket;
  const connect = function (...args: unknown[]): net.Socket {
    if (!dialersEnabled()) return originalConnect(...args);
    return netCompatibleConnect(args, undefined, originalConnect);
  };
  const mutableNet = net as unknown as { connect: unknown; createConnection: unknown };
  mutableNet.connect = connect;
  mutableNet.createConnection = connect;
  // http.Agent copied net.createConnection when node:http loaded.
  (http.Agent.prototype as unknown as { createConnection: unknown }).createConnection = connect;

  const originalTls = tls.connect as unknown as (...a: unknown[]) => tls.TLSSocket;
  (tls as unknown as { connect: unknown }).connect = function (...args: unknown[]): tls.TLSSocket {
    if (!dialersEnabled()) return originalTls(...args);
    const callback = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as () => void) : undefined;
    // tls.connect(options[, cb]) or (port[, host][, options][, cb])
    const plain = args.filter((a) => typeof a !== 'function');
    let options: Record<string, unknown>;
    if (typeof plain[0] === 'object' && plain[0] !== null) options = { ...(plain[0] as Record<string, unknown>) };
    else
      options = {
        ...(typeof plain[2] === 'object' && plain[2] !== null ? (plain[2] as Record<string, unknown>) : {}),
        port: plain[0],
        ...(typeof plain[1] === 'string' ? { host: plain[1] } : {}),
      };
    const parsed = parseConnectArgs([options]);
    if (!parsed) return originalTls(...args);
    const socket = dial(parsed.options, undefined, undefined);
    const tlsOptions = { ...options, socket };
    return callback ? originalTls(tlsOptions, callback) : originalTls(tlsOptions);
  };
  syncBuiltinESMExports();
}

// ---- graceful stop of adopted listeners ----------------------------------------------------------
//
// A supervisor that passed its listening socket (systemd Accept=no, `mptcpd-lite dev`, systemfd)
// keeps it open while it stops this process with SIGTERM, and the backlog queues for the next one.
// An unmodified app without a SIGTERM handler would die with connections it had accepted (reset or
// cut responses). So, when the process has no SIGTERM listener of its own at the time the signal
// comes: stop accepting on the adopted servers (the kernel socket lives on in the supervisor), answer
// every request still in flight or yet to come on an open connection with `Connection: close`, and
// once their connections have ended, re-raise SIGTERM so the exit status stays "killed by SIGTERM".
// Idle keep-alive connections are not cut (a client may be sending its next request right now; that
// request gets its answer with `Connection: close`): node's keepAliveTimeout and the supervisor's
// SIGKILL bound the wait. MPTCP_GRACEFUL_STOP=0 turns it off.

const adopted = new Set<net.Server>();
let stopping = false;

/** Whether listen()'s first argument is `{ fd }` naming one of the sockets passed in LISTEN_FDS. */
function isPassedFd(arg: unknown): boolean {
  if (typeof arg !== 'object' || arg === null) return false;
  const fd = (arg as { fd?: unknown }).fd;
  const n = Number(process.env['LISTEN_FDS']);
  return (
    typeof fd === 'number' &&
    process.env['LISTEN_PID'] === String(process.pid) &&
    Number.isInteger(n) &&
    fd >= 3 &&
    fd < 3 + n
  );
}

function onSigterm(): void {
  // The app's own handler (added before or after ours) decides what SIGTERM does.
  if (process.listeners('SIGTERM').some((l) => l !== onSigterm)) return;
  process.removeListener('SIGTERM', onSigterm);
  stopping = true;
  const servers = [...adopted];
  let open = servers.length;
  const done = (): void => {
    if (--open === 0) process.kill(process.pid, 'SIGTERM');
  };
  for (const server of servers) {
    if (isHttp(server)) {
      // Responses not sent yet close their connection after them; idle connections stay open: a new
      // one may hold a request not read yet, a kept-alive one may be getting its next request.
      for (const socket of connections.get(server) ?? []) {
        const res = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
        if (res && !res.headersSent) res.setHeader('connection', 'close');
      }
    }
    // net's close, not http's: that one would cut idle connections (see above).
    if (server.listening) net.Server.prototype.close.call(server, done);
    else done();
  }
}

/** An HTTP/1 server (http or https): one that answers 'request' with a ServerResponse. */
function isHttp(server: net.Server): server is http.Server {
  return server instanceof http.Server || server instanceof https.Server;
}

const connections = new WeakMap<net.Server, Set<net.Socket>>();

function stopGracefullyOnSigterm(server: net.Server): void {
  if (process.env['MPTCP_GRACEFUL_STOP'] === '0' || adopted.has(server)) return;
  adopted.add(server);
  server.once('close', () => adopted.delete(server));
  if (isHttp(server)) {
    const open = new Set<net.Socket>();
    connections.set(server, open);
    // https: the socket a response is assigned to is the TLS one.
    server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (socket: net.Socket) => {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    });
    // Every response written once stopping closes its connection after it.
    server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      if (stopping) res.setHeader('connection', 'close');
    });
  }
  if (!process.listeners('SIGTERM').includes(onSigterm)) process.on('SIGTERM', onSigterm);
}

install();

// The global fetch: an undici dispatcher whose connections are MPTCP (loaded only when dials are on).
if (dialersEnabled()) {
  const { setGlobalMptcpDispatcher } = await import('./undici.js');
  setGlobalMptcpDispatcher({ mptcp: effectiveMode('dialer', undefined) });
}
