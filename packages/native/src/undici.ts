/**
 * fetch() and undici over MPTCP: an undici Agent whose connector dials with @mptcp/native (TLS on
 * top through undici's own connector, so ALPN, session reuse and certificate checks are undici's).
 * `setGlobalMptcpDispatcher()` makes Node's global fetch use it.
 *
 *   import { setGlobalMptcpDispatcher } from '@mptcp/native/undici';
 *   setGlobalMptcpDispatcher();
 *   await fetch('http://example.test/');   // MPTCP (plain TCP if the peer or host lacks it)
 */
import { Agent, buildConnector, setGlobalDispatcher, type Dispatcher } from 'undici';
import { dial } from './client.js';
import type { MptcpMode } from './types.js';

export interface MptcpDispatcherOptions extends Omit<Agent.Options, 'connect'> {
  /** Default 'prefer'. */
  mptcp?: MptcpMode;
  /** Connect/TLS options for https: origins (ca, rejectUnauthorized, servername…), as undici's `connect` object. */
  connect?: buildConnector.BuildOptions;
}

/** An undici connector (the `connect` option of Client/Pool/Agent) that dials over MPTCP. */
export function mptcpConnector(
  options: { mptcp?: MptcpMode; tls?: buildConnector.BuildOptions } = {},
): buildConnector.connector {
  const mode = options.mptcp ?? 'prefer';
  const secure = buildConnector({ ...options.tls });
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
    const onConnect = (): void => {
      socket.off('error', onError);
      callback(null, socket);
    };
    const onError = (err: Error): void => {
      socket.off('connect', onConnect);
      callback(err, null);
    };
    socket.once('connect', onConnect);
    socket.once('error', onError);
    return socket;
  };
}

/** An undici Agent (a Dispatcher: pass it as `dispatcher` to fetch/request) whose connections are MPTCP. */
export class MptcpAgent extends Agent {
  constructor(options: MptcpDispatcherOptions = {}) {
    const { mptcp, connect, ...agentOptions } = options;
    super({
      ...agentOptions,
      connect: mptcpConnector({
        ...(mptcp === undefined ? {} : { mptcp }),
        ...(connect === undefined ? {} : { tls: connect }),
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
