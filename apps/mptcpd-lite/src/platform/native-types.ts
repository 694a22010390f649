/** The @mptcp/native types the app uses (packages/native/src/types.ts). */
export type { AcceptedConnection, MptcpInfo, MptcpMode, MptcpStatus, MptcpSupport, OpenSocketSpec, OpenedSocket, PeerCredentials, SockAddr, SocketKind, SubflowInfo } from '@mptcp/native';
