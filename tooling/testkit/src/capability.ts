/**
 * The one capability gate of the repository's tests. A test names what it needs (root, network
 * namespaces, MPTCP, python3, systemd tools, any command or Debian package by name, or a probe of
 * its own); when something is missing:
 * - with CI=true the test FAILS (a green CI run means the real thing was exercised);
 * - otherwise it is skipped, with the reason printed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** True when running in CI, where a missing capability must fail rather than skip. */
export const IN_CI = process.env['CI'] === 'true';

/**
 * What a test can need, by name. `tool:NAME` is a command on PATH, `deb:NAME` an installed Debian
 * package (dpkg-query), e.g. `deb:stress-ng`.
 */
export type CapabilityName =
  | 'root'
  | 'netns'
  | 'mptcp'
  | 'python3'
  | 'tc'
  | 'setpriv'
  | 'systemd-socket-activate'
  | 'systemd-socket-proxyd'
  | `tool:${string}`
  | `deb:${string}`;

/** A probed capability: `reason` says what is missing when `ok` is false. */
export interface Capability {
  ok: boolean;
  reason: string;
}

/** A probe of a test's own: the reason something is missing, or undefined when it is there. */
export type Probe = () => string | undefined;

/** Whether `cmd` is on PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { stdio: 'ignore' }).status === 0;
}

function debInstalled(pkg: string): boolean {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).includes('install ok installed');
  } catch {
    return false;
  }
}

function mptcpReason(): string | undefined {
  const f = '/proc/sys/net/mptcp/enabled';
  if (!existsSync(f)) return 'kernel without MPTCP (/proc/sys/net/mptcp missing)';
  if (readFileSync(f, 'utf8').trim() !== '1') return 'MPTCP disabled (net.mptcp.enabled is not 1)';
  if (!hasCommand('python3')) return undefined; // the sysctl is all that can be asked without a peer
  const r = spawnSync(
    'python3',
    ['-c', 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262).close()'],
    { encoding: 'utf8' },
  );
  return r.status === 0
    ? undefined
    : `socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) failed: ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}`;
}

function probeName(name: CapabilityName): string | undefined {
  if (name.startsWith('tool:')) {
    const cmd = name.slice(5);
    return hasCommand(cmd) ? undefined : `\`${cmd}\` not found on PATH`;
  }
  if (name.startsWith('deb:')) {
    const pkg = name.slice(4);
    return debInstalled(pkg)
      ? undefined
      : `Debian package ${pkg} is not installed (apt-get install -y ${pkg}; add it to .ci/apt-packages)`;
  }
  switch (name) {
    case 'root':
      return process.getuid?.() === 0 ? undefined : 'needs root (namespaces, tc, setpriv, privilege changes)';
    case 'netns':
      if (process.getuid?.() !== 0) return 'network namespaces need root';
      return spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0
        ? undefined
        : 'iproute2 `ip netns` is not usable';
    case 'mptcp':
      return mptcpReason();
    case 'python3':
      return spawnSync('python3', ['-c', 'pass'], { stdio: 'ignore' }).status === 0
        ? undefined
        : 'python3 is not installed';
    case 'tc':
      return hasCommand('tc') ? undefined : 'iproute2 `tc` not found';
    case 'setpriv':
      return hasCommand('setpriv') ? undefined : 'setpriv (util-linux) not installed';
    case 'systemd-socket-activate':
      return hasCommand('systemd-socket-activate') || existsSync('/usr/bin/systemd-socket-activate')
        ? undefined
        : 'systemd-socket-activate is not installed (apt-get install systemd)';
    case 'systemd-socket-proxyd':
      return existsSync('/usr/lib/systemd/systemd-socket-proxyd')
        ? undefined
        : '/usr/lib/systemd/systemd-socket-proxyd is not installed';
  }
  return `unknown capability ${String(name)}`;
}

const cache = new Map<CapabilityName, string | undefined>();

/** Why `name` is missing here, or undefined when it is there (probed once per process). */
export function reasonMissing(name: CapabilityName): string | undefined {
  if (!cache.has(name)) {
    let why: string | undefined;
    try {
      why = probeName(name);
    } catch (err) {
      why = `${name}: probe failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    cache.set(name, why);
  }
  return cache.get(name);
}

/** A capability by name or from a probe of the test's own, as { ok, reason }. */
export function capability(of: CapabilityName | Probe): Capability {
  let why: string | undefined;
  try {
    why = typeof of === 'function' ? of() : reasonMissing(of);
  } catch (err) {
    why = `probe failed: ${err instanceof Error ? err.message : String(err)}`;
  }
  return why === undefined ? { ok: true, reason: '' } : { ok: false, reason: why };
}

/** The missing ones among `needs` ("name: reason; …"), or null when all are there. No gate: just the answer. */
export function missing(needs: readonly CapabilityName[]): string | null {
  const why = needs.map((n) => [n, reasonMissing(n)] as const).filter(([, r]) => r !== undefined);
  return why.length === 0 ? null : why.map(([n, r]) => `${n}: ${r}`).join('; ');
}

/** What vitest's test context offers the gate. */
export interface SkipContext {
  skip(note?: string): void;
  task?: { name: string };
}

export type Need = CapabilityName | Capability | Probe;

function reasonsOf(needs: readonly Need[]): string | undefined {
  const reasons: string[] = [];
  for (const n of needs) {
    const c = typeof n === 'object' ? n : capability(n);
    if (!c.ok) reasons.push(typeof n === 'string' ? `${n}: ${c.reason}` : c.reason);
  }
  return reasons.length === 0 ? undefined : reasons.join('; ');
}

/**
 * THE gate. Returns normally when everything in `needs` is there. Otherwise: under CI=true it
 * throws (the test fails); elsewhere it prints the reason and skips the test through `ctx`.
 */
export function requireCapabilities(ctx: SkipContext, ...needs: Need[]): void {
  const why = checkCapabilities(needs, ctx.task?.name);
  if (why !== undefined) ctx.skip(why);
}

/**
 * The gate for a whole file or a describe block (no test context yet): undefined when everything is
 * there; otherwise throws under CI=true, or prints the reason and returns it (for `describe.skipIf`).
 */
export function checkCapabilities(needs: readonly Need[], what?: string): string | undefined {
  const why = reasonsOf(needs);
  if (why === undefined) return undefined;
  const who = what ? `${what}: ` : '';
  if (IN_CI) throw new Error(`${who}required capability missing under CI=true: ${why}`);
  console.warn(`SKIP ${who}${why}`);
  return why;
}
