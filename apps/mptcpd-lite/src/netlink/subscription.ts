/**
 * A netlink socket that stays open and receives multicast groups (rtnetlink link/address/route
 * changes, the mptcp_pm "mptcp_pm_events" group) without blocking the event loop: libuv polls the
 * fd (watchReadable) and each readable wake-up drains the queued datagrams with read(2).
 *
 * @mptcp/native has no public primitive for this yet; until it has one (see the README: a
 * `netlinkSubscribe(protocol, groups)` returning a non-blocking fd and `recvDatagram(fd)`), this
 * module uses the addon's syscall-shaped socket/send/setsockopt functions from its loader
 * (dist/binding.js). Everything else here is plain TypeScript.
 */
import { closeSync, readSync } from 'node:fs';
import { errnoName } from '@mptcp/constants';
import { watchReadable, type FdWatcher } from '@mptcp/native';
import { encodeMessage, NLMSG_NOOP } from './message.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;

interface RawBinding {
  socket(domain: number, type: number, protocol: number): number;
  send(fd: number, data: Buffer): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): number;
}

let raw: RawBinding | undefined;
async function rawBinding(): Promise<RawBinding> {
  if (raw) return raw;
  const index = import.meta.resolve('@mptcp/native');
  const mod = (await import(new URL('./binding.js', index).href)) as { binding(): RawBinding };
  raw = mod.binding();
  return raw;
}

function fail(syscall: string, r: number): never {
  const code = errnoName(-r);
  throw Object.assign(new Error(`netlink ${syscall}: ${code}`), { code, syscall });
}

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
  const b = await rawBinding();
  const fd = b.socket(AF_NETLINK, SOCK_RAW, protocol);
  if (fd < 0) fail('socket', fd);
  try {
    // Multicast is only delivered to a socket that has a port id: sending one NLMSG_NOOP to the
    // kernel autobinds it (the kernel ignores NOOP and, without NLM_F_ACK, does not answer).
    const sent = b.send(fd, encodeMessage(NLMSG_NOOP, 0, Buffer.alloc(0)));
    if (sent < 0) fail('send', sent);
    for (const g of groups) {
      const r = b.setsockoptInt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g);
      if (r < 0) fail(`setsockopt(NETLINK_ADD_MEMBERSHIP ${g})`, r);
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  }
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
