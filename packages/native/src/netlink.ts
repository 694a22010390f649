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
  const replies = check(binding().netlinkRequest(protocol, message), { syscall: 'netlink' });
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
