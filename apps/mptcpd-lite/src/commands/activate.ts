/**
 * `mptcpd-lite activate`: a drop-in for systemd-socket-activate, plus --mptcp. The behaviour is
 * @mptcp/activation's runSocketActivate(); this file is the command line, the log format and the
 * signal handling.
 */
import { Command, Option } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { CliError, EXIT_ERROR } from '../exit-codes.js';

interface ActivateCli {
  listen: string[];
  mptcp?: boolean;
  mptcpFallback?: boolean;
  accept?: boolean;
  inetd?: boolean;
  datagram?: boolean;
  seqpacket?: boolean;
  setenv: string[];
  fdname?: string;
}

type LogFn = (message: string) => void;

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/**
 * systemd-socket-activate numbers fds as the program sees them (3, 4, …); the engine logs its own fd
 * numbers. This maps them so the lines read exactly like systemd's.
 */
export function fdRenumberingLog(
  write: (line: string) => void,
  firstFd: number,
): { debug: LogFn; info: LogFn; warn: LogFn; error: LogFn } {
  const map = new Map<string, number>();
  const byAddress = new Map<string, number>();
  let next = firstFd;
  const rewrite = (m: string): string[] => {
    const listening = /^(Listening on (.*) as )(\d+)\.$/.exec(m);
    if (listening) {
      const fd = listening[3] as string;
      if (!map.has(fd)) map.set(fd, next++);
      byAddress.set(listening[2] as string, map.get(fd) as number);
      return [`${listening[1]}${map.get(fd)}.`];
    }
    const attempt = /^Communication attempt on fd (\d+)\.$/.exec(m);
    if (attempt && map.has(attempt[1] as string))
      return [`Communication attempt on fd ${map.get(attempt[1] as string)}.`];
    // --accept: systemd-socket-activate reports the poll event before each connection.
    const conn = /^Connection from .* to (.*)$/.exec(m);
    if (conn) {
      const fd = byAddress.get(conn[1] as string) ?? (byAddress.size === 1 ? [...byAddress.values()][0] : undefined);
      if (fd !== undefined) return [`Communication attempt on fd ${fd}.`, m];
    }
    return [m];
  };
  const w = (m: string): void => {
    for (const line of rewrite(m)) write(line);
  };
  return { debug: () => {}, info: w, warn: w, error: w };
}

export function activateCommand(): Command {
  return new Command('activate')
    .description(
      'listen on sockets and launch a program on the first connection (or one per connection with --accept), like systemd-socket-activate; --mptcp opens the sockets with IPPROTO_MPTCP',
    )
    .usage('-l ADDR... [options] -- CMD [ARGS...]')
    .argument('<cmd...>', 'the program and its arguments (after --)')
    .addOption(
      new Option(
        '-l, --listen <addr>',
        'listen on this address: PORT, IP:PORT, [IPV6]:PORT, /path, @abstract, vsock:CID:PORT (repeatable)',
      )
        .argParser(collect)
        .default([]),
    )
    .option('--mptcp', 'open stream sockets with IPPROTO_MPTCP (262); fail if the host has no MPTCP')
    .option('--mptcp-fallback', 'like --mptcp, but fall back to plain TCP (with a warning) when the host has no MPTCP')
    .option(
      '-a, --accept',
      'spawn one instance per connection (the connection is fd 3, LISTEN_FDS=1, and also stdin/stdout)',
    )
    .option('--inetd', 'the connection or socket becomes stdin/stdout; no LISTEN_* variables')
    .option('-d, --datagram', 'datagram sockets')
    .option('--seqpacket', 'SOCK_SEQPACKET sockets')
    .addOption(
      new Option('-E, --setenv <var[=val]>', 'pass this variable to the program (repeatable)')
        .argParser(collect)
        .default([]),
    )
    .option('--fdname <name[:name...]>', 'LISTEN_FDNAMES for the fds (one name is used for all)')
    .addHelpText(
      'after',
      `
The program's environment is rebuilt as systemd-socket-activate does: TERM, PATH, USER, HOME, then
LISTEN_FDS, LISTEN_PID (the program's own PID), LISTEN_FDNAMES (with --fdname) and the -E variables.
Without --accept the program gets all fds on the first connection and its exit status becomes ours
(Node cannot exec in place). Log lines (stderr) are systemd's: "Listening on ADDR as 3.",
"Communication attempt on fd 3.", "Connection from PEER to LOCAL".`,
    )
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite activate -l 127.0.0.1:2000 --mptcp -a -- cat             # MPTCP echo: one cat per connection (fd 3)',
        'mptcpd-lite activate -l 127.0.0.1:2000 --mptcp -a --inetd -- cat     # the connection on stdin/stdout',
        'mptcpd-lite activate -l 8080 --mptcp-fallback --fdname=web -- node examples/http-server.mjs',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [0, 'the program exited 0 (without --accept its exit status is ours); --accept: stopped by SIGTERM/SIGINT'],
        [2, 'bad options or address, socket error (EADDRINUSE, ENOPROTOOPT: MPTCP disabled…)'],
        [127, 'the program could not be executed'],
      ]),
    )
    .action(
      action(async (argv: string[], opts: ActivateCli) => {
        const { runSocketActivate: run } = await import('@mptcp/activation');
        const fdnames = opts.fdname?.split(':');
        const inherited = process.env.LISTEN_PID === String(process.pid) ? Number(process.env.LISTEN_FDS ?? 0) || 0 : 0;
        const abort = new AbortController();
        const children = new Set<number>();
        const onStop = (): void => {
          abort.abort();
          // Unlike systemd-socket-activate (which dies and leaves them), stop the instances we started.
          for (const pid of children) {
            try {
              process.kill(pid, 'SIGTERM');
            } catch {
              // already gone
            }
          }
        };
        if (opts.accept) {
          process.once('SIGTERM', onStop);
          process.once('SIGINT', onStop);
        }
        try {
          return await run({
            listen: opts.listen,
            command: argv,
            accept: opts.accept ?? false,
            datagram: opts.datagram ?? false,
            seqpacket: opts.seqpacket ?? false,
            inetd: opts.inetd ?? false,
            setenv: opts.setenv,
            ...(fdnames ? { fdnames } : {}),
            ...(opts.mptcpFallback ? { mptcp: 'prefer' as const } : opts.mptcp ? { mptcp: true } : {}),
            logger: fdRenumberingLog((line) => process.stderr.write(line + '\n'), 3 + inherited),
            signal: abort.signal,
            onSpawn: (pid) => {
              process.stderr.write(`Spawned ${argv[0] ?? ''} (${argv.join(' ')}) as PID ${pid}.\n`);
              if (opts.accept) {
                children.add(pid);
                // Forget it once gone (signal 0 probes); keeps the set small on long runs.
                const t = setInterval(() => {
                  try {
                    process.kill(pid, 0);
                  } catch {
                    children.delete(pid);
                    clearInterval(t);
                  }
                }, 1000);
                t.unref();
              }
            },
          });
        } catch (err) {
          const e = err as { code?: string; message?: string };
          throw new CliError(e.message ?? String(err), EXIT_ERROR, e.code);
        } finally {
          process.off('SIGTERM', onStop);
          process.off('SIGINT', onStop);
        }
      }),
    );
}
