/**
 * Kernel and host capabilities a scenario needs. Outside CI a missing one is a skip with a printed
 * reason; with CI=true it is a failure (the CI machine is supposed to have everything).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

export type Capability = 'root' | 'mptcp' | 'netns' | 'tc' | 'systemd-socket-activate' | 'setpriv' | 'python3';

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const checks: Record<Capability, () => string | null> = {
  root: () => (process.getuid?.() === 0 ? null : 'needs root (namespaces, tc, setpriv)'),
  mptcp: () => {
    const f = '/proc/sys/net/mptcp/enabled';
    if (!existsSync(f)) return 'kernel without MPTCP (/proc/sys/net/mptcp missing)';
    return readFileSync(f, 'utf8').trim() === '1' ? null : 'MPTCP disabled (net.mptcp.enabled=0)';
  },
  netns: () => (has('ip') ? null : 'iproute2 `ip` not found'),
  tc: () => (has('tc') ? null : 'iproute2 `tc` not found'),
  'systemd-socket-activate': () => (has('systemd-socket-activate') ? null : 'systemd-socket-activate not installed'),
  setpriv: () => (has('setpriv') ? null : 'setpriv (util-linux) not installed'),
  python3: () => (has('python3') ? null : 'python3 not installed'),
};

/** The first missing capability, or null. */
export function missing(needs: readonly Capability[]): string | null {
  for (const c of needs) {
    const why = checks[c]();
    if (why) return `${c}: ${why}`;
  }
  return null;
}

/** True when running in CI, where a missing capability must fail rather than skip. */
export const IN_CI = process.env.CI === 'true';

/** A free TCP port on 127.0.0.1 (bound and released; fine for tests that then bind it themselves). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, host, r));
  const addr = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** Resolves when something accepts on host:port (polls every 20 ms). */
export async function waitListening(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
