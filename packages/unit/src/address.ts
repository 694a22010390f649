/**
 * socket_address_parse() (src/shared/socket-netlink.c, v256), socket_address_parse_netlink() and
 * socket_address_print(): the address forms of ListenStream=/ListenDatagram=/ListenSequentialPacket=
 * and ListenNetlink=.
 */
import { fail, ok, type Parsed } from './errno.js';
import { formatIPv6, parseIPv4, parseIPv6 } from './inet.js';
import { ifnameValid, sysfsInterfaceResolver, type InterfaceResolver } from './interfaces.js';
import type { ListenAddress } from './model.js';
import { parseIpPort, parseUnsignedBig } from './values/integer.js';

export interface AddressOptions {
  /** socket_ipv6_is_supported(): port-only addresses become `[::]:PORT` (true) or `0.0.0.0:PORT`. Default true. */
  ipv6?: boolean;
  /** Resolves `%IFNAME` scopes. Default: /sys/class/net. */
  interfaces?: InterfaceResolver;
}

/** sizeof(sockaddr_un.sun_path) - 1: longest path (or `@name`) that still fits with its NUL. */
export const UNIX_PATH_MAX = 107;
/** VMADDR_CID_ANY. */
export const VMADDR_CID_ANY = 0xffffffff;

const VSOCK_PREFIXES: ReadonlyArray<readonly [string, 'stream' | 'dgram' | 'seqpacket' | undefined]> = [
  ['vsock:', undefined],
  ['vsock-dgram:', 'dgram'],
  ['vsock-seqpacket:', 'seqpacket'],
  ['vsock-stream:', 'stream'],
];

function parseVsock(
  s: string,
  prefixLen: number,
  type: 'stream' | 'dgram' | 'seqpacket' | undefined,
): Parsed<ListenAddress> {
  const rest = s.slice(prefixLen);
  const colon = rest.indexOf(':');
  if (colon < 0) return fail('EINVAL');
  const port = parseUnsignedBig(rest.slice(colon + 1), { base: 0 });
  if (!port.ok) return port;
  if (port.value === 0xffffffffn) return fail('EINVAL');
  const c = rest.slice(0, colon);
  let cid: number;
  if (c === '') cid = VMADDR_CID_ANY;
  else if (c === 'hypervisor') cid = 0;
  else if (c === 'local') cid = 1;
  else if (c === 'host') cid = 2;
  else {
    const r = parseUnsignedBig(c, { base: 0 });
    if (!r.ok) return r;
    cid = Number(r.value);
  }
  const a: ListenAddress = { family: 'vsock', cid, port: Number(port.value) };
  if (type) a.type = type;
  return ok(a);
}

/**
 * in_addr_port_ifindex_name_from_string_auto() restricted to what socket_address_parse() allows:
 * `a.b.c.d:port[%ifname]`, `[v6]:port[%ifname]`; returns port 0 when the string had no port.
 */
function parseInetWithScope(input: string, resolver: InterfaceResolver): Parsed<ListenAddress> {
  let s = input;
  let ifindex = 0;
  let ifname: string | undefined;
  if (s.includes('#')) return fail('EINVAL');
  const pct = s.indexOf('%');
  if (pct >= 0) {
    const name = s.slice(pct + 1);
    if (name === '' || !ifnameValid(name, { alternative: true, numeric: true })) return fail('EINVAL');
    if (/^\d+$/.test(name) && Number(name) > 0 && Number(name) <= 0x7fffffff) {
      ifindex = Number(name);
      ifname = resolver.nameOf(ifindex);
    } else {
      const idx = resolver.indexOf(name);
      if (idx === undefined) return fail('ENODEV');
      ifindex = idx;
      ifname = name;
    }
    s = s.slice(0, pct);
  }
  const m = s.lastIndexOf(':');
  let family: 'inet' | 'inet6';
  let words: number[] | undefined;
  let octets: number[] | undefined;
  let port = 0;
  if (m >= 0) {
    if (s[0] === '[') {
      if (s[m - 1] !== ']') return fail('EINVAL');
      family = 'inet6';
      const p = parseIpPort(s.slice(m + 1));
      if (!p.ok) return p;
      port = p.value;
      words = parseIPv6(s.slice(1, m - 1));
      if (!words) return fail('EINVAL');
    } else {
      words = parseIPv6(s);
      if (words) family = 'inet6';
      else {
        family = 'inet';
        octets = parseIPv4(s.slice(0, m));
        if (!octets) return fail('EINVAL');
        const p = parseIpPort(s.slice(m + 1));
        if (!p.ok) return p;
        port = p.value;
      }
    }
  } else {
    family = 'inet';
    octets = parseIPv4(s);
    if (!octets) return fail('EINVAL');
  }
  if (port === 0) return fail('EINVAL');
  if (family === 'inet') {
    const a: ListenAddress = { family: 'inet', address: (octets as number[]).join('.'), port };
    if (ifname !== undefined) a.ifname = ifname;
    return ok(a);
  }
  const a: ListenAddress = { family: 'inet6', address: formatIPv6(words as number[]), port };
  if (ifindex !== 0) {
    a.scopeId = ifindex;
    if (ifname !== undefined) a.ifname = ifname;
  }
  return ok(a);
}

