/**
 * Capabilities for tests: without CI a missing one skips with a printed reason; under CI=true it
 * fails the test, so a green CI run means the real thing was exercised.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { datagramAncillarySupported } from '@mptcp/native';

export const IN_CI = process.env.CI === 'true';

export interface Capability {
  ok: boolean;
  reason: string;
}

function probe(fn: () => boolean, reason: string): Capability {
  try {
    return fn() ? { ok: true, reason: '' } : { ok: false, reason };
  } catch (err) {
    return { ok: false, reason: `${reason}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export const python3 = probe(() => execFileSync('python3', ['-c', 'print(1)'], { encoding: 'utf8' }).trim() === '1', 'python3 is not installed');
export const socketActivate = probe(() => existsSync('/usr/bin/systemd-socket-activate'), 'systemd-socket-activate is not installed (apt-get install systemd)');
export const fdPassing = probe(datagramAncillarySupported, '@mptcp/native has no sendWithFds/recvWithCredentials (prebuild older than addon_dgram.cc)');

export function need(ctx: { skip: (note?: string) => void; task: { name: string } }, ...caps: Capability[]): void {
  const missing = caps.filter((c) => !c.ok);
  if (missing.length === 0) return;
  const why = missing.map((c) => c.reason).join('; ');
  if (IN_CI) throw new Error(`${ctx.task.name}: required capability missing under CI: ${why}`);
  console.warn(`SKIP ${ctx.task.name}: ${why}`);
  ctx.skip(why);
}
