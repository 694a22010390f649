/**
 * IPAddressDeny=/IPAddressAllow= on a .socket unit. systemd 257 applies them with cgroup BPF to the
 * socket unit's listeners: a denied client's SYN is dropped (its connect times out; /tmp/audit ipacl:
 * ip.socket Accept=yes, IPAddressDeny=any, IPAddressAllow=10.9.9.9, a client from 127.0.0.1).
 * mptcpd-lite does not filter by address, so such a socket must not serve silently: its start is
 * refused (fail closed, naming the directive), unless the operator accepts it unenforced with
 * --allow-unenforced-sandbox (then a warning, once per start). IPAddressAllow= alone restricts
 * nothing (an allow list without a deny list lets everything in), nor does a deny list emptied by a
 * later `IPAddressDeny=`.
 */
import type { SocketUnit } from '@mptcp/unit';
import { ActivationError } from './errors.js';

/** The effective IPAddressDeny= entries of `unit` (after the last empty assignment), or []. */
export function socketIpDeny(unit: SocketUnit): string[] {
  const values = unit.extra?.['IPAddressDeny'] ?? [];
  const last = values.lastIndexOf('');
  return values.slice(last + 1).flatMap((v) => v.split(/\s+/).filter(Boolean));
}

/**
 * Throws (SANDBOX_NOT_ENFORCED) when `unit` asks for an IP address filter, unless `allowed`; then
 * returns the warning to log. Undefined when there is nothing to filter.
 */
export function checkSocketIpAcl(unit: SocketUnit, allowed: boolean): string | undefined {
  const deny = socketIpDeny(unit);
  if (deny.length === 0) return undefined;
  const what = `IPAddressDeny=${deny.join(' ')}`;
  if (allowed)
    return `${what} is not enforced by mptcpd-lite; listening without an address filter (--allow-unenforced-sandbox).`;
  throw new ActivationError(
    'SANDBOX_NOT_ENFORCED',
    `${what} is not enforced by mptcpd-lite for sockets: refusing to listen. Remove IPAddressDeny=/IPAddressAllow= (filter with a firewall instead), or run the daemon with --allow-unenforced-sandbox to listen without the filter.`,
    { unit: unit.name },
  );
}
