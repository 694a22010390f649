/**
 * Conversions between @mptcp/unit's ListenAddress, @mptcp/native's SockAddr and the strings users
 * see in status output.
 */
import { readFileSync } from 'node:fs';
import type { SockAddr } from '@mptcp/native';
import type { ListenAddress } from '@mptcp/unit';

/** The socket address to bind, or undefined for non-socket Listen kinds (FIFO, special, …). */
export function toSockAddr(addr: ListenAddress): SockAddr | undefined {
  switch (addr.family) {
    case 'inet':
      return { family: 'inet', address: addr.address, port: addr.port };
    case 'inet6': {
      const scopeId = addr.scopeId ?? (addr.ifname !== undefined ? ifindex(addr.ifname) : undefined);
      return { family: 'inet6', address: addr.address, port: addr.port, ...(scopeId !== undefined ? { scopeId } : {}) };
    }
    case 'unix':
      return { family: 'unix', path: addr.path, abstract: addr.abstract };
    case 'vsock':
      return { family: 'vsock', cid: addr.cid, port: addr.port };
    default:
      return undefined;
  }
}

function ifindex(name: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** `127.0.0.1:80`, `[::1]:80`, `/run/x.sock`, `@abstract`, `vsock:2:80`. */
export function formatSockAddr(addr: SockAddr): string {
  switch (addr.family) {
    case 'inet':
      return `${addr.address}:${addr.port}`;
    case 'inet6':
      return `[${addr.address}]:${addr.port}`;
    case 'unix':
      return addr.abstract ? `@${addr.path}` : addr.path;
    case 'vsock':
      return `vsock:${addr.cid}:${addr.port}`;
  }
}

/** The port of an IP or vsock address. */
export function portOf(addr: SockAddr): number | undefined {
  return addr.family === 'unix' ? undefined : addr.port;
}
