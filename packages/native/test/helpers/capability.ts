/**
 * Kernel-dependent tests go through the repository's one capability gate (@mptcp/testkit): on CI
 * (CI=true) a missing capability is a failure; elsewhere the test is skipped with the reason printed.
 * This file only adds this package's own MPTCP probe (the addon's view, not python's).
 */
import { checkCapabilities, IN_CI, reasonMissing, type Probe } from '@mptcp/testkit/capability';
import { mptcpSupport } from '../../src/index.js';

export const onCI = IN_CI;
export type { Probe };

export const probes = {
  mptcp: (): string | undefined => {
    const s = mptcpSupport({ refresh: true });
    return s.available ? undefined : `MPTCP unavailable (${s.reason ?? '?'} ${s.code ?? ''})`;
  },
  root: (): string | undefined => reasonMissing('root'),
  netns: (): string | undefined => reasonMissing('netns'),
} satisfies Record<string, Probe>;

/** undefined when every probe passes; otherwise the reasons (printed). Throws on CI. */
export function missing(...checks: Probe[]): string | undefined {
  return checkCapabilities(checks);
}
