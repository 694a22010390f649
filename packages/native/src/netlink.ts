/**
 * One netlink request/response exchange (NETLINK_SOCK_DIAG for `ss -M`-style listings,
 * NETLINK_GENERIC for the mptcp_pm family). Message building and parsing is the caller's job.
 */
import { binding } from './binding.js';
import { check, syscallError } from './errors.js';

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;

/**
 * Sends `message` (one complete nlmsghdr + payload) on a fresh AF_NETLINK socket of `protocol`
 * and returns the raw reply messages (each Buffer is one nlmsghdr + payload), without the
 * terminator: NLMSG_DONE of a dump, or the NLMSG_ERROR ack (error 0) of an NLM_F_ACK request. A
 * non-dump request without NLM_F_ACK returns after its reply. An NLMSG_ERROR with a non-zero error
 * (or a negative NLMSG_DONE status) throws an MptcpSocketError with that errno and syscall 'netlink'.
 */
export function netlinkRequest(protocol: number, message: Buffer): Buffer[] {
  return parseReplies(check(binding().netlinkRequest(protocol, message), { syscall: 'netlink' }));
}

/**
 * {@link netlinkRequest} on a libuv pool thread: the exchange may wait there (up to 5 s) for a
 * kernel reply, never on the event loop. The synchronous variant never waits either: it fails with
 * ETIMEDOUT when the kernel queued no reply inside sendmsg() (it ignored the request).
 */
export async function netlinkRequestAsync(protocol: number, message: Buffer): Promise<Buffer[]> {
  return parseReplies(check(await binding().netlinkRequestAsync(protocol, message), { syscall: 'netlink' }));
}

/**
 * Opens a socket that receives the netlink multicast `groups` of `protocol` (rtnetlink's
 * RTNLGRP_* numbers, a genetlink family's multicast group ids): socket(AF_NETLINK,
 * SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC), bind() with nl_pid 0 (the kernel assigns the port id
 * that multicast delivery needs), then NETLINK_ADD_MEMBERSHIP per group. Returns the fd, which the
 * caller owns: watch it with watchReadable() and read each datagram with read(2) (fs.readSync) until
 * EAGAIN; ENOBUFS from a read means the kernel dropped messages (re-read the state). Failures throw
 * an MptcpSocketError with the errno name (EPROTONOSUPPORT, EINVAL for an unknown group, EPERM…)
 * and syscall 'netlink'.
 */
export function netlinkSubscribe(protocol: number, groups: readonly number[]): number {
  for (const g of groups)
    if (!Number.isInteger(g) || g < 1 || g > 0x7fffffff)
      throw new TypeError(`netlinkSubscribe: group ${String(g)} must be an integer ≥ 1`);
  return check(binding().netlinkSubscribe(protocol, [...groups]), { syscall: 'netlink' });
}

function parseReplies(replies: Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (const m of replies) {
    const type = m.length >= 6 ? m.readUInt16LE(4) : 0;
    if (type === NLMSG_ERROR || type === NLMSG_DONE) {
      const status = m.length >= 20 ? m.readInt32LE(16) : 0;
      if (status < 0) throw syscallError(-status, { syscall: 'netlink' });
      continue;
    }
    out.push(m);
  }
  return out;
}
