/**
 * The public types of @mptcp/native. The C++ addon returns plain objects of these shapes; policy
 * (fallback, option order, messages) lives in TypeScript.
 */
import type { SocketOptionValues } from '@mptcp/constants';

/**
 * `'require'`: MPTCP or an error. `'prefer'`: MPTCP, plain TCP when the host lacks it. `'off'` (or
 * `false`, the same): plain TCP.
 */
export type MptcpMode = 'require' | 'prefer' | 'off' | false;

/**
 * The `mptcp` option as the public functions take it: a mode, or `true` for `'prefer'` (MPTCP with
 * a fallback to TCP, as Go's SetMultipathTCP(true)). Any other value throws ERR_INVALID_ARG_VALUE.
 */
export type MptcpModeOption = MptcpMode | true;

/** Which default NODE_MPTCP gives a socket whose `mptcp` mode is not set. */
export type MptcpRole = 'listener' | 'dialer';

/** What a TCP-or-MPTCP socket really became. */
export type Transport = 'mptcp' | 'tcp';

export type SocketKind = 'stream' | 'datagram' | 'seqpacket';

/** A socket address as the addon reports it (getsockname/getpeername/accept4). */
export type SockAddr =
  | { family: 'inet'; address: string; port: number }
  | { family: 'inet6'; address: string; port: number; flowinfo?: number; scopeId?: number }
  /** AF_UNIX: `abstract` names are given without the leading NUL/`@`; an unnamed socket has path ''. */
  | { family: 'unix'; path: string; abstract: boolean }
  | { family: 'vsock'; cid: number; port: number };

/**
 * What `openSocket()` creates: one listening (stream/seqpacket) or bound (datagram) socket, with
 * systemd's [Socket] options applied in systemd's order. The options (`noDelay`, `ipTtl`, …) are the
 * fields of @mptcp/constants' SocketOptionValues: one per row of SOCKET_OPTION_DESCRIPTORS.
 */
export interface OpenSocketSpec extends SocketOptionValues {
  kind: SocketKind;
  address: SockAddr;
  /**
   * Protocol passed to socket(): 0 (default), IPPROTO_SCTP, IPPROTO_UDPLITE, or IPPROTO_MPTCP
   * (the same as `mptcp: 'require'`). For IP stream sockets prefer `mptcp`.
   */
  protocol?: number;
  /**
   * IP stream sockets only: the MPTCP policy (NODE_MPTCP and the MPTCP→TCP fallback, applied in
   * one place). Unset: `'require'` when `protocol` is IPPROTO_MPTCP, else the NODE_MPTCP default of
   * `role` when one is given, else plain TCP (systemd's default).
   */
  mptcp?: MptcpMode;
  /** Whose NODE_MPTCP default applies when `mptcp` is unset. */
  role?: MptcpRole;
  /**
   * What NODE_MPTCP=0 does to `mptcp: 'require'`: `'error'` (default: MPTCP_DISABLED_BY_ENV) or
   * `'tcp'` (plain TCP, `fallbackReason: 'disabled-by-env'`; the daemon's choice, where the
   * operator's environment overrides a unit's SocketProtocol=mptcp).
   */
  disabledByEnv?: 'error' | 'tcp';
  /** listen() backlog; default SOMAXCONN semantics (the kernel caps it). */
  backlog?: number;
  bindIPv6Only?: 'default' | 'both' | 'ipv6-only';
  /** AF_UNIX path sockets: parent directories created with this mode (default 0o755). */
  directoryMode?: number;
  /** AF_UNIX path sockets: the node is created with this mode (umask applied around bind, no window). */
  socketMode?: number;
  /** Leave O_NONBLOCK set on the fd (default true: the daemon polls it). */
  nonBlocking?: boolean;
}

/** A socket option the kernel refused: systemd logs it and goes on. */
export interface SocketOptionWarning {
  option: string;
  code: string;
  message: string;
}

