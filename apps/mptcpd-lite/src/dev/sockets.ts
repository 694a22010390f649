/**
 * The listening sockets of `dev`: opened once, before the first start, and held by the daemon
 * until it exits. The daemon never accepts on them; between two generations of the app,
 * connections wait in the kernel's accept queue.
 */
import { unlinkSync } from 'node:fs';
import { IPPROTO_MPTCP, mptcpUnavailableHint, mptcpUnavailableReason } from '@mptcp/constants';
import { type NativeApi, formatSockAddr, toSockAddr } from '@mptcp/activation';
import { effectiveMode } from '@mptcp/native';
import { parseSocketAddress } from '@mptcp/unit';
import { CliError, EXIT_ERROR, errnoName, messageOf } from '../exit-codes.js';
import { socketInode } from './readiness.js';

/** `--mptcp`: `off` opens plain TCP; unset follows NODE_MPTCP's listener default (`prefer`). */
export type DevMptcp = 'require' | 'prefer' | 'off';

export interface DevSocket {
  fd: number;
  /** The bound address as the user reads it (port 0 resolved). */
  label: string;
  transport: 'mptcp' | 'tcp' | 'unix' | 'vsock';
  inode: number;
  /** A file-system socket node to remove on exit. */
  unixPath?: string;
}

/**
 * systemd's address syntax, plus port 0 (`127.0.0.1:0`, `[::1]:0`, `0`): the kernel picks a free port,
 * which the `listening on` line shows. systemd refuses port 0 in a unit; a dev server may well want it.
 */
export function parseDevAddress(text: string): ReturnType<typeof parseSocketAddress> {
  const zero = /^(.*:)?0$/.exec(text);
  if (!zero) return parseSocketAddress(text);
  const parsed = parseSocketAddress(`${zero[1] ?? ''}1`);
  if (parsed.ok && (parsed.value.family === 'inet' || parsed.value.family === 'inet6')) return { ok: true, value: { ...parsed.value, port: 0 } };
  return parseSocketAddress(text);
}

/**
 * Opens every `-l` address. Throws a CliError naming the address for a bad address or a socket that
 * cannot be opened; `warn` reports a `prefer` fallback to plain TCP.
 */
export function openDevSockets(listen: readonly string[], mptcp: DevMptcp | undefined, native: NativeApi, warn: (line: string) => void): DevSocket[] {
  const opened: DevSocket[] = [];
  try {
    let mode: ReturnType<typeof effectiveMode>;
    try {
      mode = effectiveMode('listener', mptcp === 'off' ? false : mptcp);
    } catch (err) {
      throw new CliError(messageOf(err), EXIT_ERROR, errnoName(err));
    }
    const wantsMptcp = mode === 'require' || mode === 'prefer';
    for (const text of listen) {
      const parsed = parseDevAddress(text);
      if (!parsed.ok) throw new CliError(`-l ${text}: not an address (${parsed.error}); use PORT, IP:PORT, [IPV6]:PORT, /path or @abstract`, EXIT_ERROR, 'EINVAL');
      const address = toSockAddr(parsed.value);
      if (!address) throw new CliError(`-l ${text}: not an address`, EXIT_ERROR, 'EINVAL');
      const ip = address.family === 'inet' || address.family === 'inet6';
      const open = (protocol: number) => native.openSocket({ kind: 'stream', address, protocol, nonBlocking: true });
      let socket;
      let transport: DevSocket['transport'] = ip ? 'tcp' : address.family === 'unix' ? 'unix' : 'vsock';
      try {
        socket = open(ip && wantsMptcp ? IPPROTO_MPTCP : 0);
        if (ip && wantsMptcp) transport = 'mptcp';
      } catch (err) {
        const code = errnoName(err);
        const reason = code !== undefined ? mptcpUnavailableReason(code) : undefined;
        if (ip && wantsMptcp && reason) {
          if (mode === 'require') throw new CliError(`-l ${text}: ${mptcpUnavailableHint(reason)} (socket() gave ${code}); use --mptcp prefer to fall back to TCP`, EXIT_ERROR, code);
          warn(`MPTCP unavailable (${code}): ${mptcpUnavailableHint(reason)}; listening on ${text} with plain TCP`);
          try {
            socket = open(0);
          } catch (err2) {
            throw new CliError(`-l ${text}: ${messageOf(err2)}`, EXIT_ERROR, errnoName(err2));
          }
        } else {
          throw new CliError(`-l ${text}: ${messageOf(err)}`, EXIT_ERROR, code);
        }
      }
      const entry: DevSocket = { fd: socket.fd, label: formatSockAddr(socket.local), transport, inode: socketInode(socket.fd) };
      if (address.family === 'unix' && !address.abstract && address.path !== '') entry.unixPath = address.path;
      opened.push(entry);
    }
    return opened;
  } catch (err) {
    closeDevSockets(opened, native);
    throw err;
  }
}

export function closeDevSockets(sockets: readonly DevSocket[], native: NativeApi): void {
  for (const s of sockets) {
    try {
      native.close(s.fd);
    } catch {
      // already closed
    }
    if (s.unixPath !== undefined) {
      try {
        unlinkSync(s.unixPath);
      } catch {
        // already gone
      }
    }
  }
}
