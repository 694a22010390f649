/**
 * `mptcpd-lite dev`: nodemon without the refused connections (systemfd + cargo-watch, for Node and
 * MPTCP). The behaviour lives in ../dev/; this file is the command line.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { DEFAULT_IGNORES } from '../dev/glob.js';
import type { DevMptcp } from '../dev/sockets.js';

interface DevCli {
  listen: string[];
  mptcp?: DevMptcp;
  watch: string[];
  ignore: string[];
  delay: number;
  stopTimeout: number;
  fdname?: string;
  exitOnCrash?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function milliseconds(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('a whole number of milliseconds');
  return Number(v);
}

export function devCommand(): Command {
  return new Command('dev')
    .description(
      'run an app on listening sockets that stay open, and restart it on every file change: connections during a restart wait in the kernel backlog, none is refused',
    )
    .usage('-l ADDR... [options] -- CMD [ARGS...]')
    .argument('<cmd...>', 'the app and its arguments (after --)')
    .addOption(
      new Option(
        '-l, --listen <addr>',
        'listen on this address: PORT, IP:PORT, [IPV6]:PORT, /path, @abstract (repeatable; fd 3, 4, … in order)',
      )
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option(
        '--mptcp <mode>',
        'MPTCP for IP listeners: require (fail without MPTCP), prefer (fall back to TCP), off; default per NODE_MPTCP: prefer',
      ).choices(['require', 'prefer', 'off']),
    )
    .addOption(
      new Option(
        '-w, --watch <path>',
        'watch this file or directory, recursively (repeatable; default: the current directory)',
      )
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option(
        '-i, --ignore <glob>',
        'do not watch what matches: a name (dist, *.log) at any depth, or a path from the watched root (src/gen/**) (repeatable)',
      )
        .argParser(collect)
        .default([]),
    )
    .addOption(
      new Option('--delay <ms>', 'restart after this much quiet time following a change')
        .argParser(milliseconds)
        .default(100),
    )
    .addOption(
      new Option('--stop-timeout <ms>', 'after SIGTERM, wait this long for the app to exit before SIGKILL')
        .argParser(milliseconds)
        .default(3000),
    )
    .option('--fdname <name[:name...]>', 'LISTEN_FDNAMES for the fds (one name is used for all)')
    .option('--exit-on-crash', 'when the app fails, exit with its status instead of waiting for a change')
    .addHelpText(
      'after',
      `
The sockets are opened once and never closed or accepted on by dev. The app gets them as fds 3, 4, …
with LISTEN_FDS, LISTEN_PID (its own PID) and LISTEN_FDNAMES (with --fdname), in dev's environment.
It takes them with listenFds()/activatedSockets() from @mptcp/activation/listen-fds, or unmodified
through \`node --import @mptcp/native/register\`. LISTEN_PID is the PID of CMD: run node directly, not
through npm or sh. Always ignored: ${DEFAULT_IGNORES.join(' ')}.

On a change: "[dev] restarting (changed: FILE)", SIGTERM to the app's process group (SIGKILL after
--stop-timeout), the next app on the same sockets, then "[dev] ready in N ms (pid P)" once it polls
or accepts on a socket (seen in /proc). The app's stdout and stderr are passed through. An app that
fails waits for the next change (--exit-on-crash: exit with its status); one that exits 0 ends dev.
Ctrl-C (SIGINT), SIGTERM, SIGHUP stop the app the same way and exit 128 + the signal number.`,
    )
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite dev -l 127.0.0.1:3000 -- node server.mjs                        # server.mjs uses listenFds()',
        'mptcpd-lite dev -l 3000 --mptcp require -w src -- node --import @mptcp/native/register src/app.js',
        'mptcpd-lite dev -l 8080 -i "*.log" -i dist -- node app.js',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [0, "the app exited 0 on its own (with --exit-on-crash, a failing app's status is ours)"],
        [2, 'bad options or address, socket error (EADDRINUSE, MPTCP unavailable with --mptcp require)'],
        [127, 'the app could not be executed'],
        [130, 'stopped by Ctrl-C (143: SIGTERM, 129: SIGHUP)'],
      ]),
    )
    .action(
      action(async (argv: string[], opts: DevCli) => {
        const { runDev } = await import('../dev/run.js');
        return runDev({
          listen: opts.listen,
          ...(opts.mptcp ? { mptcp: opts.mptcp } : {}),
          watch: opts.watch,
          ignore: opts.ignore,
          command: argv,
          ...(opts.fdname ? { fdnames: opts.fdname.split(':') } : {}),
          delayMs: opts.delay,
          stopTimeoutMs: opts.stopTimeout,
          exitOnCrash: opts.exitOnCrash ?? false,
        });
      }),
    );
}
