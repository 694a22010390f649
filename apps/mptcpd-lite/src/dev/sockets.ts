/**
 * The listening sockets of `dev`: opened once, before the first start, and held by the daemon
 * until it exits. The daemon never accepts on them; between two generations of the app,
 * connections wait in the kernel's accept queue.
 */
import { unlinkSync } from 'node:fs';
import { mptcpUnavailableHint, mptcpUnavailableReason } from '@mptcp/constants';
import { type NativeApi, formatSockAddr, toSockAddr } from '@mptcp/activation';
import type { OpenedSocket } from '@mptcp/native';
import { parseSocketAddress } from '@mptcp/unit';
import { CliError, EXIT_ERROR, errnoOf, messageOf } from '../exit-codes.js';
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
  if (parsed.ok && (parsed.value.family === 'inet' || parsed.value.family === 'inet6'))
    return { ok: true, value: { ...parsed.value, port: 0 } };
  return parseSocketAddress(text);
}

/**
 * Opens every `-l` address. Throws a CliError naming the address for a bad address or a socket that
 * cannot be opened (with `--mptcp require`: no MPTCP here, or NODE_MPTCP=0); `warn` reports a
 * fallback to plain TCP.
 */
export function openDevSockets(
  listen: readonly string[],
  mptcp: DevMptcp | undefined,
  native: NativeApi,
  warn: (line: string) => void,
): DevSocket[] {
  const opened: DevSocket[] = [];
  try {
    for (const text of listen) {
      const parsed = parseDevAddress(text);
      if (!parsed.ok)
        throw new CliError(
          `-l ${text}: not an address (${parsed.error}); use PORT, IP:PORT, [IPV6]:PORT, /path or @abstract`,
          EXIT_ERROR,
          'EINVAL',
        );
      const address = toSockAddr(parsed.value);
      if (!address) throw new CliError(`-l ${text}: not an address`, EXIT_ERROR, 'EINVAL');
      let socket: OpenedSocket;
      try {
        // The MPTCP policy (NODE_MPTCP's listener default, the fallback to TCP for 'prefer') is @mptcp/native's.
        socket = native.openSocket({
          kind: 'stream',
          address,
          role: 'listener',
          ...(mptcp ? { mptcp } : {}),
          nonBlocking: true,
        });
      } catch (err) {
        const code = errnoOf(err);
        const reason = code !== undefined ? mptcpUnavailableReason(code) : undefined;
        const message = messageOf(err);
        const hint =
          reason && !message.includes(mptcpUnavailableHint(reason)) ? ` (${mptcpUnavailableHint(reason)})` : '';
        throw new CliError(`-l ${text}: ${message}${hint}`, EXIT_ERROR, code);
      }
      if (socket.fallbackReason === 'disabled-by-env')
        warn(`MPTCP disabled by NODE_MPTCP=0: listening on ${text} with plain TCP`);
      else if (socket.fallbackReason !== undefined)
        warn(
          `MPTCP unavailable (${socket.fallbackCode ?? socket.fallbackReason}): listening on ${text} with plain TCP`,
        );
      const transport: DevSocket['transport'] =
        socket.transport ?? (address.family === 'unix' ? 'unix' : address.family === 'vsock' ? 'vsock' : 'tcp');
      const entry: DevSocket = {
        fd: socket.fd,
        label: formatSockAddr(socket.local),
        transport,
        inode: socketInode(socket.fd),
      };
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
