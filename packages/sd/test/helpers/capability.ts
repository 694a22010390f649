/**
 * Capabilities for tests, through the repository's one gate (@mptcp/testkit): without CI a missing
 * one skips with a printed reason; under CI=true it fails the test.
 */
import { datagramAncillarySupported } from '@mptcp/native';
import { capability, IN_CI, requireCapabilities, type Capability, type SkipContext } from '@mptcp/testkit/capability';

export { IN_CI, type Capability };

export const python3 = capability('python3');
export const socketActivate = capability('systemd-socket-activate');
export const fdPassing = capability(() =>
  datagramAncillarySupported()
    ? undefined
    : '@mptcp/native has no sendWithFds/recvWithCredentials (prebuild older than addon_dgram.cc)',
);

export function need(ctx: SkipContext, ...caps: Capability[]): void {
  requireCapabilities(ctx, ...caps);
}
