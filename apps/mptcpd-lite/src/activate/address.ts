/**
 * systemd's socket_address_parse() for `-l/--listen`, the subset systemd-socket-activate users write:
 * `PORT` ([::]:PORT, dual-stack), `IPV4:PORT`, `[IPV6]:PORT` (optionally `%IFNAME`), `/path`,
 * `@abstract`, `vsock:CID:PORT`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { SockAddr } from '../platform/native-types.js';

export class AddressError extends Error {
  readonly code = 'EINVAL';
}

function parsePort(text: string, whole: string): number {
  if (!/^\d+$/.test(text)) throw new AddressError(`Failed to parse address value '${whole}': Invalid argument`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new AddressError(`Failed to parse address value '${whole}': Invalid argument`);
  return n;
}

export function parseListenAddress(value: string): SockAddr {
  if (value.startsWith('/')) {
    if (Buffer.byteLength(value) > 107) throw new AddressError(`Failed to parse address value '${value}': File name too long`);
    return { family: 'unix', path: value, abstract: false };
  }
  if (value.startsWith('@')) return { family: 'unix', path: value.slice(1), abstract: true };
  const vsock = /^vsock:(\d+|x)?:(\d+)$/.exec(value);
  if (vsock) return { family: 'vsock', cid: vsock[1] === undefined || vsock[1] === 'x' ? 0xffffffff : Number(vsock[1]), port: Number(vsock[2]) };
  if (/^\d+$/.test(value)) return { family: 'inet6', address: '::', port: parsePort(value, value) };
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (v6) {
    const [addr, scope] = (v6[1] ?? '').split('%');
    if (!addr || !isIPv6(addr)) throw new AddressError(`Failed to parse address value '${value}': Invalid argument`);
    return { family: 'inet6', address: addr, port: parsePort(v6[2] ?? '', value), ...(scope ? { scopeId: /^\d+$/.test(scope) ? Number(scope) : 0 } : {}) };
  }
  const v4 = /^([0-9.]+):(\d+)$/.exec(value);
  if (v4 && isIPv4(v4[1] ?? '')) return { family: 'inet', address: v4[1] ?? '', port: parsePort(v4[2] ?? '', value) };
  throw new AddressError(`Failed to parse address value '${value}': Invalid argument`);
}

/** The address as systemd-socket-activate prints it ("Listening on 127.0.0.1:2000 as 3."). */
export function formatAddress(a: SockAddr): string {
  switch (a.family) {
    case 'inet':
      return `${a.address}:${a.port}`;
    case 'inet6':
      return `[${a.address}]:${a.port}`;
    case 'unix':
      return a.abstract ? `@${a.path}` : a.path || '(unnamed)';
    case 'vsock':
      return `vsock:${a.cid}:${a.port}`;
  }
}
