/** `mptcpd-lite info`: the host's live MPTCP connections, as `ss -M` sees them, with subflows. */
import { Command, Option } from 'commander';
import { MPTCP_INFO_FLAG_FALLBACK, MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED } from '@mptcp/constants';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { controlRequest } from '../control/client.js';
import { defaultControlPath } from '../control/paths.js';
import type { DaemonStatus } from '../control/protocol.js';
import { CliError, EXIT_ERROR, EXIT_OK } from '../exit-codes.js';
import { formatBytes, hostPort } from '../format/bytes.js';
import { toJson } from '../json.js';
import type { MptcpConnection } from '../netlink/sock-diag.js';

interface InfoOptions {
  json?: boolean;
  watch?: boolean;
  interval: string;
  port?: string[];
  listening?: boolean;
  all?: boolean;
  control?: string;
}

/** The listening ports of a running daemon, or undefined when none answers. */
async function daemonPorts(controlPath: string): Promise<number[] | undefined> {
  try {
    const reply = await controlRequest(controlPath, 'status', 2000);
    if (!reply.ok) return undefined;
    const status = (reply as unknown as { status: DaemonStatus }).status;
    const ports = new Set<number>();
    for (const s of status.sockets)
      for (const l of s.listen) {
        const m = /:(\d+)$/.exec(l.address);
        if (m) ports.add(Number(m[1]));
      }
    return [...ports];
  } catch {
    return undefined;
  }
}

export function selectConnections(
  all: MptcpConnection[],
  ports: number[] | undefined,
  listening: boolean,
): MptcpConnection[] {
  return all.filter(
    (c) =>
      (listening || c.state !== 'LISTEN') && (!ports || ports.includes(c.local.port) || ports.includes(c.remote.port)),
  );
}

function flagsText(c: MptcpConnection): string {
  const f = c.info?.flags ?? 0;
  const words: string[] = [];
  if (f & MPTCP_INFO_FLAG_FALLBACK) words.push('fallback');
  if (f & MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED) words.push('remote_key');
  return words.join(',');
}

export function formatConnections(conns: MptcpConnection[], ports: number[] | undefined): string {
  const lines = [
    `MPTCP connections${ports ? ` on port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}` : ''}: ${conns.length}`,
  ];
  for (const c of conns) {
    const i = c.info;
    const head = `${c.state.padEnd(6)} ${hostPort(c.local.address, c.local.port)} <-> ${hostPort(c.remote.address, c.remote.port)}`;
    if (!i || c.state === 'LISTEN') {
      lines.push(head);
      continue;
    }
    const total = i.subflowsTotal || c.subflows.length || i.subflows + 1;
    lines.push(
      `${head}  token ${i.token.toString(16).padStart(8, '0')}  subflows ${total}/${i.subflowsMax + 1}  sent ${formatBytes(i.bytesSent)}  received ${formatBytes(i.bytesReceived)}  acked ${formatBytes(i.bytesAcked)}${flagsText(c) ? `  [${flagsText(c)}]` : ''}`,
    );
    for (const s of c.subflows) {
      const tcp = s.tcp;
      lines.push(
        `  subflow ${hostPort(s.local.address, s.local.port)} <-> ${hostPort(s.remote.address, s.remote.port)}  id ${s.idLoc ?? 0}/${s.idRem ?? 0}  ${s.state}` +
          (tcp
            ? `  rtt ${(tcp.rttUs / 1000).toFixed(3)} ms  sent ${formatBytes(tcp.bytesSent)}  received ${formatBytes(tcp.bytesReceived)}  retrans ${tcp.totalRetrans}`
            : ''),
      );
    }
  }
  return lines.join('\n') + '\n';
}

export function infoCommand(): Command {
  return new Command('info')
    .description(
      "list the host's live MPTCP connections (sock_diag, like `ss -M`) with subflows, addresses and byte counters, filtered to the daemon's ports",
    )
    .option('--json', 'print JSON (one document; with --watch one JSON object per line)')
    .option(
      '-w, --watch',
      'after the listing, print MPTCP events as they happen (created, established, closed, announced, removed, sub_established, sub_closed, sub_priority, listener_*) like `ip mptcp monitor`, and changes of the kernel MPTcpExt counters, until interrupted',
    )
    .addOption(new Option('-i, --interval <seconds>', 'how often --watch looks at the kernel counters').default('1'))
    .option(
      '-p, --port <port...>',
      "only connections with this local or remote port (default: the running daemon's ports, else all)",
    )
    .option('-l, --listening', 'include listening sockets')
    .option('-a, --all', 'all MPTCP connections, even when a daemon runs')
    .option('--control <path>', 'control socket of the daemon to take the ports from', defaultControlPath())
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite info',
        'mptcpd-lite info --port 8080 --json',
        'mptcpd-lite info --watch --json --all',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, 'listed (also when there is no connection)'],
        [EXIT_ERROR, 'sock_diag failed (e.g. mptcp_diag missing: ENOENT) or bad option'],
      ]),
    )
    .action(
      action(async (opts: InfoOptions) => {
        let ports: number[] | undefined;
        if (opts.port) {
          ports = opts.port.map((p) => {
            const n = Number(p);
            if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CliError(`invalid --port: ${p}`, EXIT_ERROR);
            return n;
          });
        } else if (!opts.all) {
          ports = await daemonPorts(opts.control ?? defaultControlPath());
        }
        const { mptcpConnections } = await import('../netlink/sock-diag.js');
        const { netlinkRequest } = await import('../netlink/transport.js');
        const interval = Number(opts.interval);
        if (!(interval > 0)) throw new CliError(`invalid --interval: ${opts.interval}`, EXIT_ERROR);
        const once = (): string => {
          let conns: MptcpConnection[];
          try {
            conns = selectConnections(mptcpConnections(netlinkRequest), ports, opts.listening ?? false);
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            throw new CliError(
              `${msg}${msg.includes('ENOENT') ? ' (is the mptcp_diag module available? modprobe mptcp_diag)' : ''}`,
              EXIT_ERROR,
            );
          }
          if (!opts.json) return formatConnections(conns, ports);
          // With --watch the listing is the first line of a JSON-lines stream.
          return (
            toJson(
              opts.watch
                ? { time: new Date().toISOString(), event: 'snapshot', ports: ports ?? null, connections: conns }
                : { ports: ports ?? null, connections: conns },
              opts.watch ? undefined : 2,
            ) + '\n'
          );
        };
        if (!opts.watch) {
          process.stdout.write(once());
          return EXIT_OK;
        }
        // The listing first (the state the events then change), then the events.
        const until = new Promise<void>((resolve) => {
          process.once('SIGINT', () => resolve());
          process.once('SIGTERM', () => resolve());
        });
        const { watchMptcpEvents } = await import('../events/watch.js');
        process.stdout.write(once());
        try {
          await watchMptcpEvents({
            json: opts.json ?? false,
            ports,
            interval,
            write: (l) => void process.stdout.write(l + '\n'),
            until,
          });
        } catch (err) {
          throw new CliError(
            `--watch: ${err instanceof Error ? err.message : String(err)}`,
            EXIT_ERROR,
            (err as { code?: string }).code,
          );
        }
        return EXIT_OK;
      }),
    );
}
