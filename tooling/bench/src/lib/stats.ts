/** Moved to @mptcp/testkit (shared with tooling/reliability); kept as bench's own import path. */
export * from '@mptcp/testkit/stats';
