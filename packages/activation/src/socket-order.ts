/**
 * The order of the fds an Accept=no service gets from its sockets (LISTEN_FDS, LISTEN_FDNAMES).
 * systemd 257 (service_collect_fds()) walks the service's TRIGGERED_BY dependency hashmap, keyed by
 * Unit pointers with a per-boot random hash key: the order is unspecified and changes from boot to
 * boot (fixtures/v257/sockets-order: Sockets=sa1.socket sb1.socket gave sa1:sb1 in one boot and
 * sb1:sa1 in another). We give a deterministic one that 257 can also give: the sockets named by
 * Sockets=, in the order written (drop-ins appended), then the other sockets that name the service
 * (Service=, the same-name socket) in load order.
 */
import type { ServiceUnit } from '@mptcp/unit';

export function inSocketsOrder<T extends { unit: { name: string } }>(service: ServiceUnit, sockets: T[]): T[] {
  if (sockets.length < 2 || service.sockets.length === 0) return sockets;
  const rank = new Map<string, number>();
  service.sockets.forEach((n, i) => {
    if (!rank.has(n)) rank.set(n, i);
  });
  const last = service.sockets.length;
  // A stable sort: the unnamed ones keep their order, after the named ones.
  return sockets
    .map((s, i) => ({ s, i, r: rank.get(s.unit.name) ?? last }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.s);
}
