/**
 * Names and variables for Accept=yes instances, as systemd 257 builds them
 * (src/core/socket.c instance_from_socket(), service.c REMOTE_ADDR/REMOTE_PORT, sockaddr_pretty()).
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { PeerCredentials, SockAddr } from '@mptcp/native';
import type { ServiceUnit } from '@mptcp/unit';

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** The IPv4 form of a v4-mapped IPv6 address, or undefined. */
function v4Mapped(address: string): string | undefined {
  return V4_MAPPED.exec(address)?.[1];
}

/**
 * The instance string of connection number `n` (a per-socket counter from 0):
 * `N-LOCAL:LPORT-REMOTE:RPORT` for IP (IPv6 without brackets; the IPv4 form when *both* ends are
 * v4-mapped), `N-PID-UID` or `N-unknown` for AF_UNIX, `N-LCID:LPORT-RCID:RPORT` for vsock.
 */
export function connectionInstance(
  n: number,
  local: SockAddr,
  remote: SockAddr,
  credentials?: PeerCredentials | null,
): string {
  if (local.family === 'inet' && remote.family === 'inet') {
    return `${n}-${local.address}:${local.port}-${remote.address}:${remote.port}`;
  }
  if (local.family === 'inet6' && remote.family === 'inet6') {
    const l4 = v4Mapped(local.address);
    const r4 = v4Mapped(remote.address);
    if (l4 !== undefined && r4 !== undefined) return `${n}-${l4}:${local.port}-${r4}:${remote.port}`;
    return `${n}-${local.address}:${local.port}-${remote.address}:${remote.port}`;
  }
  if (local.family === 'vsock' && remote.family === 'vsock') {
    return `${n}-${local.cid}:${local.port}-${remote.cid}:${remote.port}`;
  }
  if (local.family === 'unix') {
    return credentials ? `${n}-${credentials.pid}-${credentials.uid}` : `${n}-unknown`;
  }
  return `${n}-unknown`;
}

/** `<prefix>@<instance>.service` for a socket unit name such as `echo.socket` or `echo@x.socket`. */
export function instanceServiceName(socketUnit: string, instance: string): string {
  return `${templatePrefix(socketUnit)}@${instance}.service`;
}

/** `<prefix>@.service`: the template an Accept=yes socket instantiates. */
export function templateNameFor(socketUnit: string): string {
  return `${templatePrefix(socketUnit)}@.service`;
}

/** The unit name prefix: without suffix and without an instance part (unit_name_to_prefix()). */
export function templatePrefix(unitName: string): string {
  const dot = unitName.lastIndexOf('.');
  const base = dot > 0 ? unitName.slice(0, dot) : unitName;
  const at = base.indexOf('@');
  return at >= 0 ? base.slice(0, at) : base;
}

/** Interface name for an IPv6 scope id, as sockaddr_pretty() appends it (`%eth0`); the number if unknown. */
export function interfaceName(index: number): string {
  try {
    for (const name of readdirSync('/sys/class/net')) {
      const idx = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
      if (idx === index) return name;
    }
  } catch {
    // No sysfs (containers without /sys): fall through to the number, which is still unambiguous.
  }
  return String(index);
}

/** The peer's address without port, the way systemd prints it: v4-mapped as IPv4, `%ifname` scope. */
export function prettyAddress(addr: SockAddr): string | undefined {
  switch (addr.family) {
    case 'inet':
      return addr.address;
    case 'inet6': {
      const v4 = v4Mapped(addr.address);
      if (v4 !== undefined) return v4;
      return addr.scopeId ? `${addr.address}%${interfaceName(addr.scopeId)}` : addr.address;
    }
    case 'vsock':
      // sockaddr_pretty() without port: "vsock:CID".
      return `vsock:${addr.cid}`;
    case 'unix':
      if (addr.path === '') return undefined;
      return addr.abstract ? `@${addr.path}` : addr.path;
  }
}

/**
 * REMOTE_ADDR / REMOTE_PORT for an instance: IP and vsock peers get both; AF_UNIX peers get REMOTE_ADDR
 * only when they are bound to a name (257+).
 */
export function remoteEnvironment(remote: SockAddr): Record<string, string> {
  const env: Record<string, string> = {};
  const addr = prettyAddress(remote);
  if (addr !== undefined) env.REMOTE_ADDR = addr;
  if (remote.family === 'inet' || remote.family === 'inet6' || remote.family === 'vsock')
    env.REMOTE_PORT = String(remote.port);
  return env;
}

/**
 * The key MaxConnectionsPerSource= counts by: the peer IP (v4-mapped folded to IPv4), the vsock CID,
 * or the peer UID for AF_UNIX (256+).
 */
export function sourceKey(remote: SockAddr, credentials?: PeerCredentials | null): string {
  switch (remote.family) {
    case 'inet':
      return remote.address;
    case 'inet6':
      return v4Mapped(remote.address) ?? remote.address;
    case 'vsock':
      return `cid:${remote.cid}`;
    case 'unix':
      return credentials ? `uid:${credentials.uid}` : 'uid:unknown';
  }
}

/**
 * The connection's peer as getpeername_pretty() prints it, from an Accept=yes instance's name
 * (connectionInstance()): `127.0.0.1:41880`, `[::1]:41880`, `vsock:3:1024`, `PID 12/UID 0`. systemd
 * makes it the instance's description (`DESCRIPTION (PEER)`, or PEER alone).
 */
export function instancePeer(serviceName: string): string | undefined {
  const m = /@\d+-(.+)\.service$/.exec(serviceName);
  if (!m) return undefined;
  const rest = m[1] as string;
  const unix = /^(\d+)-(\d+)$/.exec(rest);
  if (unix) return `PID ${unix[1]}/UID ${unix[2]}`;
  const remote = rest.slice(rest.lastIndexOf('-') + 1);
  const colon = remote.lastIndexOf(':');
  if (colon < 0) return undefined;
  const [addr, port] = [remote.slice(0, colon), remote.slice(colon + 1)];
  if (addr.includes(':')) return `[${addr}]:${port}`;
  if (/^\d+$/.test(addr)) return `vsock:${addr}:${port}`;
  return `${addr}:${port}`;
}

/** The template's own description of each instance withPeerDescription() described. */
const ownDescriptions = new WeakMap<ServiceUnit, string | undefined>();

/**
 * An Accept=yes instance's description (service_set_socket_fd()): the template's with the peer,
 * `DESCRIPTION (PEER)`, or PEER alone; `own` is the template's (undefined: none).
 */
export function instanceDescription(serviceName: string, own: string | undefined): string | undefined {
  const peer = instancePeer(serviceName);
  return peer === undefined ? own : own !== undefined ? `${own} (${peer})` : peer;
}

/** The instance of a connection with its description (instanceDescription()): what its log lines name. */
export function withPeerDescription(unit: ServiceUnit): ServiceUnit {
  if (ownDescriptions.has(unit)) return unit;
  const own = unit.unit.description;
  const description = instanceDescription(unit.name, own);
  if (description === own) return unit;
  const described: ServiceUnit = { ...unit, unit: { ...unit.unit, description } };
  ownDescriptions.set(described, own);
  return described;
}

/** The template's own description of an instance (before withPeerDescription()). */
export function ownDescription(unit: ServiceUnit): string | undefined {
  return ownDescriptions.has(unit) ? ownDescriptions.get(unit) : unit.unit.description;
}
