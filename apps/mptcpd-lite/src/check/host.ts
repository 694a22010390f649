/**
 * "Is this host ready for MPTCP?": kernel support, sysctls, path-manager limits and endpoints, and a
 * verdict in words with the command that fixes what is missing.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { mptcpUnavailableHint } from '@mptcp/constants';
import { readPathManager, type PmEndpoint, type PmLimits } from '../netlink/mptcp-pm.js';
import { netlinkRequest, netlinkTransportName } from '../netlink/transport.js';
import { nativeFn } from '../platform/native.js';
import type { MptcpSupport } from '../platform/native-types.js';
import { readSysctl } from './sysctl.js';

export type Readiness = 'multipath' | 'single-path' | 'unavailable';

export interface HostCheck {
  ready: boolean;
  readiness: Readiness;
  support: MptcpSupport & { source: 'native' | 'sysctl' };
  sysctl: { enabled?: string; pathManager?: string; pmType?: string; scheduler?: string; checksumEnabled?: string };
  pathManager: string;
  limits?: PmLimits;
  endpoints?: PmEndpoint[];
  /** How limits/endpoints were read: 'netlink' (native or python3 transport) or 'ip'. */
  pmSource?: string;
  pmError?: string;
  /** Non-loopback addresses of the host, for suggestions. */
  interfaces: Array<{ name: string; address: string; family: 'inet' | 'inet6' }>;
  verdict: string;
  advice: string[];
}

function support(): HostCheck['support'] {
  const fn = nativeFn('mptcpSupport');
  if (fn) return { ...fn(), source: 'native' };
  const enabled = readSysctl('enabled');
  if (enabled === undefined) return { available: false, reason: 'kernel-without-mptcp', source: 'sysctl' };
  if (enabled === '0') return { available: false, reason: 'disabled-by-sysctl', errno: 'ENOPROTOOPT', source: 'sysctl' };
  return { available: true, source: 'sysctl' };
}

function hostInterfaces(): HostCheck['interfaces'] {
  const out: HostCheck['interfaces'] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')) continue;
      out.push({ name, address: a.address, family: a.family === 'IPv4' ? 'inet' : 'inet6' });
    }
  }
  return out;
}

/** ifindex → interface name, from /sys/class/net of this namespace. */
function interfaceNames(): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const name of readdirSync('/sys/class/net')) {
      try {
        m.set(Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim()), name);
      } catch {
        // interface vanished meanwhile
      }
    }
  } catch {
    // no sysfs: names stay unknown
  }
  return m;
}

/** `ip mptcp` fallback when generic netlink cannot be used. */
function pmFromIp(): { limits: PmLimits; endpoints: PmEndpoint[] } {
  const limitsText = execFileSync('ip', ['mptcp', 'limits', 'show'], { encoding: 'utf8' });
  const num = (key: string): number => Number(new RegExp(`${key} (\\d+)`).exec(limitsText)?.[1] ?? 0);
  const endpoints: PmEndpoint[] = [];
  for (const line of execFileSync('ip', ['mptcp', 'endpoint', 'show'], { encoding: 'utf8' }).split('\n')) {
    const words = line.trim().split(/\s+/);
    const address = words[0];
    if (!address) continue;
    const id = Number(words[words.indexOf('id') + 1] ?? 0);
    const flags = words.filter((w) => ['signal', 'subflow', 'backup', 'fullmesh', 'implicit'].includes(w));
    const portIdx = words.indexOf('port');
    const ep: PmEndpoint = { id, address, family: address.includes(':') ? 'inet6' : 'inet', flags };
    if (portIdx >= 0) ep.port = Number(words[portIdx + 1]);
    endpoints.push(ep);
  }
  return { limits: { subflows: num('subflows'), addAddrAccepted: num('add_addr_accepted') }, endpoints };
}

