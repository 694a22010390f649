/**
 * The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) the proxy writes to
 * the backend before any client byte, so the backend sees the client's address instead of the
 * proxy's: HAProxy `accept-proxy`, nginx `proxy_protocol`, Postfix, Dovecot…
 */
import { isIPv4, isIPv6 } from 'node:net';
import { ipv6ToBytes } from '../netlink/mptcp-pm.js';

export type ProxyProtocolVersion = 'v1' | 'v2';

export interface ConnectionAddresses {
  /** Client address and port; undefined for a client without an IP address (AF_UNIX). */
  source?: { address: string; port: number } | undefined;
  /** The address and port the client connected to. */
  destination?: { address: string; port: number } | undefined;
}

/** 12-byte v2 signature. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

const unmap = (a: string): string => /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)?.[1] ?? a;

/** Both addresses in one family (IPv4-mapped IPv6 addresses become IPv4), or undefined (→ UNKNOWN/LOCAL). */
function sameFamily(
  c: ConnectionAddresses,
): { family: 4 | 6; src: string; dst: string; sport: number; dport: number } | undefined {
  if (!c.source || !c.destination) return undefined;
  const src = unmap(c.source.address);
  const dst = unmap(c.destination.address);
  if (isIPv4(src) && isIPv4(dst)) return { family: 4, src, dst, sport: c.source.port, dport: c.destination.port };
  if (isIPv6(src) && isIPv6(dst)) return { family: 6, src, dst, sport: c.source.port, dport: c.destination.port };
  return undefined;
}

/** `PROXY TCP4 1.2.3.4 5.6.7.8 1234 80\r\n`, or `PROXY UNKNOWN\r\n`. */
export function proxyHeaderV1(c: ConnectionAddresses): Buffer {
  const f = sameFamily(c);
  return Buffer.from(
    f ? `PROXY TCP${f.family} ${f.src} ${f.dst} ${f.sport} ${f.dport}\r\n` : 'PROXY UNKNOWN\r\n',
    'latin1',
  );
}

/** The binary v2 header: PROXY command with TCP over IPv4/IPv6, or the LOCAL command without addresses. */
export function proxyHeaderV2(c: ConnectionAddresses): Buffer {
  const f = sameFamily(c);
  if (!f) return Buffer.concat([PROXY_V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  const body =
    f.family === 4
      ? Buffer.concat([
          Buffer.from(f.src.split('.').map(Number)),
          Buffer.from(f.dst.split('.').map(Number)),
          Buffer.alloc(4),
        ])
      : Buffer.concat([ipv6ToBytes(f.src), ipv6ToBytes(f.dst), Buffer.alloc(4)]);
  body.writeUInt16BE(f.sport, body.length - 4);
  body.writeUInt16BE(f.dport, body.length - 2);
  const head = Buffer.from([0x21, f.family === 4 ? 0x11 : 0x21, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([PROXY_V2_SIGNATURE, head, body]);
}

export function proxyHeader(version: ProxyProtocolVersion, c: ConnectionAddresses): Buffer {
  return version === 'v1' ? proxyHeaderV1(c) : proxyHeaderV2(c);
}
