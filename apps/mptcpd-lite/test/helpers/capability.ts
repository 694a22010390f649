/**
 * Kernel capabilities the tests need, through the repository's one gate (@mptcp/testkit): under
 * CI=true a missing one is a failure; elsewhere the test is skipped with the reason printed.
 */
import { reasonMissing, requireCapabilities, type SkipContext } from '@mptcp/testkit/capability';

export type Ctx = SkipContext;

/** Fails (CI) or skips (elsewhere) the test when `reason` is set. */
export function need(ctx: Ctx, reason: string | undefined): void {
  requireCapabilities(ctx, () => reason);
}

/** Why MPTCP sockets cannot be used here, or undefined. */
export function mptcpUnavailable(): string | undefined {
  return reasonMissing('mptcp');
}

/** Why network namespaces cannot be created here, or undefined. */
export function netnsUnavailable(): string | undefined {
  return reasonMissing('netns');
}

export function python3Unavailable(): string | undefined {
  return reasonMissing('python3');
}
