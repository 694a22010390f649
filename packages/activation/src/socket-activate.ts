/**
 * systemd-socket-activate(1) behaviour for `mptcpd-lite activate`: listen on -l addresses, then
 * either hand all fds to one process on the first connection (the real tool execs in place; Node
 * cannot, so the program is spawned with LISTEN_PID = its own PID and its exit status mirrored), or
 * with --accept spawn one process per connection (fd 3 = the connection with LISTEN_FDS=1, and also
 * stdin/stdout — a deliberate difference from systemd-socket-activate, whose children share the
 * activator's stdin — or only stdin/stdout, without LISTEN_*, with --inetd). The child's environment is rebuilt: only TERM, PATH, USER, HOME, then LISTEN_*, then -E.
 */
import { constants as osConstants } from 'node:os';
import type { AcceptedConnection, SockAddr, SocketKind } from '@mptcp/native';
import { type ExecCommand, type ListenAddress, parseSocketAddress } from '@mptcp/unit';
import { ActivationError, errnoNumberOf, messageOf } from './errors.js';
import { type NativeSpawn, type SpawnMethod, execCommand, waitExit } from './exec.js';
import { formatSockAddr, toSockAddr } from './listen-address.js';
import { type Logger, silentLogger } from './logger.js';
import { type NativeApi, type ReadableWatch, loadNative } from './native-binding.js';

export interface SocketActivateOptions {
  /** `-l`: addresses in systemd's syntax (`2000`, `127.0.0.1:2001`, `/run/x.sock`, `@abstract`). */
  listen: readonly string[];
  /** The program and its arguments (looked up in PATH). */
  command: readonly string[];
  accept?: boolean;
  datagram?: boolean;
  seqpacket?: boolean;
  inetd?: boolean;
  /** `-E VAR[=VALUE]`: without a value the variable is copied from `env` when set. */
  setenv?: readonly string[];
  /** `--fdname`: one name per fd, or one name for all. */
  fdnames?: readonly string[];
  /** Our extension: stream sockets as MPTCP (`true` = required, `'prefer'` = fall back to TCP). */
  mptcp?: boolean | 'prefer';
  /** The activator's own environment (default process.env). */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  native?: NativeApi;
  /** Ends accept mode (resolves with 0) or the wait for the first connection (resolves with 0). */
  signal?: AbortSignal;
  /** Called when all sockets listen, with their bound addresses (port 0 resolved). */
  onListening?: (sockets: ReadonlyArray<{ fd: number; address: string; port?: number }>) => void;
  /** Called for every child started (accept mode) or the one started (no accept). */
  onSpawn?: (pid: number) => void;
  /** `native` (default when the addon has it): clone + execve in @mptcp/native; `node`: child_process + /bin/sh. */
  spawn?: SpawnMethod;
}

const COPIED_VARIABLES = ['TERM', 'PATH', 'USER', 'HOME'];

function parseAddress(text: string): ListenAddress {
  const r = parseSocketAddress(text);
  if (!r.ok)
    throw new ActivationError('UNSUPPORTED_LISTEN', `Failed to parse address ${text}: ${r.error}`, {
      address: text,
      errno: errnoNumberOf(r.error),
    });
  return r.value;
}

/** The child environment of systemd-socket-activate (activate.c exec_process()/fork_and_exec_process()). */
export function socketActivateEnvironment(
  options: Pick<SocketActivateOptions, 'env' | 'setenv' | 'fdnames' | 'inetd'>,
  nFds: number,
): Record<string, string> {
  const own = options.env ?? process.env;
  const env: Record<string, string> = {};
  for (const name of COPIED_VARIABLES) {
    const v = own[name];
    if (v !== undefined) env[name] = v;
  }
  if (!options.inetd) {
    env.LISTEN_FDS = String(nFds);
    const names = listenFdNames(options.fdnames ?? [], nFds);
    if (names !== undefined) env.LISTEN_FDNAMES = names;
  }
  for (const item of options.setenv ?? []) {
    const eq = item.indexOf('=');
    if (eq >= 0) env[item.slice(0, eq)] = item.slice(eq + 1);
    else if (own[item] !== undefined) env[item] = own[item] as string;
  }
  return env;
}

/** LISTEN_FDNAMES for `nFds` fds from `--fdname` values: one name for all, or one per fd; none without names. */
export function listenFdNames(names: readonly string[], nFds: number): string | undefined {
  if (names.length === 0) return undefined;
  return names.length === 1 ? Array.from({ length: nFds }, () => names[0]).join(':') : names.join(':');
}

