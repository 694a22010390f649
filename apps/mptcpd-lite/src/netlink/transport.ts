/**
 * Sends one netlink request and returns the reply datagrams, through the addon's
 * `netlinkRequest(protocol, message)` (socket(AF_NETLINK)/send/recv until NLMSG_DONE). The parsing
 * is in TypeScript (message.ts and its users).
 */
import { requireNative } from '../platform/native.js';

export type NetlinkTransport = (protocol: number, message: Buffer) => Buffer[];

/** Which transport is in use (shown by `check`). */
export function netlinkTransportName(): 'native' {
  return 'native';
}

export const netlinkRequest: NetlinkTransport = (protocol, message) =>
  requireNative('netlinkRequest')(protocol, message);
