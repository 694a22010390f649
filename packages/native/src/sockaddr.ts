/** Conversions between SockAddr, the addon's address objects, and raw struct sockaddr bytes. */
import { isIPv4, isIPv6 } from 'node:net';
import type { NativeSockAddr, NativeSockAddrIn } from './binding.js';
import { MptcpSocketError } from './errors.js';
import type { SockAddr } from './types.js';

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/** Addon address → public SockAddr (an undecodable family is EAFNOSUPPORT). */
export function fromNative(a: NativeSockAddr): SockAddr {
  if (a.family === 'unknown') {
    throw new MptcpSocketError({ code: 'EAFNOSUPPORT', errno: 97, message: `address family ${a.af} is not supported` });
  }
  return a;
}

/** Public SockAddr → addon address. */
export function toNative(a: SockAddr): NativeSockAddrIn {
  return a;
}

/** An IP literal and port as a SockAddr, or undefined when `host` is not an IP literal. */
export function ipSockAddr(host: string, port: number): (SockAddr & { family: 'inet' | 'inet6' }) | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv4(bare)) return { family: 'inet', address: bare, port };
  const pct = bare.indexOf('%');
  const addr = pct >= 0 ? bare.slice(0, pct) : bare;
  if (isIPv6(addr)) return { family: 'inet6', address: addr, port };
  return undefined;
}

/** "1.2.3.4:80", "[::1]:80", "@abstract", "/path". */
export function formatSockAddr(a: SockAddr): string {
  switch (a.family) {
    case 'inet':
      return `${a.address}:${a.port}`;
    case 'inet6':
      return `[${a.address}]:${a.port}`;
    case 'unix':
      return a.abstract ? `@${a.path}` : a.path;
    case 'vsock':
      return `vsock:${a.cid}:${a.port}`;
  }
}

function ipv6String(b: Buffer): string {
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero words, as inet_ntop does.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best >= 0) {
    const head = words.slice(0, best).join(':');
    const tail = words.slice(best + bestLen).join(':');
    const v4mapped = best === 0 && bestLen === 5 && words[5] === 'ffff';
    if (v4mapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
    return `${head}::${tail}`;
  }
  return words.join(':');
}

/**
 * Decodes a struct sockaddr_in / sockaddr_in6 from kernel bytes (MPTCP_SUBFLOW_ADDRS,
 * MPTCP_FULL_INFO). Returns undefined for other families.
 */
export function decodeSockAddr(buf: Buffer, offset = 0): SockAddr | undefined {
  if (buf.length < offset + 2) return undefined;
  const af = buf.readUInt16LE(offset);
  if (af === AF_INET && buf.length >= offset + 8) {
    const port = buf.readUInt16BE(offset + 2);
    return {
      family: 'inet',
      address: `${buf[offset + 4]}.${buf[offset + 5]}.${buf[offset + 6]}.${buf[offset + 7]}`,
      port,
    };
  }
  if (af === AF_INET6 && buf.length >= offset + 28) {
    const port = buf.readUInt16BE(offset + 2);
    const flowinfo = buf.readUInt32BE(offset + 4);
    const address = ipv6String(buf.subarray(offset + 8, offset + 24));
    const scopeId = buf.readUInt32LE(offset + 24);
    return { family: 'inet6', address, port, flowinfo, scopeId };
  }
  if (af === AF_UNIX) return { family: 'unix', path: '', abstract: false };
  return undefined;
}