/** A command line run as is (no `$VAR` expansion, no prefixes), as an ExecCommand for execCommand(). */
export function commandOf(argv: readonly string[]): ExecCommand {
  const path = argv[0] ?? '';
  return {
    path,
    argv: [...argv],
    ignoreFailure: false,
    noEnvExpand: true,
    fullPrivileges: false,
    noUserSwitch: false,
    ambientMagic: false,
    argv0Override: false,
    raw: argv.join(' '),
    file: '',
    line: 0,
  };
}

/** The exit status a shell would report: the code, or 128 + signal number. */
export function statusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal !== null) return 128 + (osConstants.signals[signal] ?? 0);
  return code ?? 1;
}

interface Listening {
  fd: number;
  /** Ours (closed at the end) or inherited through LISTEN_FDS (left alone). */
  owned: boolean;
  label: string;
}

/**
 * Runs the activator until the program exits (no --accept: resolves with its exit status) or
 * `signal` aborts (--accept: resolves with 0). Throws for bad options and sockets that cannot be
 * opened, with systemd-socket-activate's messages.
 */
export async function runSocketActivate(options: SocketActivateOptions): Promise<number> {
  const log = options.logger ?? silentLogger;
  if (options.command.length === 0) throw new ActivationError('EXEC_FAILED', 'Command line to execute required.');
  if (options.datagram && options.accept) {
    throw new ActivationError(
      'UNSUPPORTED_LISTEN',
      'Datagram sockets do not accept connections. The --datagram and --accept options may not be combined.',
    );
  }
  const native = options.native ?? (await loadNative());
  const own = options.env ?? process.env;
  const fds: Listening[] = [];

  // Inherited fds stay where they are, ours follow from 3 + n.
  if (own.LISTEN_PID !== undefined && Number(own.LISTEN_PID) === process.pid && /^\d+$/.test(own.LISTEN_FDS ?? '')) {
    const n = Number(own.LISTEN_FDS);
    for (let i = 0; i < n; i++) fds.push({ fd: 3 + i, owned: false, label: `inherited fd ${3 + i}` });
  }
  const kind: SocketKind = options.datagram ? 'datagram' : options.seqpacket ? 'seqpacket' : 'stream';
  const bound: Array<{ fd: number; address: string; port?: number }> = [];
  try {
    for (const text of options.listen) {
      const address = toSockAddr(parseAddress(text));
      if (!address)
        throw new ActivationError('UNSUPPORTED_LISTEN', `Failed to parse address ${text}`, { address: text });
      // The MPTCP policy (NODE_MPTCP, the TCP fallback) is @mptcp/native's; NODE_MPTCP=0 wins over --mptcp.
      const mptcp = options.mptcp === 'prefer' ? 'prefer' : options.mptcp ? 'require' : 'off';
      let opened;
      try {
        opened = native.openSocket({ kind, address, mptcp, disabledByEnv: 'tcp', nonBlocking: true });
      } catch (err) {
        const errno = errnoNumberOf(err);
        throw new ActivationError('SOCKET_OPEN_FAILED', `Failed to open '${text}': ${messageOf(err)}`, {
          address: text,
          ...(errno ? { errno } : {}),
          cause: err,
        });
      }
      if (opened.fallbackReason === 'disabled-by-env')
        log.warn(`MPTCP disabled by NODE_MPTCP=0, listening on ${text} with plain TCP.`);
      else if (opened.fallbackReason !== undefined)
        log.warn(
          `MPTCP unavailable (${opened.fallbackCode ?? opened.fallbackReason}), listening on ${text} with plain TCP.`,
        );
      const label = formatSockAddr(opened.local);
      fds.push({ fd: opened.fd, owned: true, label });
      bound.push({
        fd: opened.fd,
        address: label,
        ...(opened.local.family !== 'unix' ? { port: opened.local.port } : {}),
      });
      log.info(`Listening on ${label} as ${opened.fd}.`);
    }
    if (options.inetd && fds.length !== 1) {
      // systemd 252 logs this and exits with status 0.
      log.error('--inetd only supported for single file descriptors.');
      return 0;
    }
    if (fds.length === 0)
      throw new ActivationError('UNSUPPORTED_LISTEN', 'No sockets to listen on specified or passed in.');
    options.onListening?.(bound);
    return options.accept ? await acceptLoop(options, native, fds, log) : await execOnFirst(options, native, fds, log);
  } finally {
    for (const f of fds) if (f.owned) native.close(f.fd);
  }
}

function waitReadable(
  native: NativeApi,
  fds: readonly Listening[],
  signal: AbortSignal | undefined,
): Promise<Listening | undefined> {
  return new Promise((resolve) => {
    const watches: ReadableWatch[] = [];
    const done = (f: Listening | undefined): void => {
      for (const w of watches) w.stop();
      signal?.removeEventListener('abort', onAbort);
      resolve(f);
    };
    const onAbort = (): void => done(undefined);
    if (signal?.aborted) return done(undefined);
    signal?.addEventListener('abort', onAbort);
    for (const f of fds) watches.push(native.watchReadable(f.fd, (error) => done(error ? undefined : f)));
  });
}

