/** `mptcpd-lite run`: the daemon, in the foreground. */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { errnoMessage } from '@mptcp/constants';
import { Command, Option } from 'commander';
import { action, examplesHelp, exitCodesHelp } from '../action.js';
import { defaultControlPath } from '../control/paths.js';
import { CliError, EXIT_ERROR, EXIT_FAILURE, EXIT_OK, errnoOf, messageOf } from '../exit-codes.js';
import { trackingText, type ProcessTracking } from '../control/protocol.js';
import { createLogger, isLogLevel, LOG_LEVELS } from '../log.js';

export const DEFAULT_UNIT_DIRS = ['/etc/mptcpd-lite/units'];

interface RunOptions {
  units?: string[];
  control?: string;
  logLevel: string;
  endpoints?: string;
  endpointFlags?: string;
  endpointsIgnore?: string[];
  metrics?: string;
  statusAllow?: string[];
  allowUnenforcedSandbox?: boolean;
  cgroup: 'auto' | 'off';
}

export function runCommand(): Command {
  return new Command('run')
    .description(
      'run the daemon in the foreground: load every .socket/.service (with drop-ins) from the unit directories, open the sockets, activate services on demand',
    )
    .option(
      '-u, --units <dir...>',
      `unit directories, highest priority first (default: ${DEFAULT_UNIT_DIRS.join(' ')})`,
    )
    .option('--control <path>', 'control socket (AF_UNIX, mode 0600) for status/reload/stop', defaultControlPath())
    .addOption(
      new Option('--log-level <level>', 'highest level logged').choices(Object.keys(LOG_LEVELS)).default('info'),
    )
    .addOption(
      new Option(
        '--endpoints <mode>',
        'MPTCP endpoints: auto = one per routed interface address, added/removed as addresses and links come and go (refused when another manager runs)',
      )
        .choices(['off', 'auto'])
        .default('off'),
    )
    .option(
      '--endpoint-flags <flags>',
      'flags of the endpoints --endpoints auto adds (comma-separated: signal, subflow, backup, fullmesh)',
      'signal',
    )
    .option(
      '--endpoints-ignore <name...>',
      'another endpoint manager (process name) to tolerate, e.g. NetworkManager with MPTCP disabled',
    )
    .option(
      '--metrics <addr>',
      'serve OpenMetrics on /metrics and the status page on / at ADDR (host:port; loopback unless --status-allow)',
    )
    .option(
      '--status-allow <cidr...>',
      'client networks, besides loopback, allowed to read /metrics and the status page',
    )
    .option(
      '--allow-unenforced-sandbox',
      'start services whose sandbox/privilege directives mptcpd-lite does not enforce (PrivateTmp=disconnected, ProtectKernelTunables=, SystemCallFilter=, …) with a warning per unit, instead of failing them as systemd fails a step it cannot do (226/NAMESPACE, 228/SECCOMP, …): weaker isolation than the unit asks for',
    )
    .addOption(
      new Option(
        '--cgroup <mode>',
        "service process tracking: auto = a cgroup v2 per service run (and Accept=yes instance) below the daemon's own cgroup, as systemd, where the cgroup2 file system is writable and has cgroup.kill (kernel 5.14+); else, and with off, process groups (a process that calls setsid() escapes them)",
      )
        .choices(['auto', 'off'])
        .default('auto'),
    )
    .addHelpText(
      'after',
      `
Signals: SIGHUP reloads the units (listening sockets are kept); SIGTERM/SIGINT stop the services
(KillSignal=, TimeoutStopSec=) and close the sockets (RemoveOnStop=).
Logging: stderr; with JOURNAL_STREAM set, lines carry sd-daemon <N> priority prefixes.
sd_notify: with NOTIFY_SOCKET set, sends READY=1, RELOADING=1 (+MONOTONIC_USEC=), STOPPING=1, STATUS=
(so it can run as a Type=notify service). Once listening it prints one JSON line on stdout:
  {"event":"ready","pid":…,"sockets":N,"services":M,"failed":K,"startupMs":T,"cpuMs":C,"control":"…"}`,
    )
    .addHelpText(
      'after',
      examplesHelp([
        'mptcpd-lite run --units ./examples/units',
        'mptcpd-lite run --units /etc/mptcpd-lite/units /run/mptcpd-lite/units --control /tmp/mptcpd.sock',
        'systemd-run -p Type=notify mptcpd-lite run --units /etc/mptcpd-lite/units',
      ]),
    )
    .addHelpText(
      'after',
      exitCodesHelp([
        [EXIT_OK, 'stopped cleanly (signal or control "stop")'],
        [EXIT_FAILURE, 'stopping failed (a service could not be stopped)'],
        [EXIT_ERROR, 'could not start: bad option, unreadable unit directory, control socket in use'],
      ]),
    )
    .action(
      action(async (opts: RunOptions) => {
        if (!isLogLevel(opts.logLevel)) throw new CliError(`invalid --log-level ${opts.logLevel}`, EXIT_ERROR);
        const log = createLogger({ maxLevel: opts.logLevel });
        const unitDirs = (opts.units ?? DEFAULT_UNIT_DIRS).map((d) => path.resolve(d));
        const problems = new Map<string, string>();
        for (const d of unitDirs) {
          try {
            readdirSync(d);
          } catch (err) {
            const code = errnoOf(err) ?? 'EIO';
            problems.set(
              d,
              `${d}: cannot read the unit directory: ${code} (${errnoMessage(code) === code ? messageOf(err) : errnoMessage(code)})`,
            );
          }
        }
        if (problems.size === unitDirs.length)
          throw new CliError(
            `${[...problems.values()].join('\n')}\nno unit directory could be read; pass --units DIR`,
            EXIT_ERROR,
            [...problems.values()][0]?.match(/: (E[A-Z]+) /)?.[1],
          );
        for (const p of problems.values()) log.warning(`${p}; ignored`);
        const { closeInheritedFdsOnExec } = await import('../daemon/fd-hygiene.js');
        const marked = closeInheritedFdsOnExec();
        if (marked.length > 0) log.debug(`marked inherited fds close-on-exec: ${marked.join(', ')}`);
        const controlPath = path.resolve(opts.control ?? defaultControlPath());
        const { startOperate } = await import('../operate/start.js');
        const operate = await startOperate(opts, log);
        const { startDaemon } = await import('../daemon/daemon.js');
        const { ChildRegistry } = await import('../daemon/children.js');
        const children = new ChildRegistry(`${controlPath}.pids`, log);
        children.open();
        // Before the engine: the daemon moves itself into its tree's leaf (processTracking()).
        const { createEngine, processTracking } = await import('../daemon/activation-engine.js');
        const { tree, tracking } = await processTracking(opts.cgroup === 'off' ? 'off' : 'auto', controlPath);
        log.info(`Service processes are tracked by ${trackingText(tracking)}.`);
        if (tree) {
          children.recordCgroup(tree.base);
          // Back to where it came from; the tree goes unless a unit cgroup is left (KillMode=process).
          process.once('exit', () => tree.close());
        }
        const engine = await createEngine({
          unitDirs,
          log,
          children,
          ...(opts.allowUnenforcedSandbox ? { allowUnenforcedSandbox: true } : {}),
          ...(tree ? { cgroups: tree } : {}),
        });
        const daemon = await startDaemon({
          engine,
          log,
          controlPath,
          unitDirs,
          tracking,
          beforeEngineStart: async () => void (await children.reapOrphans()),
        });
        try {
          await operate.attach(engine);
        } catch (err) {
          await daemon.stop('--metrics could not start');
          await operate.stop();
          throw err;
        }
        return daemon.done.finally(() => operate.stop());
      }),
    );
}
