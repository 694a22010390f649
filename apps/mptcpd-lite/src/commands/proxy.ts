/** `mptcpd-lite proxy`: systemd-socket-proxyd's job, MPTCP-aware, with the PROXY protocol toward the backend. */
import { Command, Option } from 'commander';
import type { MptcpMode } from '@mptcp/native';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { CliError, EXIT_ERROR, EXIT_OK } from '../exit-codes.js';
import { toJson } from '../json.js';
import { parseProxyAddress, type ProxyAddress } from '../proxy/address.js';
import type { ProxyEvent } from '../proxy/proxy.js';

interface ProxyCliOptions {
  listen?: string[];
  mptcp: string;
  backendMptcp: string;
  proxyProtocol?: string;
  exitIdleTime?: string;
  connectionsMax: string;
  relay: string;
  json?: boolean;
}

const SD_LISTEN_FDS_START = 3;

/** The fds passed by socket activation (sd_listen_fds with unset_environment=1), or []. */
export function activationFds(env: NodeJS.ProcessEnv = process.env): number[] {
  const n = Number(env.LISTEN_FDS ?? 0);
  const pid = env.LISTEN_PID;
  if (!(n > 0)) return [];
  if (pid !== undefined && Number(pid) !== process.pid) return [];
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  return Array.from({ length: n }, (_, i) => SD_LISTEN_FDS_START + i);
}

function seconds(text: string | undefined): number {
  if (text === undefined || text === 'infinity') return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s|min|m|h)?$/.exec(text.trim());
  if (!m)
    throw new CliError(
      `invalid --exit-idle-time ${text} (seconds, or with a unit: 500ms, 30s, 5min, 1h; infinity = never)`,
      EXIT_ERROR,
    );
  const v = Number(m[1]);
  return m[2] === 'ms' ? v / 1000 : m[2] === 'min' || m[2] === 'm' ? v * 60 : m[2] === 'h' ? v * 3600 : v;
}

function textEvent(e: ProxyEvent): string | undefined {
  switch (e.event) {
    case 'ready':
      return `proxy: listening on ${e.listen.map((l) => `${l.address} (${l.transport})`).join(', ')}, forwarding to ${e.backend}`;
    case 'error':
      return `proxy: ${e.message}`;
    case 'idle-exit':
      return `proxy: no connection for ${e.seconds} s, exiting (--exit-idle-time)`;
    case 'closed':
      return e.error ? `proxy: connection ${e.id} from ${e.client}: ${e.error}` : undefined;
    default:
      return undefined;
  }
}

export function proxyCommand(): Command {
  return new Command('proxy')
    .description(
      'forward connections from a socket-activated or --listen socket to a backend (TCP, MPTCP or AF_UNIX), like systemd-socket-proxyd, with MPTCP and the PROXY protocol',
    )
    .argument('<backend>', 'HOST:PORT, [IPV6]:PORT, /path/to/socket or @abstract')
    .option(
      '-l, --listen <addr...>',
      'listen here instead of on the sockets passed by socket activation (LISTEN_FDS): HOST:PORT, [IPV6]:PORT, PORT (all addresses), /path',
    )
    .addOption(
      new Option(
        '--mptcp <mode>',
        'MPTCP on the --listen sockets: require (fail without it), prefer (fall back to TCP), off',
      )
        .choices(['require', 'prefer', 'off'])
        .default('prefer'),
    )
    .addOption(
      new Option('--backend-mptcp <mode>', 'MPTCP toward a HOST:PORT backend')
        .choices(['require', 'prefer', 'off'])
        .default('off'),
    )
    .addOption(
      new Option(
        '--proxy-protocol <version>',
        'send a PROXY protocol header (v1 text, v2 binary) to the backend first, so it sees the client address',
      ).choices(['v1', 'v2']),
    )
    .option(
      '--exit-idle-time <time>',
      'exit when no connection has been open for this long (seconds, or 30s, 5min; default infinity)',
    )
    .option('-c, --connections-max <n>', 'connections at once; more are refused', '256')
    .addOption(
      new Option(
        '--relay <how>',
        'how bytes are relayed: splice (zero-copy splice(2) in the addon, as systemd-socket-proxyd), stream (Node streams), auto (splice when the addon loads)',
      )
        .choices(['auto', 'splice', 'stream'])
        .default('auto'),
    )
    .option(
      '--json',
      'print one JSON line per event on stdout: ready, connection (with its transport), closed (bytes), error, idle-exit',
    )
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite proxy --listen 0.0.0.0:443 --mptcp prefer 127.0.0.1:8443',
        'mptcpd-lite proxy --listen [::]:80 --proxy-protocol v2 127.0.0.1:8080   # backend: haproxy accept-proxy / nginx proxy_protocol',
        'mptcpd-lite proxy --exit-idle-time 5min /run/app.sock                  # from a .socket unit (LISTEN_FDS)',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, 'stopped by SIGTERM/SIGINT or --exit-idle-time'],
        [EXIT_ERROR, 'bad arguments, nothing to listen on, or a listen address that cannot be bound'],
      ]),
    )
    .action(
      action(async (backendText: string, opts: ProxyCliOptions) => {
        let backend: ProxyAddress;
        let listen: ProxyAddress[] | undefined;
        try {
          backend = parseProxyAddress(backendText);
          listen = opts.listen?.map((l) => parseProxyAddress(l, '::'));
        } catch (err) {
          throw new CliError((err as Error).message, EXIT_ERROR);
        }
        const max = Number(opts.connectionsMax);
        if (!Number.isInteger(max) || max < 1)
          throw new CliError(`invalid --connections-max ${opts.connectionsMax}`, EXIT_ERROR);
        const listenFds = listen ? [] : activationFds();
        if (!listen && listenFds.length === 0)
          throw new CliError(
            'nothing to listen on: pass --listen ADDR, or start the proxy from a socket unit (LISTEN_FDS is not set for this process)',
            EXIT_ERROR,
          );
        const emit = (e: ProxyEvent): void => {
          if (opts.json) process.stdout.write(toJson(e) + '\n');
          else {
            const t = textEvent(e);
            if (t) process.stderr.write(t + '\n');
          }
        };
        const { startProxy } = await import('../proxy/proxy.js');
        let proxy;
        try {
          proxy = await startProxy({
            ...(listen ? { listen } : { listenFds }),
            mptcp: opts.mptcp as MptcpMode,
            backend,
            backendMptcp: opts.backendMptcp as MptcpMode,
            proxyProtocol: opts.proxyProtocol as 'v1' | 'v2' | undefined,
            exitIdleTime: seconds(opts.exitIdleTime),
            connectionsMax: max,
            relay: opts.relay as 'auto' | 'splice' | 'stream',
            events: emit,
          });
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          throw new CliError(`cannot listen: ${e.code ? `${e.code}: ` : ''}${e.message}`, EXIT_ERROR, e.code);
        }
        const stop = (): void => void proxy.close();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        await proxy.done;
        process.off('SIGTERM', stop);
        process.off('SIGINT', stop);
        return EXIT_OK;
      }),
    );
}
