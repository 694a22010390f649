/**
 * MPTCP socket-option levels, option names and flag bits from <linux/mptcp.h> and <linux/tcp.h>.
 * The values are kernel ABI and never change; the headers of older distributions lack the newer
 * ones, which is why they are defined here instead of being read at build time.
 */

/** Socket-option level of TCP (= IPPROTO_TCP). */
export const SOL_TCP = 6;
/** Socket-option level of MPTCP (Linux 5.16, include/linux/socket.h). */
export const SOL_MPTCP = 284;
/** Generic socket level. */
export const SOL_SOCKET = 1;

/** getsockopt(SOL_SOCKET, SO_PROTOCOL): the protocol the socket was created with (Linux 2.6.32). */
export const SO_PROTOCOL = 38;
/** getsockopt(SOL_SOCKET, SO_DOMAIN): the address family (Linux 2.6.32). */
export const SO_DOMAIN = 39;

/** getsockopt(SOL_MPTCP, MPTCP_INFO): struct mptcp_info (Linux 5.16; struct grew in 5.12–6.10). */
export const MPTCP_INFO = 1;
/** getsockopt(SOL_MPTCP, MPTCP_TCPINFO): struct tcp_info of every subflow (Linux 5.16). */
export const MPTCP_TCPINFO = 2;
/** getsockopt(SOL_MPTCP, MPTCP_SUBFLOW_ADDRS): local/remote address of every subflow (Linux 5.16). */
export const MPTCP_SUBFLOW_ADDRS = 3;
/** getsockopt(SOL_MPTCP, MPTCP_FULL_INFO): mptcp_info + subflow info + tcp_info in one call (Linux 6.5). */
export const MPTCP_FULL_INFO = 4;

/** getsockopt(SOL_TCP, TCP_IS_MPTCP): 1 when the connection really uses MPTCP (Linux 6.10). */
export const TCP_IS_MPTCP = 43;

/** mptcpi_flags bit: the connection fell back to plain TCP (Linux 5.12). */
export const MPTCP_INFO_FLAG_FALLBACK = 1 << 0;
/** mptcpi_flags bit: the peer's key was received, i.e. MP_CAPABLE completed (Linux 5.12). */
export const MPTCP_INFO_FLAG_REMOTE_KEY_RECEIVED = 1 << 1;

/** Subflow flags of struct mptcp_subflow_info / MPTCP_SUBFLOW_ATTR_FLAGS (Linux 5.12). */
export const MPTCP_SUBFLOW_FLAG_MCAP_REM = 1 << 0;
export const MPTCP_SUBFLOW_FLAG_MCAP_LOC = 1 << 1;
export const MPTCP_SUBFLOW_FLAG_JOIN_REM = 1 << 2;
export const MPTCP_SUBFLOW_FLAG_JOIN_LOC = 1 << 3;
export const MPTCP_SUBFLOW_FLAG_BKUP_REM = 1 << 4;
export const MPTCP_SUBFLOW_FLAG_BKUP_LOC = 1 << 5;
export const MPTCP_SUBFLOW_FLAG_FULLY_ESTABLISHED = 1 << 6;
export const MPTCP_SUBFLOW_FLAG_CONNECTED = 1 << 7;
export const MPTCP_SUBFLOW_FLAG_MAPVALID = 1 << 8;

/** In-kernel path-manager endpoint flags (`ip mptcp endpoint … signal|subflow|backup|fullmesh`, Linux 5.7+). */
export const MPTCP_PM_ADDR_FLAG_SIGNAL = 1 << 0;
export const MPTCP_PM_ADDR_FLAG_SUBFLOW = 1 << 1;
export const MPTCP_PM_ADDR_FLAG_BACKUP = 1 << 2;
/** Linux 5.18. */
export const MPTCP_PM_ADDR_FLAG_FULLMESH = 1 << 3;
/** Linux 6.0. */
export const MPTCP_PM_ADDR_FLAG_IMPLICIT = 1 << 4;

/** Generic-netlink family name of the MPTCP path manager. */
export const MPTCP_PM_NAME = 'mptcp_pm';

/** The sysctl that switches MPTCP on or off per network namespace. */
export const MPTCP_SYSCTL_ENABLED = 'net.mptcp.enabled';
/** Its /proc path. */
export const MPTCP_SYSCTL_ENABLED_PATH = '/proc/sys/net/mptcp/enabled';
