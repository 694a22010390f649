/**
 * Kernel capabilities the tests need. Under CI=true a missing one is a failure; elsewhere the test
 * is skipped with the reason printed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export interface Ctx {
  skip: (note?: string) => void;
}

/** Fails (CI) or skips (elsewhere) the test when `reason` is set. */
export function need(ctx: Ctx, reason: string | undefined): void {
  if (!reason) return;
  if (process.env.CI === 'true') throw new Error(`missing capability (CI=true makes this a failure): ${reason}`);
  console.warn(`skipped: ${reason}`);
  ctx.skip(reason);
}

let mptcpReason: string | undefined | null = null;
/** Why MPTCP sockets cannot be used here, or undefined. */
export function mptcpUnavailable(): string | undefined {
  if (mptcpReason !== null) return mptcpReason;
  if (!existsSync('/proc/sys/net/mptcp/enabled')) mptcpReason = 'kernel without MPTCP (/proc/sys/net/mptcp missing)';
  else if (readFileSync('/proc/sys/net/mptcp/enabled', 'utf8').trim() !== '1') mptcpReason = 'net.mptcp.enabled is not 1';
  else {
    const r = spawnSync('python3', ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262).close()']);
    mptcpReason = r.status === 0 ? undefined : `socket(AF_INET, SOCK_STREAM, 262) failed: ${r.stderr.toString().trim().split('\n').pop() ?? ''}`;
  }
  return mptcpReason;
}

/** Why network namespaces cannot be created here, or undefined. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'ip netns is not usable';
  }
}

export function python3Unavailable(): string | undefined {
  return spawnSync('python3', ['-c', 'pass']).status === 0 ? undefined : 'python3 is needed as an independent MPTCP peer';
}
