/**
 * IP protocol numbers (IANA "Assigned Internet Protocol Numbers", as in glibc's <netinet/in.h>).
 * Each constant notes the Linux kernel version that introduced socket support where that matters.
 */

/** Dummy protocol for TCP/UDP sockets: "let the kernel choose" (protocol 0). */
export const IPPROTO_IP = 0;
/** Transmission Control Protocol. */
export const IPPROTO_TCP = 6;
/** User Datagram Protocol. */
export const IPPROTO_UDP = 17;
/** Stream Control Transmission Protocol (Linux 2.6, CONFIG_IP_SCTP). */
export const IPPROTO_SCTP = 132;
/** UDP-Lite, RFC 3828 (Linux 2.6.20). */
export const IPPROTO_UDPLITE = 136;
/**
 * Multipath TCP, RFC 8684 (Linux 5.6). Not an IANA number: Linux uses IPPROTO_TCP + 256 so that
 * the value can never collide with a real IP protocol. glibc defines it since 2.32; systemd's
 * missing_network.h carries the same fallback.
 */
export const IPPROTO_MPTCP = 262;

/**
 * The protocol name table systemd generates from <netinet/in.h> (src/shared/ip-protocol-list.c),
 * lower-case names without the IPPROTO_ prefix. Only names matter for SocketProtocol=; the full
 * table is needed so that e.g. "tcp" is a *known but disallowed* protocol (EPROTONOSUPPORT), not an
 * unknown name (EINVAL).
 */
export const IP_PROTOCOL_NAMES: Readonly<Record<string, number>> = Object.freeze({
  ip: 0,
  icmp: 1,
  igmp: 2,
  ipip: 4,
  tcp: 6,
  egp: 8,
  pup: 12,
  udp: 17,
  idp: 22,
  tp: 29,
  dccp: 33,
  ipv6: 41,
  rsvp: 46,
  gre: 47,
  esp: 50,
  ah: 51,
  mtp: 92,
  beetph: 94,
  encap: 98,
  pim: 103,
  comp: 108,
  l2tp: 115,
  sctp: 132,
  udplite: 136,
  mpls: 137,
  ethernet: 143,
  raw: 255,
  mptcp: 262,
});

/** Reverse of {@link IP_PROTOCOL_NAMES}: protocol number → name. */
export function ipProtocolName(protocol: number): string | undefined {
  for (const [name, value] of Object.entries(IP_PROTOCOL_NAMES)) {
    if (value === protocol) return name;
  }
  return undefined;
}

/** The protocols a systemd 257 `SocketProtocol=` accepts (load-fragment.c parse_socket_protocol). */
export const SOCKET_PROTOCOLS_V257: readonly number[] = Object.freeze([IPPROTO_UDPLITE, IPPROTO_SCTP, IPPROTO_MPTCP]);
/** The protocols systemd ≤ 256 accepts: MPTCP there is "Failed to parse socket protocol, ignoring". */
export const SOCKET_PROTOCOLS_V256: readonly number[] = Object.freeze([IPPROTO_UDPLITE, IPPROTO_SCTP]);

export type ProtocolParseResult =
  { ok: true; protocol: number } | { ok: false; error: 'EINVAL' | 'EPROTONOSUPPORT' | 'ERANGE' };

/**
 * systemd's parse_ip_protocol(): a name (tried as written, then lower-cased) or a decimal number.
 * The empty string is IPPROTO_IP (0), as in systemd.
 */
export function parseIpProtocol(value: string): ProtocolParseResult {
  if (value === '') return { ok: true, protocol: IPPROTO_IP };
  const lower = value.toLowerCase();
  if (Object.prototype.hasOwnProperty.call(IP_PROTOCOL_NAMES, lower)) {
    return { ok: true, protocol: IP_PROTOCOL_NAMES[lower] as number };
  }
  // safe_atoi(): strtol with systemd's mangle_base(): base 0 (decimal, 0x hex, 0 octal) plus the
  // 0o (octal) and 0b (binary) prefixes; optional sign; nothing after the number.
  const m = /^[ \t\n\r\f\v]*([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9]\d*)$/.exec(value);
  if (!m) return { ok: false, error: 'EINVAL' };
  const magnitude = numberWithPrefix(m[2] as string);
  const n = m[1] === '-' ? -magnitude : magnitude;
  if (n > 2_147_483_647 || n < -2_147_483_648) return { ok: false, error: 'ERANGE' };
  if (n < 0) return { ok: false, error: 'ERANGE' };
  return { ok: true, protocol: n };
}

function numberWithPrefix(digits: string): number {
  const prefix = digits.slice(0, 2).toLowerCase();
  if (prefix === '0x') return Number.parseInt(digits.slice(2), 16);
  if (prefix === '0o') return Number.parseInt(digits.slice(2), 8);
  if (prefix === '0b') return Number.parseInt(digits.slice(2), 2);
  return digits.length > 1 && digits.startsWith('0') ? Number.parseInt(digits, 8) : Number(digits);
}

/**
 * systemd's SocketProtocol= value parser. `version` selects the rule set: 257 (default) accepts
 * udplite, sctp and mptcp; 256 and older accept only udplite and sctp.
 * Errors: unknown name → EINVAL; a known protocol that is not allowed (tcp, 6, ip, the empty
 * string) → EPROTONOSUPPORT; a negative number → ERANGE. The caller turns an error into
 * "Failed to parse socket protocol, ignoring: VALUE" and keeps the previous value.
 */
export function parseSocketProtocol(value: string, version = 257): ProtocolParseResult {
  const parsed = parseIpProtocol(value);
  if (!parsed.ok) return parsed;
  const allowed = version >= 257 ? SOCKET_PROTOCOLS_V257 : SOCKET_PROTOCOLS_V256;
  if (!allowed.includes(parsed.protocol)) return { ok: false, error: 'EPROTONOSUPPORT' };
  return parsed;
}
