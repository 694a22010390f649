/**
 * `info --watch`: the kernel's MPTCP path-manager events as they happen (the mptcp_pm_events
 * multicast group, what `ip mptcp monitor` prints), and the changes of the kernel's MPTcpExt
 * counters (fallbacks, joins, ADD_ADDR…) between two looks. One line per event; JSON lines with
 * --json. No terminal control codes: the output is a log, whether or not it goes to a tty.
 */
import { MPTCP_PM_NAME } from '@mptcp/constants';
import { toJson } from '../json.js';
import { resolveFamily } from '../netlink/genl.js';
import { NETLINK_GENERIC } from '../netlink/message.js';
import { MPTCP_PM_EVENTS_GROUP } from '../netlink/mptcp-pm.js';
import { decodePmEvents, formatPmEvent, type MptcpEvent } from '../netlink/pm-events.js';
import { subscribeNetlink } from '../netlink/subscription.js';
import { netlinkRequest } from '../netlink/transport.js';
import { readMptcpCounters } from '../metrics/kernel-counters.js';

export interface WatchOptions {
  json: boolean;
  /** Only connections with one of these local/remote ports (and every later event of their token). */
  ports?: number[] | undefined;
  /** Seconds between two looks at the counters. */
  interval: number;
  write(line: string): void;
  /** Resolves when the watch must end (SIGINT/SIGTERM). */
  until: Promise<void>;
}

/** Streams events until `until` resolves. Throws when the mptcp_pm family or its group is missing. */
export async function watchMptcpEvents(opts: WatchOptions): Promise<void> {
  const family = resolveFamily(netlinkRequest, MPTCP_PM_NAME);
  const group = family.groups.get(MPTCP_PM_EVENTS_GROUP);
  if (group === undefined)
    throw new Error(
      `the kernel's ${MPTCP_PM_NAME} family has no ${MPTCP_PM_EVENTS_GROUP} multicast group (kernel older than 5.12?)`,
    );
  const tokens = new Set<string>();
  const wanted = (e: MptcpEvent): boolean => {
    if (!opts.ports) return true;
    if (e.token && tokens.has(e.token)) {
      if (e.event === 'closed') tokens.delete(e.token);
      return true;
    }
    const hit =
      (e.sport !== undefined && opts.ports.includes(e.sport)) ||
      (e.dport !== undefined && opts.ports.includes(e.dport));
    if (hit && e.token && e.event !== 'closed') tokens.add(e.token);
    return hit;
  };
  const emit = (e: MptcpEvent): void => {
    if (!wanted(e)) return;
    opts.write(
      opts.json ? toJson({ time: new Date().toISOString(), ...e }) : `${new Date().toISOString()} ${formatPmEvent(e)}`,
    );
  };
  let prev = readMptcpCounters();
  const lookAtCounters = (): void => {
    const cur = readMptcpCounters();
    const changed: Record<string, number> = {};
    for (const [k, v] of cur) {
      const d = v - (prev.get(k) ?? 0n);
      if (d !== 0n) changed[k] = Number(d);
    }
    prev = cur;
    if (Object.keys(changed).length === 0) return;
    opts.write(
      opts.json
        ? toJson({ time: new Date().toISOString(), event: 'counters', changed })
        : `${new Date().toISOString()} [${'COUNTERS'.padStart(18)}] ${Object.entries(changed)
            .map(([k, d]) => `${k}${d > 0 ? '+' : ''}${d}`)
            .join(' ')}`,
    );
  };
  const sub = await subscribeNetlink(NETLINK_GENERIC, [group], {
    onDatagram: (d) => {
      for (const e of decodePmEvents(d)) emit(e);
    },
    onOverrun: () =>
      opts.write(
        opts.json
          ? toJson({
              time: new Date().toISOString(),
              event: 'overrun',
              message: 'the kernel dropped events (receive queue full)',
            })
          : `${new Date().toISOString()} [${'OVERRUN'.padStart(18)}] the kernel dropped events (receive queue full)`,
      ),
  });
  const timer = setInterval(lookAtCounters, opts.interval * 1000);
  try {
    await opts.until;
  } finally {
    clearInterval(timer);
    sub.close();
    lookAtCounters();
  }
}
