/** `mptcpd-lite activate`: a drop-in for systemd-socket-activate, plus --mptcp. */
import { Command, Option } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { runActivator } from '../activate/activator.js';
import { CliError, EXIT_ERROR } from '../exit-codes.js';

interface ActivateCli {
  listen?: string[];
  mptcp?: boolean;
  accept?: boolean;
  inetd?: boolean;
  datagram?: boolean;
  seqpacket?: boolean;
  setenv: string[];
  fdname?: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function activateCommand(): Command {
  return new Command('activate')
    .description('listen on sockets and launch a program on the first connection (or one per connection with --accept), like systemd-socket-activate; --mptcp opens the sockets with IPPROTO_MPTCP')
    .usage('-l ADDR... [options] -- CMD [ARGS...]')
    .argument('<cmd...>', 'the program and its arguments (after --)')
    .addOption(new Option('-l, --listen <addr>', 'listen on this address: PORT, IP:PORT, [IPV6]:PORT, /path, @abstract (repeatable)').argParser(collect).default([]))
    .option('--mptcp', 'open stream sockets with IPPROTO_MPTCP (262)')
    .option('-a, --accept', 'spawn one instance per connection (the connection is fd 3)')
    .option('--inetd', 'the connection or socket becomes stdin/stdout; no LISTEN_* variables')
    .option('-d, --datagram', 'datagram sockets')
    .option('--seqpacket', 'SOCK_SEQPACKET sockets')
    .addOption(new Option('-E, --setenv <var[=val]>', 'pass this variable to the program (repeatable)').argParser(collect).default([]))
    .option('--fdname <name[:name...]>', 'LISTEN_FDNAMES for the fds (one name is used for all)')
    .addHelpText(
      'after',
      `
The program's environment is rebuilt as systemd-socket-activate does: TERM, PATH, USER, HOME, then
LISTEN_FDS, LISTEN_PID (the program's own PID), LISTEN_FDNAMES (with --fdname) and the -E variables.
Log lines (stderr) are systemd's: "Listening on ADDR as 3.", "Communication attempt on fd 3.",
"Connection from PEER to LOCAL".`,
    )
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite activate -l 127.0.0.1:2000 --mptcp -a --inetd -- cat          # MPTCP echo, one cat per connection',
        'mptcpd-lite activate -l 127.0.0.1:2000 --mptcp -a -- cat                  # same: the connection is on fd 3 and stdin',
        'mptcpd-lite activate -l 8080 --mptcp --fdname=web -- node examples/http-server.mjs',
      ]),
    )
    .addHelpText('after', exitCodesHelp([[0, 'the program exited 0 (without --accept the program\'s exit status is ours)'], [2, 'bad options or address, socket error (EADDRINUSE, ENOPROTOOPT…)'], [143, 'stopped by SIGTERM (--accept)']]))
    .action(
      action(async (argv: string[], opts: ActivateCli) => {
        const listen = opts.listen ?? [];
        if (listen.length === 0 && !process.env.LISTEN_FDS) throw new CliError('at least one --listen= address is required', EXIT_ERROR, 'EINVAL');
        if (opts.datagram && opts.accept) throw new CliError('Datagram sockets do not accept connections. The --datagram and --accept options may not be combined.', EXIT_ERROR, 'EINVAL');
        if (opts.datagram && opts.seqpacket) throw new CliError('--datagram and --seqpacket may not be combined.', EXIT_ERROR, 'EINVAL');
        if (opts.mptcp && (opts.datagram || opts.seqpacket)) throw new CliError('--mptcp is only valid with stream sockets (IPPROTO_MPTCP needs SOCK_STREAM)', EXIT_ERROR, 'EINVAL');
        if (opts.inetd && listen.length !== 1) throw new CliError('--inetd only supported for single file descriptors.', EXIT_ERROR, 'EINVAL');
        const fdNames = opts.fdname?.split(':');
        if (fdNames && fdNames.some((n) => n.length > 255 || !/^[\x20-\x7e]*$/.test(n))) throw new CliError(`invalid --fdname: ${opts.fdname}`, EXIT_ERROR, 'EINVAL');
        if (fdNames && fdNames.length > 1 && fdNames.length !== listen.length) throw new CliError(`--fdname has ${fdNames.length} names for ${listen.length} sockets`, EXIT_ERROR, 'EINVAL');
        try {
          return await runActivator({
            listen,
            mptcp: opts.mptcp ?? false,
            accept: opts.accept ?? false,
            inetd: opts.inetd ?? false,
            datagram: opts.datagram ?? false,
            seqpacket: opts.seqpacket ?? false,
            setenv: opts.setenv,
            fdNames,
            argv,
            log: (line) => process.stderr.write(line + '\n'),
          });
        } catch (err) {
          const code = (err as { code?: string }).code;
          const msg = err instanceof Error ? err.message : String(err);
          throw new CliError(`${code && !msg.includes(code) ? `${code}: ` : ''}${msg}`, EXIT_ERROR, code);
        }
      }),
    );
}
