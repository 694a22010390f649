/**
 * Socket-option levels and names (Linux ABI, the same on every architecture Node supports; from
 * <linux/tcp.h>, <linux/in.h>, <linux/in6.h> and asm-generic/socket.h). Older distribution headers
 * lack some of them (TCP_FASTOPEN_CONNECT, TCP_INQ…), so they are defined here, next to the MPTCP ones.
 */

export const IPPROTO_IPV6 = 41;

/** SOL_SOCKET options. */
export const SO_REUSEADDR = 2;
export const SO_BROADCAST = 6;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
export const SO_PRIORITY = 12;
export const SO_LINGER = 13;
export const SO_REUSEPORT = 15;
export const SO_PASSCRED = 16;
export const SO_BINDTODEVICE = 25;
/** SO_TIMESTAMP(NS)_OLD: what <sys/socket.h> names SO_TIMESTAMP(NS) where time_t is 64-bit (x64, arm64). */
export const SO_TIMESTAMP = 29;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_PASSSEC = 34;
export const SO_TIMESTAMPNS = 35;
export const SO_MARK = 36;
export const SO_BUSY_POLL = 46;
export const SO_INCOMING_CPU = 49;

/** IPPROTO_TCP options. */
export const TCP_NODELAY = 1;
export const TCP_MAXSEG = 2;
export const TCP_CORK = 3;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_SYNCNT = 7;
export const TCP_LINGER2 = 8;
export const TCP_DEFER_ACCEPT = 9;
export const TCP_WINDOW_CLAMP = 10;
export const TCP_QUICKACK = 12;
export const TCP_CONGESTION = 13;
export const TCP_USER_TIMEOUT = 18;
export const TCP_FASTOPEN = 23;
export const TCP_NOTSENT_LOWAT = 25;
export const TCP_FASTOPEN_CONNECT = 30;
export const TCP_INQ = 36;
export const TCP_TX_DELAY = 37;

/** IPPROTO_IP options. */
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_PKTINFO = 8;
export const IP_FREEBIND = 15;
export const IP_TRANSPARENT = 19;
export const IP_BIND_ADDRESS_NO_PORT = 24;
export const IP_LOCAL_PORT_RANGE = 51;

/** IPPROTO_IPV6 options. */
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_V6ONLY = 26;
export const IPV6_RECVPKTINFO = 49;
export const IPV6_TCLASS = 67;
export const IPV6_TRANSPARENT = 75;
export const IPV6_FREEBIND = 78;

/** IPPROTO_SCTP options (<linux/sctp.h>). */
export const SCTP_NODELAY = 3;
