/**
 * Kernel/peer capabilities for tests, through the repository's one gate (@mptcp/testkit): elsewhere
 * a missing capability skips with a printed reason; under CI (CI=true) it is a failure, so that a
 * green CI run means the real thing was exercised.
 */
import { capability, IN_CI, requireCapabilities, type Capability, type SkipContext } from '@mptcp/testkit/capability';

export { IN_CI, type Capability };

export const python3 = capability('python3');
export const mptcp = capability('mptcp');
export const socketProxyd = capability('systemd-socket-proxyd');
export const root = capability('root');

/** Skips the running test (printing why) when a capability is missing; under CI it throws instead. */
export function need(ctx: SkipContext, ...caps: Capability[]): void {
  requireCapabilities(ctx, ...caps);
}
