/**
 * The structs inside sock_diag attributes — struct mptcp_info (INET_DIAG_INFO of an MPTCP socket)
 * and struct tcp_info (of a subflow) — are the same the addon reads with getsockopt(), so the
 * addon's TypeScript decoders are used for both (fields a shorter, older struct lacks read as 0).
 */
export { decodeMptcpInfo, decodeTcpInfo } from '@mptcp/native';
import type { SubflowInfo } from '@mptcp/native';

/** The tcp_info fields shown per subflow. */
export type TcpInfoSummary = SubflowInfo['tcp'];
