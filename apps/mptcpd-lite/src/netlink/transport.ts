/**
 * Sends one netlink request and returns the reply datagrams, through the addon's
 * `netlinkRequest(protocol, message)` (socket(AF_NETLINK)/send/recv until NLMSG_DONE). The parsing
 * is in TypeScript (message.ts and its users).
 */
import { netlinkRequest as nativeNetlinkRequest, netlinkRequestAsync as nativeAsync } from '@mptcp/native';

export type NetlinkTransport = (protocol: number, message: Buffer) => Buffer[];
/** The same exchange without blocking: the addon waits for the kernel off the event loop. */
export type AsyncNetlinkTransport = (protocol: number, message: Buffer) => Promise<Buffer[]>;

/** Which transport is in use (shown by `check`). */
export function netlinkTransportName(): 'native' {
  return 'native';
}

export const netlinkRequest: NetlinkTransport = (protocol, message) => nativeNetlinkRequest(protocol, message);

export const netlinkRequestAsync: AsyncNetlinkTransport = (protocol, message) => nativeAsync(protocol, message);
