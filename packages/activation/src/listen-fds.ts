/**
 * Moved to `@mptcp/sd` (the package a Node service depends on to speak the systemd protocols); this
 * entry point stays so that `@mptcp/activation/listen-fds` keeps working.
 */
export * from '@mptcp/sd/listen-fds';
