/**
 * Kernel-dependent tests: on CI (CI=true) a missing capability is a failure; elsewhere the test is
 * skipped with the reason printed.
 */
import { execFileSync } from 'node:child_process';
import { mptcpSupport } from '../../src/index.js';

export const onCI = process.env['CI'] === 'true';

/** Returns the reason a capability is missing, or undefined when present. */
export type Probe = () => string | undefined;

export const probes = {
  mptcp: (): string | undefined => {
    const s = mptcpSupport({ refresh: true });
    return s.available ? undefined : `MPTCP unavailable (${s.reason ?? '?'} ${s.errno ?? ''})`;
  },
  root: (): string | undefined => (process.getuid?.() === 0 ? undefined : 'needs root (network namespaces)'),
  netns: (): string | undefined => {
    try {
      execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
      return undefined;
    } catch {
      return 'iproute2 `ip netns` not available';
    }
  },
} satisfies Record<string, Probe>;

/** undefined when every probe passes; otherwise the reasons. Throws on CI. */
export function missing(...checks: Probe[]): string | undefined {
  const reasons = checks.map((c) => c()).filter((r): r is string => r !== undefined);
  if (reasons.length === 0) return undefined;
  const why = reasons.join('; ');
  if (onCI) throw new Error(`required capability missing on CI: ${why}`);
  console.warn(`skipping: ${why}`);
  return why;
}
