/**
 * `mptcpd-lite dev`, put together: sockets (opened once) → supervisor (one generation of the app at a
 * time) ← watcher (debounced file changes); signals end it all.
 */
import { readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadNative } from '@mptcp/activation';
import { CliError, EXIT_ERROR, errnoOf, messageOf } from '../exit-codes.js';
import { DEFAULT_IGNORES, ignoreMatcher } from './glob.js';
import { type DevMptcp, closeDevSockets, openDevSockets } from './sockets.js';
import { Supervisor } from './supervisor.js';
import { TreeWatcher } from './watcher.js';

export interface DevOptions {
  listen: readonly string[];
  mptcp?: DevMptcp;
  /** Paths to watch (default: the working directory). */
  watch: readonly string[];
  /** Globs ignored on top of DEFAULT_IGNORES. */
  ignore: readonly string[];
  command: readonly string[];
  fdnames?: readonly string[];
  delayMs: number;
  stopTimeoutMs: number;
  exitOnCrash: boolean;
  /** Our own lines (default: stderr, prefixed `[dev] `). */
  log?: (line: string) => void;
  cwd?: string;
}

/**
 * The files our stdout/stderr (and so the app's) are redirected to: `dev … 2> dev.log` inside the
 * watched tree must not restart the app on every line it writes.
 */
function outputFiles(): Set<string> {
  const files = new Set<string>();
  for (const fd of [1, 2]) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('/') && statSync(target).isFile()) files.add(target);
    } catch {
      // closed, or not a file
    }
  }
  return files;
}

const TRANSPORT_NAMES = { mptcp: 'MPTCP', tcp: 'TCP', unix: 'AF_UNIX', vsock: 'AF_VSOCK' } as const;

/** Runs until the app exits on its own (its status) or a signal stops everything (128 + signal). */
export async function runDev(options: DevOptions): Promise<number> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`[dev] ${line}\n`));
  const cwd = options.cwd ?? process.cwd();
  if (options.command.length === 0)
    throw new CliError('a command to run is required: mptcpd-lite dev -l ADDR -- CMD [ARGS...]', EXIT_ERROR);
  if (options.listen.length === 0)
    throw new CliError('at least one -l ADDR is required (e.g. -l 127.0.0.1:3000)', EXIT_ERROR);
  let native;
  try {
    native = await loadNative();
  } catch (err) {
    throw new CliError(messageOf(err), EXIT_ERROR, errnoOf(err));
  }
  const sockets = openDevSockets(options.listen, options.mptcp, native, log);
  sockets.forEach((s, i) => log(`listening on ${s.label} (${TRANSPORT_NAMES[s.transport]}) as fd ${3 + i}`));

  const supervisor = new Supervisor({
    command: options.command,
    sockets,
    ...(options.fdnames ? { fdnames: options.fdnames } : {}),
    cwd,
    stopTimeoutMs: options.stopTimeoutMs,
    exitOnCrash: options.exitOnCrash,
    native,
    log,
  });
  const roots = (options.watch.length > 0 ? options.watch : ['.']).map((p) => path.resolve(cwd, p));
  const ignores = [...DEFAULT_IGNORES, ...options.ignore];
  const ownOutput = outputFiles();
  const watcher = new TreeWatcher({
    roots,
    ignore: ignoreMatcher(ignores),
    ignoreFiles: ownOutput,
    delayMs: options.delayMs,
    onChange: (paths) => supervisor.changed(paths),
    onWarning: (line) => log(line),
  });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    log(stopping ? `${signal} again: killing the app` : `stopping (${signal})`);
    stopping = true;
    watcher.close();
    void supervisor.shutdown(signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  try {
    const dirs = watcher.start();
    log(
      `watching ${roots.map((r) => path.relative(cwd, r) || '.').join(', ')} (${dirs} director${dirs === 1 ? 'y' : 'ies'}; ignoring ${ignores.join(' ')})`,
    );
    supervisor.start();
    return await supervisor.finished;
  } finally {
    watcher.close();
    for (const s of signals) process.off(s, onSignal);
    closeDevSockets(sockets, native);
  }
}
