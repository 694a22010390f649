/** The kernel's MPTCP MIB counters: the `MPTcpExt:` lines of /proc/net/netstat (what `nstat` shows). */
import { readFileSync } from 'node:fs';

/** Counters that are levels, not event counts. */
export const MPTCP_GAUGES = new Set(['MPCurrEstab']);

/** Parses the header/value line pair `MPTcpExt:`; empty when the kernel has no MPTCP MIB. */
export function parseMptcpNetstat(text: string): Map<string, bigint> {
  const lines = text.split('\n').filter((l) => l.startsWith('MPTcpExt:'));
  const out = new Map<string, bigint>();
  const names = lines[0]?.split(/\s+/).slice(1) ?? [];
  const values = lines[1]?.split(/\s+/).slice(1) ?? [];
  names.forEach((n, i) => {
    const v = values[i];
    if (n && v !== undefined && /^\d+$/.test(v)) out.set(n, BigInt(v));
  });
  return out;
}

export function readMptcpCounters(path = '/proc/net/netstat'): Map<string, bigint> {
  try {
    return parseMptcpNetstat(readFileSync(path, 'utf8'));
  } catch {
    return new Map();
  }
}
