/**
 * A netlink socket that stays open and receives multicast groups (rtnetlink link/address/route
 * changes, the mptcp_pm "mptcp_pm_events" group) without blocking the event loop: @mptcp/native's
 * netlinkSubscribe() opens it (non-blocking, bound, joined to the groups), libuv polls the fd
 * (watchReadable) and each readable wake-up drains the queued datagrams with read(2).
 */
import { closeSync, readSync } from 'node:fs';
import { netlinkSubscribe, watchReadable, type FdWatcher } from '@mptcp/native';

export interface NetlinkSubscription {
  /** Stops watching and closes the socket; idempotent. */
  close(): void;
}

export interface SubscribeOptions {
  /** Each received datagram (one or more netlink messages). */
  onDatagram(datagram: Buffer): void;
  /** The kernel dropped messages (ENOBUFS: the receive queue overflowed) — state must be re-read. */
  onOverrun?(): void;
  /** Keep the process alive while subscribed (default true). */
  ref?: boolean;
}

/** Opens an AF_NETLINK socket of `protocol`, joins `groups`, and delivers every datagram. */
export async function subscribeNetlink(
  protocol: number,
  groups: readonly number[],
  opts: SubscribeOptions,
): Promise<NetlinkSubscription> {
  // Throws an MptcpSocketError with the errno name (EPROTONOSUPPORT, EINVAL for an unknown group…).
  const fd = netlinkSubscribe(protocol, groups);
  const buf = Buffer.alloc(1 << 16);
  let closed = false;
  const drain = (): void => {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return;
        if (code === 'ENOBUFS') {
          opts.onOverrun?.();
          continue;
        }
        throw err;
      }
      if (n <= 0) return;
      opts.onDatagram(Buffer.from(buf.subarray(0, n)));
      if (closed) return;
    }
  };
  const watcher: FdWatcher = watchReadable(fd, (err) => {
    if (err || closed) return;
    drain();
  });
  if (opts.ref === false) watcher.ref(false);
  return {
    close() {
      if (closed) return;
      closed = true;
      watcher.stop();
      closeSync(fd);
    },
  };
}
