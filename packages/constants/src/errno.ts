/**
 * The errno values (Linux, all architectures that Node supports on Linux) that tell why an MPTCP
 * socket could not be created, and how to read them — the same classification as Go's
 * net/mptcpsock_linux.go and mptcp.dev's implementation guide.
 */

export const EINVAL = 22;
export const ENOPROTOOPT = 92;
export const EPROTONOSUPPORT = 93;
export const EOPNOTSUPP = 95;
export const EAFNOSUPPORT = 97;

/** Why MPTCP is not available. */
export type MptcpUnavailableReason = 'disabled-by-sysctl' | 'kernel-without-mptcp';

/**
 * The errno names that socket(…, IPPROTO_MPTCP) returns when MPTCP cannot be used:
 * - ENOPROTOOPT: the kernel has MPTCP but `net.mptcp.enabled=0` in this network namespace;
 * - EPROTONOSUPPORT: kernel built without CONFIG_MPTCP;
 * - EINVAL: kernel older than 5.6, which does not know protocol 262.
 */
export const MPTCP_UNAVAILABLE_ERRNOS: Readonly<Record<string, MptcpUnavailableReason>> = Object.freeze({
  ENOPROTOOPT: 'disabled-by-sysctl',
  EPROTONOSUPPORT: 'kernel-without-mptcp',
  EINVAL: 'kernel-without-mptcp',
});

/** Maps a socket() errno name to the reason MPTCP is unavailable, or undefined for other errors. */
export function mptcpUnavailableReason(code: string): MptcpUnavailableReason | undefined {
  return Object.prototype.hasOwnProperty.call(MPTCP_UNAVAILABLE_ERRNOS, code)
    ? MPTCP_UNAVAILABLE_ERRNOS[code]
    : undefined;
}

/** A sentence that tells the user how to get MPTCP, for a given reason. */
export function mptcpUnavailableHint(reason: MptcpUnavailableReason): string {
  return reason === 'disabled-by-sysctl'
    ? 'MPTCP is disabled by sysctl net.mptcp.enabled=0 (enable it with: sysctl -w net.mptcp.enabled=1)'
    : 'this kernel has no MPTCP support (Linux >= 5.6 built with CONFIG_MPTCP=y is needed)';
}
