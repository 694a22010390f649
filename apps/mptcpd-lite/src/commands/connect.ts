/** `mptcpd-lite connect HOST:PORT`: an nc-like client that says whether the connection is MPTCP. */
import { Command, Option } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import type { ConnectionReport } from '../connect/report.js';
import { MptcpdLiteError } from '../errors.js';
import { CliError, EXIT_ERROR, EXIT_FAILURE, EXIT_OK, errnoOf, messageOf } from '../exit-codes.js';
import { toJson } from '../json.js';
import type { MptcpMode } from '@mptcp/native';

interface ConnectOptions {
  mptcp: 'require' | 'prefer' | 'off';
  info?: boolean;
  json?: boolean;
  timeout: string;
}

export function parseTarget(target: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  const port = Number(m?.[2]);
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new CliError(
      `invalid target ${JSON.stringify(target)}: expected HOST:PORT or [IPV6]:PORT`,
      EXIT_ERROR,
      'EINVAL',
    );
  return { host: m[1], port };
}

export function connectCommand(): Command {
  return new Command('connect')
    .description(
      'connect to HOST:PORT, copy stdin to the socket and the socket to stdout (half-close on stdin EOF), and report whether the connection is MPTCP and its subflows',
    )
    .argument('<target>', 'HOST:PORT or [IPV6]:PORT')
    .addOption(
      new Option(
        '--mptcp <mode>',
        'require: MPTCP or fail; prefer: MPTCP, plain TCP if the host lacks it; off: plain TCP',
      )
        .choices(['require', 'prefer', 'off'])
        .default('prefer'),
    )
    .option('--info', 'also report subflows and MPTCP counters when the connection closes')
    .option('--json', 'report as JSON lines on stderr ({"event":"connected",…}, {"event":"closed",…})')
    .addOption(new Option('--timeout <seconds>', 'give up connecting after this long').default('10'))
    .addHelpText(
      'after',
      examplesHelp([
        'echo hello | mptcpd-lite connect 127.0.0.1:7007 --mptcp require',
        "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | mptcpd-lite connect 127.0.0.1:8080 --info",
        'mptcpd-lite connect [::1]:7007 --json 2>report.jsonl',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, 'connected, data copied, closed cleanly'],
        [EXIT_FAILURE, 'connection failed (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH…) or reset'],
        [EXIT_ERROR, 'bad arguments, or --mptcp require on a host without MPTCP (ENOPROTOOPT…)'],
      ]),
    )
    .action(
      action(async (target: string, opts: ConnectOptions) => {
        const { host, port } = parseTarget(target);
        const { buildReport, formatReport } = await import('../connect/report.js');
        const { dial } = await import('../connect/dial.js');
        const mode: MptcpMode = opts.mptcp === 'off' ? false : opts.mptcp;
        const timeoutMs = Number(opts.timeout) * 1000;
        const emit = (event: string, r: ConnectionReport, when: 'connected' | 'closing'): void => {
          process.stderr.write((opts.json ? toJson({ event, ...r }) : formatReport(r, when)) + '\n');
        };
        let dialed;
        try {
          dialed = await Promise.race([
            dial(host, port, mode),
            new Promise<never>((_, reject) =>
              setTimeout(() => reject(new MptcpdLiteError('ETIMEDOUT', 'connect timed out')), timeoutMs).unref(),
            ),
          ]);
        } catch (err) {
          const code = errnoOf(err);
          const unavailable =
            code === 'ENOPROTOOPT' ||
            code === 'EPROTONOSUPPORT' ||
            code === 'EINVAL' ||
            code === 'MPTCP_ADDON_UNAVAILABLE' ||
            code === 'MPTCP_DISABLED_BY_ENV';
          throw new CliError(
            `connect ${target}: ${code && !messageOf(err).includes(code) ? `${code}: ` : ''}${messageOf(err)}`,
            unavailable ? EXIT_ERROR : EXIT_FAILURE,
            code,
          );
        }
        const { socket } = dialed;
        emit('connected', buildReport(socket, dialed.protocol, dialed.fallback), 'connected');
        return await new Promise<number>((resolve) => {
          let failed: string | undefined;
          let finalReport: ConnectionReport | undefined;
          // Sample the counters while the connection still exists (after the peer's FIN, before close).
          socket.on('end', () => {
            if (opts.info) finalReport = buildReport(socket, dialed.protocol, dialed.fallback);
          });
          socket.on('error', (err) => (failed = `${errnoOf(err) ?? 'error'}: ${err.message}`));
          socket.on('close', () => {
            if (opts.info && finalReport) emit('closed', finalReport, 'closing');
            else if (opts.json)
              process.stderr.write(
                toJson({ event: 'closed', ok: !failed, ...(failed ? { error: failed } : {}) }) + '\n',
              );
            if (failed) process.stderr.write(`mptcpd-lite: connection ${target}: ${failed}\n`);
            process.stdin.destroy();
            resolve(failed ? EXIT_FAILURE : EXIT_OK);
          });
          socket.pipe(process.stdout, { end: false });
          // stdin EOF → shutdown(SHUT_WR); keep reading until the peer closes.
          process.stdin.pipe(socket);
        });
      }),
    );
}
