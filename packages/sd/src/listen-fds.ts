/**
 * The service side of socket activation: sd_listen_fds(3) for Node, without any native code, so a
 * service can be activated by systemd, systemd-socket-activate or mptcpd-lite alike.
 * Import it as `@mptcp/sd` or `@mptcp/sd/listen-fds`: neither loads the native addon.
 */
import { fstatSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { SdError } from './errors.js';

/** SD_LISTEN_FDS_START. */
export const LISTEN_FDS_START = 3;

export interface ListenFd {
  fd: number;
  /** From LISTEN_FDNAMES, `unknown` when the variable is absent (sd_listen_fds_with_names()). */
  name: string;
}

export interface ListenFdsOptions {
  /** Remove LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES from the environment afterwards (default true), so children do not inherit them. */
  unsetEnvironment?: boolean;
  /** LISTEN_PID set but not ours: `ignore` (default, as sd_listen_fds: no fds) or `throw`. */
  onPidMismatch?: 'ignore' | 'throw';
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default process.pid. */
  pid?: number;
  /**
   * sd_listen_fds() sets FD_CLOEXEC on the fds; Node cannot without native code. Pass e.g.
   * `(fd) => native.setCloexec(fd, true)` from @mptcp/native when the service spawns children.
   */
  setCloexec?: (fd: number) => void;
}

export class ListenFdsError extends SdError {
  declare readonly code: 'LISTEN_PID_MISMATCH' | 'LISTEN_FDS_INVALID';

  constructor(code: 'LISTEN_PID_MISMATCH' | 'LISTEN_FDS_INVALID', message: string) {
    super(code, message);
    this.name = 'ListenFdsError';
  }
}

function unset(env: NodeJS.ProcessEnv): void {
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
}

/**
 * The fds passed by the activator, with their names. Returns [] when nothing was passed to *this*
 * process. Throws ListenFdsError for malformed variables (sd_listen_fds' -EINVAL cases).
 */
export function listenFds(options: ListenFdsOptions = {}): ListenFd[] {
  const env = options.env ?? process.env;
  const pid = options.pid ?? process.pid;
  const unsetEnv = options.unsetEnvironment ?? true;
  try {
    const pidText = env.LISTEN_PID;
    if (pidText === undefined) return [];
    if (!/^\d+$/.test(pidText))
      throw new ListenFdsError('LISTEN_FDS_INVALID', `LISTEN_PID is not a number: ${pidText}`);
    if (Number(pidText) !== pid) {
      if (options.onPidMismatch === 'throw')
        throw new ListenFdsError(
          'LISTEN_PID_MISMATCH',
          `LISTEN_PID=${pidText} is not this process (${pid}): the fds were meant for another process`,
        );
      return [];
    }
    const fdsText = env.LISTEN_FDS;
    if (fdsText === undefined) return [];
    if (!/^\d+$/.test(fdsText))
      throw new ListenFdsError('LISTEN_FDS_INVALID', `LISTEN_FDS is not a number: ${fdsText}`);
    const n = Number(fdsText);
    if (n === 0) return [];
    const namesText = env.LISTEN_FDNAMES;
    const names = namesText === undefined ? Array.from({ length: n }, () => 'unknown') : namesText.split(':');
    if (names.length !== n)
      throw new ListenFdsError('LISTEN_FDS_INVALID', `LISTEN_FDNAMES has ${names.length} names for LISTEN_FDS=${n}`);
    const out: ListenFd[] = [];
    for (let i = 0; i < n; i++) {
      const fd = LISTEN_FDS_START + i;
      options.setCloexec?.(fd);
      out.push({ fd, name: names[i] as string });
    }
    return out;
  } finally {
    if (unsetEnv) unset(env);
  }
}

/**
 * Whether a socket fd is a datagram socket, from /proc/net (no native code here): its inode is in
 * udp/udp6/udplite tables, or in the unix table with type SOCK_DGRAM. Everything else (TCP, MPTCP —
 * whose sockets are not listed in /proc/net/tcp —, unix stream/seqpacket) is treated as a stream.
 */
export function isDatagramSocket(fd: number): boolean {
  let inode: string;
  try {
    inode = String(fstatSync(fd).ino);
  } catch {
    return false;
  }
  for (const table of ['udp', 'udp6', 'udplite', 'udplite6']) {
    try {
      const rows = readFileSync(`/proc/net/${table}`, 'utf8').split('\n').slice(1);
      // Columns: sl local rem st tx:rx tr:tm retrnsmt uid timeout inode …
      if (rows.some((r) => r.trim().split(/\s+/)[9] === inode)) return true;
    } catch {
      // Table absent (no IPv6, no UDP-Lite): nothing to find there.
    }
  }
  try {
    // Columns: Num RefCount Protocol Flags Type St Inode Path; Type 0002 = SOCK_DGRAM.
    const rows = readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1);
    return rows.some((r) => {
      const c = r.trim().split(/\s+/);
      return c[6] === inode && c[4] === '0002';
    });
  } catch {
    return false;
  }
}

export interface ActivatedSockets {
  fds: ListenFd[];
  /** Listening stream sockets, adopted by `net.Server`s (already listening), by name. */
  servers: Map<string, net.Server[]>;
  /** Accept=yes: the connection(s) (name `connection`, or any non-listening stream socket). */
  connections: net.Socket[];
  /** Fds Node's net module cannot adopt (FIFOs, datagram sockets …), left to the caller. */
  other: ListenFd[];
}

export interface ActivatedSocketsOptions extends ListenFdsOptions {
  /** Handler installed on every server ('connection'). */
  onConnection?: (socket: net.Socket, name: string) => void;
  /** Names to treat as connected sockets (default `['connection']`, systemd's Accept=yes name). */
  connectionNames?: readonly string[];
}

/**
 * listenFds() + adoption into node:net. A stream socket fd becomes a `net.Server` (via
 * `listen({ fd })`, which works for TCP, MPTCP and AF_UNIX listeners alike); a `connection` fd
 * becomes a `net.Socket`.
 */
export function activatedSockets(options: ActivatedSocketsOptions = {}): ActivatedSockets {
  const fds = listenFds(options);
  const connectionNames = options.connectionNames ?? ['connection'];
  const result: ActivatedSockets = { fds, servers: new Map(), connections: [], other: [] };
  for (const f of fds) {
    let isSocket = false;
    try {
      isSocket = fstatSync(f.fd).isSocket();
    } catch {
      isSocket = false;
    }
    if (!isSocket || isDatagramSocket(f.fd)) {
      result.other.push(f);
      continue;
    }
    if (connectionNames.includes(f.name)) {
      result.connections.push(new net.Socket({ fd: f.fd, readable: true, writable: true }));
      continue;
    }
    const server = net.createServer();
    if (options.onConnection) {
      const cb = options.onConnection;
      server.on('connection', (s) => cb(s, f.name));
    }
    try {
      server.listen({ fd: f.fd });
    } catch {
      result.other.push(f);
      continue;
    }
    const list = result.servers.get(f.name) ?? [];
    list.push(server);
    result.servers.set(f.name, list);
  }
  return result;
}