export function checkHost(): HostCheck {
  const sup = support();
  const sysctl: HostCheck['sysctl'] = {};
  const set = (k: keyof HostCheck['sysctl'], name: string): void => {
    const v = readSysctl(name);
    if (v !== undefined) sysctl[k] = v;
  };
  set('enabled', 'enabled');
  set('pathManager', 'path_manager');
  set('pmType', 'pm_type');
  set('scheduler', 'scheduler');
  set('checksumEnabled', 'checksum_enabled');
  // path_manager (6.15+) names it; pm_type is 0 = in-kernel, 1 = userspace.
  const pathManager = sysctl.pathManager ?? (sysctl.pmType === '1' ? 'userspace' : sysctl.pmType === '0' ? 'kernel' : 'unknown');
  const result: HostCheck = { ready: false, readiness: 'unavailable', support: sup, sysctl, pathManager, interfaces: hostInterfaces(), verdict: '', advice: [] };

  if (sup.available || sup.reason === 'disabled-by-sysctl') {
    try {
      const pm = readPathManager(netlinkRequest);
      result.limits = pm.limits;
      result.endpoints = pm.endpoints;
      result.pmSource = `netlink (${netlinkTransportName()})`;
      const names = interfaceNames();
      for (const e of result.endpoints) if (e.ifindex !== undefined && names.has(e.ifindex)) e.dev = names.get(e.ifindex);
    } catch (err) {
      try {
        const pm = pmFromIp();
        result.limits = pm.limits;
        result.endpoints = pm.endpoints;
        result.pmSource = 'ip mptcp';
      } catch {
        result.pmError = err instanceof Error ? err.message : String(err);
      }
    }
  }
  decide(result);
  return result;
}

/** Fills ready/readiness/verdict/advice from the facts. Exported for tests. */
export function decide(r: HostCheck): void {
  if (!r.support.available) {
    r.ready = false;
    r.readiness = 'unavailable';
    const reason: string | undefined = r.support.reason;
    r.verdict =
      reason === 'disabled-by-sysctl' || reason === 'kernel-without-mptcp'
        ? `not ready: ${mptcpUnavailableHint(reason)}`
        : reason === 'disabled-by-env'
          ? 'not ready: MPTCP is disabled for this process by the environment (NODE_MPTCP=0)'
          : reason === 'addon-unavailable'
            ? 'not ready: the @mptcp/native addon could not be loaded (build it: npx -y pnpm@10 build)'
            : `not ready: socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) failed${r.support.errno ? ` with ${r.support.errno}` : ''} (blocked by a security policy, seccomp or eBPF?)`;
    if (r.support.reason === 'disabled-by-sysctl') r.advice.push('sysctl -w net.mptcp.enabled=1');
    return;
  }
  r.ready = true;
  const candidate = r.interfaces.find((i) => i.family === 'inet') ?? r.interfaces[0];
  const suggestion = candidate ? `ip mptcp endpoint add ${candidate.address} dev ${candidate.name} subflow` : 'ip mptcp endpoint add <addr> dev <iface> subflow';
  if (r.pathManager === 'userspace') {
    r.readiness = 'multipath';
    r.verdict = 'ready: connections will be MPTCP; the userspace path manager is selected, so extra subflows are created by a path-manager daemon (e.g. mptcpd), not by endpoints';
    return;
  }
  const endpoints = r.endpoints;
  const limits = r.limits;
  if (!endpoints || !limits) {
    r.readiness = 'single-path';
    r.verdict = `ready: connections will be MPTCP, but the path manager could not be read (${r.pmError ?? 'unknown error'}), so whether they use several paths is unknown`;
    return;
  }
  const subflowEps = endpoints.filter((e) => e.flags.includes('subflow') || e.flags.includes('fullmesh'));
  const signalEps = endpoints.filter((e) => e.flags.includes('signal'));
  if (endpoints.length === 0) {
    r.readiness = 'single-path';
    r.verdict = `ready: connections will be MPTCP but single-path because no endpoint is configured — add one with: ${suggestion}`;
    r.advice.push(suggestion);
    return;
  }
  if (limits.subflows === 0) {
    r.readiness = 'single-path';
    r.verdict = `ready: connections will be MPTCP but single-path because the subflows limit is 0 — raise it with: ip mptcp limits set subflows ${Math.max(2, subflowEps.length + signalEps.length)}`;
    r.advice.push(`ip mptcp limits set subflows ${Math.max(2, subflowEps.length + signalEps.length)}`);
    return;
  }
  r.readiness = 'multipath';
  const parts: string[] = [];
  if (subflowEps.length > 0) parts.push(`${subflowEps.length} subflow endpoint${subflowEps.length > 1 ? 's' : ''} (outgoing connections add subflows from ${subflowEps.map((e) => e.address).join(', ')})`);
  if (signalEps.length > 0) parts.push(`${signalEps.length} signal endpoint${signalEps.length > 1 ? 's' : ''} (announced to clients: ${signalEps.map((e) => e.address).join(', ')})`);
  r.verdict = `ready: connections will be MPTCP and can use several paths — ${parts.join('; ') || `${endpoints.length} endpoint(s)`}; up to ${limits.subflows} extra subflows per connection`;
  if (limits.addAddrAccepted === 0) r.advice.push('to use addresses announced by servers as a client, allow them with: ip mptcp limits set add_addr_accepted 2');
}