export interface OpenedSocket {
  fd: number;
  /** The address actually bound (port 0 resolved). */
  local: SockAddr;
  /** SO_PROTOCOL of the created socket. */
  protocol: number;
  /** IP stream sockets: what the socket really is. */
  transport?: Transport;
  /** Set when MPTCP was asked for ('prefer', or NODE_MPTCP=0 with `disabledByEnv: 'tcp'`) and plain TCP was opened: why. */
  fallbackReason?: MptcpUnavailable;
  /** The errno name (as Node's `code`) socket(…, 262) gave, when it caused the fallback ('ENOPROTOOPT'…). */
  fallbackCode?: string;
  warnings: SocketOptionWarning[];
}

export interface AcceptedConnection {
  fd: number;
  local: SockAddr;
  remote: SockAddr;
}

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * Why MPTCP is unavailable: net.mptcp.enabled=0 (ENOPROTOOPT), a kernel without MPTCP
 * (EPROTONOSUPPORT/EINVAL), NODE_MPTCP=0, the addon did not load, socket() was refused for
 * another reason (SELinux/eBPF/seccomp: `errno` tells which), or (for one listener/dial) a socket
 * option it needs is not supported on MPTCP by this kernel ('option-unsupported').
 */
export type MptcpUnavailable =
  | 'disabled-by-sysctl'
  | 'kernel-without-mptcp'
  | 'disabled-by-env'
  | 'addon-unavailable'
  | 'blocked'
  | 'option-unsupported';

export interface MptcpSupport {
  available: boolean;
  reason?: MptcpUnavailable;
  /** errno name of the failed probe socket() ('ENOPROTOOPT'…), as Node's SystemError `code`. */
  code?: string;
  /** Its positive Linux errno number (92…), as Node's SystemError `errno` and MptcpNativeError's. */
  errno?: number;
}

/** Decoded struct mptcp_info (fields the running kernel does not fill are 0). */
export interface MptcpInfo {
  subflows: number;
  addAddrSignal: number;
  addAddrAccepted: number;
  subflowsMax: number;
  addAddrSignalMax: number;
  addAddrAcceptedMax: number;
  flags: number;
  token: number;
  writeSeq: bigint;
  sndUna: bigint;
  rcvNxt: bigint;
  localAddrUsed: number;
  localAddrMax: number;
  csumEnabled: number;
  retransmits: number;
  bytesRetrans: bigint;
  bytesSent: bigint;
  bytesReceived: bigint;
  bytesAcked: bigint;
  subflowsTotal: number;
  lastDataSent: number;
  lastDataRecv: number;
  lastAckRecv: number;
  /** Bytes the kernel returned (struct size of this kernel). */
  size: number;
}

/** An IPv4 or IPv6 socket address (what a subflow has). */
export type InetSockAddr = Extract<SockAddr, { family: 'inet' | 'inet6' }>;

export interface SubflowInfo {
  id: number;
  flags: number;
  local: InetSockAddr;
  remote: InetSockAddr;
  /** Selected tcp_info fields of the subflow. */
  tcp: {
    state: number;
    rttUs: number;
    rttVarUs: number;
    sndCwnd: number;
    totalRetrans: number;
    bytesAcked: bigint;
    bytesReceived: bigint;
    bytesSent: bigint;
    pacingRate: bigint;
    deliveryRate: bigint;
  };
}

/** What `isMptcp`-style inspection reports about a connected socket. */
export interface MptcpStatus {
  /** The socket was created with protocol 262. */
  requested: boolean;
  /** The connection really runs MPTCP (not fallen back). */
  active: boolean;
  /** Created as MPTCP but runs plain TCP (the peer did not speak MPTCP). */
  fallback: boolean;
  protocol: number;
  /**
   * Set when MPTCP was wanted ('prefer') but socket(…, 262) failed, so the socket was created as
   * plain TCP: why MPTCP was unavailable (e.g. 'disabled-by-sysctl').
   */
  unavailable?: MptcpUnavailable;
}