async function execOnFirst(
  options: SocketActivateOptions,
  native: NativeApi,
  fds: readonly Listening[],
  log: Logger,
): Promise<number> {
  const first = await waitReadable(native, fds, options.signal);
  if (!first) return 0;
  log.info(`Communication attempt on fd ${first.fd}.`);
  for (const f of fds) native.setNonBlocking(f.fd, false);
  const env = socketActivateEnvironment(options, fds.length);
  log.info(`Execing ${options.command[0]} (${options.command.join(' ')})`);
  const inetdFd = options.inetd ? (fds[0] as Listening).fd : undefined;
  const child = execCommand({
    command: commandOf(options.command),
    env,
    ...(inetdFd !== undefined ? { socketStdio: inetdFd } : { fds: fds.map((f) => f.fd) }),
    stdin: 'inherit',
    output: 'inherit',
    cwd: process.cwd(),
    execPid: false,
    detached: false,
    ...nativeLauncher(options, native),
  });
  await child.spawned; // the native launcher may exec off the event loop: the pid exists once spawned
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  // Signals to the activator reach the program, as they would after an exec in place.
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const s of signals) process.on(s, forward);
  try {
    const status = await waitExit(child);
    if (status.error && status.code === 127)
      log.error(`Failed to execute ${options.command[0]}: ${status.error.message}`);
    return statusOf(status.code, status.signal);
  } finally {
    for (const s of signals) process.off(s, forward);
  }
}

/** The native launcher, unless turned off or unavailable (then child_process + /bin/sh). */
function nativeLauncher(options: SocketActivateOptions, native: NativeApi): { native?: NativeSpawn } {
  return options.spawn !== 'node' && native.spawn ? { native: native.spawn } : {};
}

function describePeer(addr: SockAddr): string {
  return formatSockAddr(addr);
}

async function acceptLoop(
  options: SocketActivateOptions,
  native: NativeApi,
  fds: readonly Listening[],
  log: Logger,
): Promise<number> {
  return new Promise((resolve) => {
    const watches: ReadableWatch[] = [];
    const children = new Set<number>();
    const launcher = nativeLauncher(options, native);
    const spawnFor = (conn: AcceptedConnection): void => {
      // The connection fd stays open until the child has its copy (the native launcher execs off
      // the event loop, so that is after execCommand returns).
      let spawned: Promise<unknown> = Promise.resolve();
      log.info(`Connection from ${describePeer(conn.remote)} to ${describePeer(conn.local)}`);
      try {
        native.setNonBlocking(conn.fd, false);
        const env = socketActivateEnvironment(options, 1);
        const child = execCommand({
          command: commandOf(options.command),
          env,
          // --inetd: the connection is stdin/stdout only. Plain --accept: fd 3 with LISTEN_FDS=1 as
          // systemd-socket-activate does, and also stdin/stdout (where the real tool leaves every
          // concurrent child on the activator's terminal), so `activate -a -- cat` echoes.
          ...(options.inetd ? { socketStdio: conn.fd } : { socketStdio: conn.fd, fds: [conn.fd] }),
          stdin: 'inherit',
          output: 'inherit',
          cwd: process.cwd(),
          execPid: false,
          detached: false,
          ...launcher,
        });
        spawned = child.spawned.then(() => {
          if (child.pid !== undefined) {
            children.add(child.pid);
            options.onSpawn?.(child.pid);
            const pid = child.pid;
            void waitExit(child).then(() => children.delete(pid));
          } else {
            void waitExit(child).then((s) =>
              log.error(
                `Failed to ${child.method === 'native' ? 'execute' : 'fork'}: ${s.error?.message ?? 'unknown error'}`,
              ),
            );
          }
        });
      } finally {
        void spawned.finally(() => native.close(conn.fd));
      }
    };
    const finish = (): void => {
      for (const w of watches) w.stop();
      resolve(0);
    };
    if (options.signal?.aborted) return finish();
    options.signal?.addEventListener('abort', finish, { once: true });
    for (const f of fds) {
      watches.push(
        native.watchReadable(f.fd, () => {
          for (;;) {
            let conn: AcceptedConnection | null;
            try {
              conn = native.accept(f.fd);
            } catch (err) {
              log.error(`Failed to accept() socket: ${messageOf(err)}`);
              return;
            }
            if (!conn) return;
            spawnFor(conn);
          }
        }),
      );
    }
  });
}