/** socket_address_parse(): AF_UNIX path/abstract, vsock, port-only, IPv4:port, [IPv6]:port[%scope]. */
export function parseSocketAddress(s: string, options: AddressOptions = {}): Parsed<ListenAddress> {
  const first = s[0];
  if (first === '/' || first === '@') {
    if (s.length < 2) return fail('EINVAL');
    if (s.length > UNIX_PATH_MAX) return fail(first === '/' ? 'ENAMETOOLONG' : 'EINVAL');
    return ok(
      first === '@'
        ? { family: 'unix', path: s.slice(1), abstract: true }
        : { family: 'unix', path: s, abstract: false },
    );
  }
  // Every vsock form starts with "vsock" (one test for the common case, no destructuring per row).
  if (s.startsWith('vsock')) {
    for (const row of VSOCK_PREFIXES) if (s.startsWith(row[0])) return parseVsock(s, row[0].length, row[1]);
  }
  if (IPV4_PORT.test(s)) {
    // Fast path, same result as the port-only check and parseInetWithScope() below: a leading run
    // of 1-3 digits then `.` is never a port (EINVAL, not ERANGE), one colon is never an IPv6
    // address, and there is no scope.
    const m = s.indexOf(':');
    const octets = parseIPv4(s.slice(0, m));
    if (!octets) return fail('EINVAL');
    const digits = s.slice(m + 1);
    let port: number;
    if (PLAIN_PORT.test(digits)) {
      port = Number(digits);
      if (port > 0xffff) return fail('ERANGE');
    } else {
      const p = parseIpPort(digits);
      if (!p.ok) return p;
      port = p.value;
    }
    return ok({ family: 'inet', address: octets.join('.'), port });
  }
  const port = parseIpPort(s);
  if (!port.ok && port.error === 'ERANGE') return port;
  if (port.ok) {
    return ok(
      options.ipv6 === false
        ? { family: 'inet', address: '0.0.0.0', port: port.value }
        : { family: 'inet6', address: '::', port: port.value },
    );
  }
  return parseInetWithScope(s, options.interfaces ?? sysfsInterfaceResolver);
}

/** `a.b.c.d:port` candidates: 1-3 digits, a dot, digits and dots, one colon, digits. */
const IPV4_PORT = /^[0-9]{1,3}\.[0-9.]*:[0-9]+$/;
/** A port strtoul() reads as is: no leading zero, at most 5 digits. */
const PLAIN_PORT = /^[1-9][0-9]{0,4}$/;

/** netlink_family_table (socket-util.c): name → NETLINK_* number. */
export const NETLINK_FAMILIES: Readonly<Record<string, number>> = {
  route: 0,
  firewall: 3,
  'inet-diag': 4,
  nflog: 5,
  xfrm: 6,
  selinux: 7,
  iscsi: 8,
  audit: 9,
  'fib-lookup': 10,
  connector: 11,
  netfilter: 12,
  'ip6-fw': 13,
  dnrtmsg: 14,
  'kobject-uevent': 15,
  generic: 16,
  scsitransport: 18,
  ecryptfs: 19,
  rdma: 20,
};

/** socket_address_parse_netlink(): `FAMILY [GROUP]`. */
export function parseNetlinkAddress(s: string): Parsed<ListenAddress & { family: 'netlink' }> {
  let i = 0;
  const WS = ' \t\n\r';
  while (i < s.length && WS.includes(s[i] as string)) i++;
  let word = '';
  while (i < s.length && !WS.includes(s[i] as string)) {
    if (s[i] === '\\' && i + 1 < s.length) i++;
    word += s[i];
    i++;
  }
  while (i < s.length && WS.includes(s[i] as string)) i++;
  if (word === '') return fail('EINVAL');
  let protocolNumber: number;
  if (Object.prototype.hasOwnProperty.call(NETLINK_FAMILIES, word)) protocolNumber = NETLINK_FAMILIES[word] as number;
  else {
    const n = parseUnsignedBig(word, { max: 0x7fffffffn });
    if (!n.ok) return fail('EINVAL');
    protocolNumber = Number(n.value);
  }
  let group = 0;
  const rest = s.slice(i);
  if (rest !== '') {
    const g = parseUnsignedBig(rest);
    if (!g.ok) return g;
    group = Number(g.value);
  }
  const name =
    Object.keys(NETLINK_FAMILIES).find((k) => NETLINK_FAMILIES[k] === protocolNumber) ?? String(protocolNumber);
  return ok({ family: 'netlink', protocol: name, protocolNumber, group });
}

/** socket_address_print(): `[::1]:80%lo`, `1.2.3.4:80`, `/path`, `@abstract`, `vsock:CID:PORT`, `route 1`. */
export function printSocketAddress(a: ListenAddress, resolver: InterfaceResolver = sysfsInterfaceResolver): string {
  switch (a.family) {
    case 'inet':
      return `${a.address}:${a.port}`;
    case 'inet6': {
      let scope = '';
      if (a.scopeId) scope = `%${a.ifname ?? resolver.nameOf(a.scopeId) ?? String(a.scopeId)}`;
      return `[${a.address}]:${a.port}${scope}`;
    }
    case 'unix':
      return a.abstract ? `@${a.path}` : a.path;
    case 'vsock':
      return a.cid === VMADDR_CID_ANY ? `vsock::${a.port}` : `vsock:${a.cid}:${a.port}`;
    case 'netlink':
      return `${a.protocol} ${a.group}`;
    case 'path':
      return a.path;
  }
}
