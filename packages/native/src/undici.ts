/**
 * fetch() and undici over MPTCP: an undici Agent whose connector dials with @mptcp/native (TLS on
 * top through undici's own connector, so ALPN, session reuse and certificate checks are undici's).
 * `setGlobalMptcpDispatcher()` makes Node's global fetch use it.
 *
 *   import { setGlobalMptcpDispatcher } from '@mptcp/native/undici';
 *   setGlobalMptcpDispatcher();
 *   await fetch('http://example.test/');   // MPTCP (plain TCP if the peer or host lacks it)
 */
import { Agent, buildConnector, errors, setGlobalDispatcher, type Dispatcher } from 'undici';
import { dial } from './client.js';
import type { MptcpMode } from './types.js';

export interface MptcpDispatcherOptions extends Omit<Agent.Options, 'connect'> {
  /** Default 'prefer'. */
  mptcp?: MptcpMode;
  /** Connect/TLS options for https: origins (ca, rejectUnauthorized, servername…), as undici's `connect` object. */
  connect?: buildConnector.BuildOptions;
}

/** undici's own default connect timeout (buildConnector's). */
const DEFAULT_CONNECT_TIMEOUT = 10_000;

/**
 * An undici connector (the `connect` option of Client/Pool/Agent) that dials over MPTCP. undici
 * applies no connect timeout to a custom connector, so this one times each connect itself:
 * `timeout` ms (default `tls.timeout`, else undici's 10 s; 0: none), failing with undici's
 * ConnectTimeoutError (code UND_ERR_CONNECT_TIMEOUT) as its own connector does.
 */
export function mptcpConnector(
  options: { mptcp?: MptcpMode; tls?: buildConnector.BuildOptions; timeout?: number } = {},
): buildConnector.connector {
  const mode = options.mptcp ?? 'prefer';
  const timeout = options.timeout !== undefined ? options.timeout : (options.tls?.timeout ?? DEFAULT_CONNECT_TIMEOUT);
  // https: undici's TLS connector times the handshake, from the TCP connect on, itself.
  const secure = buildConnector({ ...options.tls, timeout: timeout ?? 0 });
  return (opts, callback) => {
    if (opts.httpSocket) return secure(opts, callback); // a tunnel through a proxy: already connected
    const host = opts.hostname.startsWith('[') ? opts.hostname.slice(1, -1) : opts.hostname;
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    const socket = dial(
      {
        host,
        port,
        noDelay: true,
        keepAlive: true,
        keepAliveInitialDelay: 60_000,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      },
      undefined,
      mode,
    );
    if (opts.protocol === 'https:') return secure({ ...opts, httpSocket: socket }, callback);
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      if (timer) clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('error', onError);
    };
    const onConnect = (): void => {
      done();
      callback(null, socket);
    };
    const onError = (err: Error): void => {
      done();
      callback(err, null);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    if (timeout) {
      timer = setTimeout(() => {
        // undici's message: "Connect Timeout Error (attempted address: host:port, timeout: 10000ms)".
        const err = new errors.ConnectTimeoutError(
          `Connect Timeout Error (attempted address: ${opts.hostname}:${port}, timeout: ${timeout}ms)`,
        );
        done();
        socket.destroy(); // no 'error' event: the callback carries the error
        callback(err, null);
      }, timeout);
    }
    return socket;
  };
}

/** An undici Agent (a Dispatcher: pass it as `dispatcher` to fetch/request) whose connections are MPTCP. */
export class MptcpAgent extends Agent {
  constructor(options: MptcpDispatcherOptions = {}) {
    const { mptcp, connect, ...agentOptions } = options;
    // As undici: connect.timeout, else connectTimeout, else 10 s.
    const timeout = connect?.timeout !== undefined ? connect.timeout : agentOptions.connectTimeout;
    super({
      ...agentOptions,
      connect: mptcpConnector({
        ...(mptcp === undefined ? {} : { mptcp }),
        ...(connect === undefined ? {} : { tls: connect }),
        ...(timeout === undefined ? {} : { timeout }),
      }),
    });
  }
}

/** Makes Node's global fetch (and undici's request without a dispatcher) use an MptcpAgent; returns it. */
export function setGlobalMptcpDispatcher(options: MptcpDispatcherOptions = {}): Dispatcher {
  const agent = new MptcpAgent(options);
  setGlobalDispatcher(agent);
  return agent;
}
