/**
 * Kernel and host capabilities a scenario needs: the repository's one gate lives in @mptcp/testkit
 * (outside CI a missing one is a skip with a printed reason; with CI=true a failure).
 */
export { IN_CI, missing, type CapabilityName as Capability } from '@mptcp/testkit/capability';
export { freePort, waitListening } from '@mptcp/testkit/net';
