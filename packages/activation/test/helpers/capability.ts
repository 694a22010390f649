/**
 * Kernel/peer capabilities for tests. Elsewhere a missing capability skips with a printed reason;
 * under CI (CI=true) it is a failure, so that a green CI run means the real thing was exercised.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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

export const mptcp = probe(
  () => execFileSync('python3', ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262).close(); print("ok")'], { encoding: 'utf8' }).trim() === 'ok',
  'MPTCP sockets cannot be created here (kernel without MPTCP or net.mptcp.enabled=0)',
);

export const socketProxyd = probe(() => existsSync('/usr/lib/systemd/systemd-socket-proxyd'), '/usr/lib/systemd/systemd-socket-proxyd is not installed');

export const root = probe(() => process.getuid?.() === 0, 'not running as root');

/**
 * Skips the running test (printing why) when a capability is missing; under CI it throws instead,
 * so the test fails.
 */
export function need(ctx: { skip: (note?: string) => void; task: { name: string } }, ...caps: Capability[]): void {
  const missing = caps.filter((c) => !c.ok);
  if (missing.length === 0) return;
  const why = missing.map((c) => c.reason).join('; ');
  if (IN_CI) throw new Error(`${ctx.task.name}: required capability missing under CI: ${why}`);
  console.warn(`SKIP ${ctx.task.name}: ${why}`);
  ctx.skip(why);
}
