/**
 * What a reliability scenario needs. Outside CI a missing capability skips the scenario with the
 * reason printed; with CI=true it fails it (the CI machine must have everything).
 */
import { IN_CI, missing, type Capability } from '@mptcp/bench/lib/caps';
import { daemonAvailable } from '@mptcp/bench/lib/daemon';

export type Need = Capability | 'daemon';

interface SkipContext {
  skip(note?: string): void;
}

/** Returns normally when everything is there; otherwise fails (CI) or skips the running test. */
export function requireCaps(ctx: SkipContext, needs: readonly Need[]): void {
  const caps = needs.filter((n): n is Capability => n !== 'daemon');
  let why = missing(caps);
  if (!why && needs.includes('daemon') && !daemonAvailable()) why = 'daemon: apps/mptcpd-lite is not built (run pnpm build)';
  if (!why) return;
  if (IN_CI) throw new Error(`missing capability in CI: ${why}`);
  console.log(`SKIP ${why}`);
  ctx.skip(why);
}

/** The one line each scenario prints: what was tried, what held, the figures. */
export function report(name: string, tried: string, held: string, figures: Record<string, number | string | boolean>): void {
  const f = Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Math.round(v * 1000) / 1000 : v}`)
    .join(' ');
  console.log(`[${name}] tried: ${tried} | held: ${held} | ${f}`);
}
