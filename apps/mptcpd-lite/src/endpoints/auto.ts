/**
 * `run --endpoints auto`, as mptcpd's addr_adv plugin: one in-kernel path-manager endpoint per
 * usable interface address (link up, not loopback, routed; see usableAddresses), added when the
 * address appears and removed when it or its link goes. rtnetlink multicast events trigger a
 * reconciliation against a fresh dump, so a burst of events costs one pass and a lost event
 * (ENOBUFS) costs nothing. Endpoints this process did not add are never touched; its own are
 * removed when it stops.
 */
import { MptcpdLiteError } from '../errors.js';
import type { Logger } from '../log.js';
import { PathManager, pmFlagNames, readPathManagerAsync, type PmEndpoint } from '../netlink/mptcp-pm.js';
import {
  NETLINK_ROUTE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_LINK,
  usableAddressesAsync,
  type UsableAddress,
} from '../netlink/rtnetlink.js';
import { subscribeNetlink, type NetlinkSubscription } from '../netlink/subscription.js';
import type { AsyncNetlinkTransport, NetlinkTransport } from '../netlink/transport.js';
import { findOtherManager } from './other-manager.js';

export interface EndpointManagerOptions {
  /** Blocking transport, for the (rare, small) endpoint writes. */
  request: NetlinkTransport;
  /** Non-blocking transport, for the dumps each reconciliation makes. */
  requestAsync: AsyncNetlinkTransport;
  log: Logger;
  /** MPTCP_PM_ADDR_FLAG_* bits for the endpoints added. */
  flags: number;
  /** Process names of other managers to tolerate (e.g. NetworkManager with MPTCP disabled). */
  ignoreManagers?: readonly string[];
  /** Called after each reconciliation that changed something. */
  onChange?: (owned: PmEndpoint[]) => void;
}

export interface EndpointManager {
  /** The endpoints this manager added and still owns. */
  owned(): PmEndpoint[];
  /** Re-reads the addresses and endpoints now (events do this by themselves). */
  reconcile(): Promise<void>;
  /** Unsubscribes and removes the owned endpoints. */
  stop(): void;
}

export class OtherManagerError extends MptcpdLiteError {
  declare readonly code: 'ENDPOINT_MANAGER_CONFLICT';
  constructor(message: string) {
    super('ENDPOINT_MANAGER_CONFLICT', message);
    this.name = 'OtherManagerError';
  }
}

const key = (address: string): string => address.toLowerCase();

export async function startEndpointManager(opts: EndpointManagerOptions): Promise<EndpointManager> {
  const other = findOtherManager(opts.ignoreManagers);
  if (other) throw new OtherManagerError(`--endpoints auto: refusing to manage MPTCP endpoints: ${other.message}`);
  const pm = PathManager.open(opts.request);
  const { log } = opts;
  const owned = new Map<string, PmEndpoint>();

  const reconcileOnce = async (): Promise<void> => {
    let wanted: UsableAddress[];
    let existing: PmEndpoint[];
    try {
      wanted = await usableAddressesAsync(opts.requestAsync);
      existing = (await readPathManagerAsync(opts.requestAsync)).endpoints;
    } catch (err) {
      log.error(`endpoints: cannot read addresses or endpoints: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    // stop() ran while the dumps were in flight: it has removed what we own; add nothing now.
    if (stopped) return;
    const wantedByAddr = new Map(wanted.map((w) => [key(w.address), w]));
    const existingByAddr = new Map(existing.map((e) => [key(e.address), e]));
    let changed = false;
    // An owned endpoint that vanished (deleted by hand) is forgotten; it comes back at the next
    // rtnetlink event if its address is still usable (as mptcpd's addr_adv would re-announce it).
    for (const [k, ep] of owned) {
      if (!existing.some((e) => e.id === ep.id && key(e.address) === k)) owned.delete(k);
    }
    for (const [k, ep] of [...owned]) {
      const w = wantedByAddr.get(k);
      if (w && w.ifindex === ep.ifindex) continue;
      try {
        pm.remove({ id: ep.id });
        log.notice(
          `endpoints: removed ${ep.address} id ${ep.id}${ep.dev ? ` dev ${ep.dev}` : ''} (${w ? 'moved to another interface' : 'address or link gone'})`,
        );
      } catch (err) {
        log.warning(
          `endpoints: could not remove ${ep.address} id ${ep.id}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      owned.delete(k);
      existingByAddr.delete(k);
      changed = true;
    }
    for (const [k, w] of wantedByAddr) {
      if (owned.has(k) || existingByAddr.has(k)) continue;
      try {
        pm.add({ address: w.address, flags: opts.flags, ifindex: w.ifindex });
      } catch (err) {
        log.warning(
          `endpoints: could not add ${w.address} dev ${w.dev}: ${err instanceof Error ? err.message : String(err)}`,
        );
        continue;
      }
      const added = pm.read().endpoints.find((e) => key(e.address) === k);
      if (!added) continue;
      const ep: PmEndpoint = { ...added, dev: w.dev };
      owned.set(k, ep);
      log.notice(`endpoints: added ${ep.address} id ${ep.id} ${pmFlagNames(opts.flags).join(' ')} dev ${w.dev}`);
      changed = true;
    }
    if (changed) opts.onChange?.([...owned.values()]);
  };

  // One pass at a time; events during a pass ask for exactly one more (a link going down announces
  // the link, its addresses and its routes: one burst, one or two passes).
  let running: Promise<void> | undefined;
  let again = false;
  const reconcile = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        if (!stopped) await reconcileOnce();
      } while (again && !stopped);
    })().finally(() => (running = undefined));
    return running;
  };
  const schedule = (): void => void reconcile();
  let stopped = false;
  const sub: NetlinkSubscription = await subscribeNetlink(
    NETLINK_ROUTE,
    [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE],
    {
      onDatagram: schedule,
      onOverrun: schedule,
      ref: false,
    },
  );
  await reconcile();
  return {
    owned: () => [...owned.values()],
    reconcile,
    stop() {
      if (stopped) return;
      stopped = true;
      sub.close();
      for (const ep of owned.values()) {
        try {
          pm.remove({ id: ep.id });
          log.info(`endpoints: removed ${ep.address} id ${ep.id} (stopping)`);
        } catch {
          // already gone
        }
      }
      owned.clear();
    },
  };
}
