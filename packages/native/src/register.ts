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
    return mptcpListen(this, (...a: unknown[]) => originalListen.apply(this, a) as net.Server, args, {
      passThroughWhenOff: true,
    });
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

install();

// The global fetch: an undici dispatcher whose connections are MPTCP (loaded only when dials are on).
if (dialersEnabled()) {
  const { setGlobalMptcpDispatcher } = await import('./undici.js');
  setGlobalMptcpDispatcher({ mptcp: effectiveMode('dialer', undefined) });
}
