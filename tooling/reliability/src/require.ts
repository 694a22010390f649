/**
 * What a reliability scenario needs. Outside CI a missing capability skips the scenario with the
 * reason printed; with CI=true it fails it (the CI machine must have everything).
 */
import { requireCapabilities, type CapabilityName, type SkipContext } from '@mptcp/testkit/capability';
import { daemonAvailable } from '@mptcp/testkit/daemon';

export type Need = CapabilityName | 'daemon';

/** The built daemon, as a capability of the repository's one gate. */
const daemon = (): string | undefined =>
  daemonAvailable() ? undefined : 'daemon: apps/mptcpd-lite is not built (run pnpm build)';

/** Returns normally when everything is there; otherwise fails (CI=true) or skips the running test (@mptcp/testkit's gate). */
export function requireCaps(ctx: SkipContext, needs: readonly Need[]): void {
  requireCapabilities(ctx, ...needs.map((n) => (n === 'daemon' ? daemon : n)));
}

/** The one line each scenario prints: what was tried, what held, the figures. */
export function report(
  name: string,
  tried: string,
  held: string,
  figures: Record<string, number | string | boolean>,
): void {
  const f = Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v * 1000) / 1000 : v}`)
    .join(' ');
  console.log(`[${name}] tried: ${tried} | held: ${held} | ${f}`);
}
