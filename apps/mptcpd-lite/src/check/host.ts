/**
 * "Is this host ready for MPTCP?": kernel support, sysctls, path-manager limits and endpoints, and a
 * verdict in words with the command that fixes what is missing.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { ENOPROTOOPT, mptcpUnavailableHint } from '@mptcp/constants';
import { readPathManager, type PmEndpoint, type PmLimits } from '../netlink/mptcp-pm.js';
import { usableAddresses } from '../netlink/rtnetlink.js';
import { netlinkRequest, netlinkTransportName } from '../netlink/transport.js';
import { bindingAvailable, mptcpSupport, type MptcpSupport } from '@mptcp/native';
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
  /**
   * The addresses a subflow can use: on an interface that is up, not loopback, not link-local, with a
   * route (rtnetlink; os.networkInterfaces() when that cannot be read).
   */
  interfaces: Array<{ name: string; address: string; family: 'inet' | 'inet6'; defaultRoute?: boolean }>;
  verdict: string;
  /** Why connections stay single-path (or what limits them), each with a stable code. */
  reasons: Array<{ code: CheckReasonCode; message: string }>;
  advice: string[];
}

export type CheckReasonCode =
  | 'SUBFLOWS_LIMIT_ZERO'
  | 'NO_ENDPOINT'
  | 'ONE_INTERFACE'
  | 'ENDPOINT_ADDRESS_ABSENT'
  | 'ENDPOINT_ON_PRIMARY_ONLY'
  | 'ADD_ADDR_ACCEPTED_ZERO'
  | 'INERT_ENDPOINT';

function support(): HostCheck['support'] {
  // Without the addon (not built for this platform) the sysctl still answers.
  if (bindingAvailable()) return { ...mptcpSupport(), source: 'native' };
  const enabled = readSysctl('enabled');
  if (enabled === undefined) return { available: false, reason: 'kernel-without-mptcp', source: 'sysctl' };
  if (enabled === '0')
    return {
      available: false,
      reason: 'disabled-by-sysctl',
      code: 'ENOPROTOOPT',
      errno: ENOPROTOOPT,
      source: 'sysctl',
    };
  return { available: true, source: 'sysctl' };
}

function hostInterfaces(): HostCheck['interfaces'] {
  try {
    return usableAddresses(netlinkRequest).map((a) => ({
      name: a.dev,
      address: a.address,
      family: a.family,
      defaultRoute: a.defaultRoute,
    }));
  } catch {
    // rtnetlink unreadable: the addresses Node sees (no route information)
  }
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
  const pathManager =
    sysctl.pathManager ?? (sysctl.pmType === '1' ? 'userspace' : sysctl.pmType === '0' ? 'kernel' : 'unknown');
  const result: HostCheck = {
    ready: false,
    readiness: 'unavailable',
    support: sup,
    sysctl,
    pathManager,
    interfaces: hostInterfaces(),
    verdict: '',
    reasons: [],
    advice: [],
  };

  if (sup.available || sup.reason === 'disabled-by-sysctl') {
    try {
      const pm = readPathManager(netlinkRequest);
      result.limits = pm.limits;
      result.endpoints = pm.endpoints;
      result.pmSource = `netlink (${netlinkTransportName()})`;
      const names = interfaceNames();
      for (const e of result.endpoints)
        if (e.ifindex !== undefined && names.has(e.ifindex)) e.dev = names.get(e.ifindex);
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
            : `not ready: socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP) failed${r.support.code ? ` with ${r.support.code}` : ''} (blocked by a security policy, seccomp or eBPF?)`;
    if (r.support.reason === 'disabled-by-sysctl') r.advice.push('sysctl -w net.mptcp.enabled=1');
    return;
  }
  r.ready = true;
  if (r.pathManager === 'userspace') {
    r.readiness = 'multipath';
    r.verdict =
      'ready: connections will be MPTCP; the userspace path manager is selected, so extra subflows are created by a path-manager daemon (e.g. mptcpd), not by endpoints';
    return;
  }
  const endpoints = r.endpoints;
  const limits = r.limits;
  if (!endpoints || !limits) {
    r.readiness = 'single-path';
    r.verdict = `ready: connections will be MPTCP, but the path manager could not be read (${r.pmError ?? 'unknown error'}), so whether they use several paths is unknown`;
    return;
  }
  const reason = (code: CheckReasonCode, message: string): void => void r.reasons.push({ code, message });
  const usable = r.interfaces;
  const here = new Set(usable.map((i) => i.address.toLowerCase()));
  const makesSubflows = (e: PmEndpoint): boolean =>
    e.flags.some((f) => f === 'signal' || f === 'subflow' || f === 'fullmesh');
  // Implicit endpoints are the kernel's record of addresses peers used; they are not configuration.
  const configured = endpoints.filter((e) => !(e.flags.length === 1 && e.flags[0] === 'implicit'));
  const active = configured.filter(makesSubflows);
  for (const e of configured.filter((e) => !makesSubflows(e)))
    reason(
      'INERT_ENDPOINT',
      `endpoint ${e.address} id ${e.id} has neither signal, subflow nor fullmesh: it creates no subflow`,
    );
  const absent = active.filter((e) => !here.has(e.address.toLowerCase()));
  for (const e of absent)
    reason(
      'ENDPOINT_ADDRESS_ABSENT',
      `endpoint ${e.address} id ${e.id}: no up, routed interface of this host has that address, so it adds no path`,
    );
  const effective = active.filter((e) => here.has(e.address.toLowerCase()));
  const addrList = (eps: PmEndpoint[]): string => [...new Set(eps.map((e) => e.address))].join(', ');
  const clientNote =
    limits.addAddrAccepted > 0
      ? `; as a client it still uses addresses a server announces (add_addr_accepted ${limits.addAddrAccepted})`
      : '';

  if (limits.subflows === 0) {
    r.readiness = 'single-path';
    reason('SUBFLOWS_LIMIT_ZERO', 'the subflows limit is 0: no connection may add a subflow, whatever the endpoints');
    const n = Math.max(2, effective.length);
    r.verdict = `ready: connections will be MPTCP but single-path because the subflows limit is 0 — raise it with: ip mptcp limits set subflows ${n}`;
    r.advice.push(`ip mptcp limits set subflows ${n}`, `mptcpd-lite endpoints limits --subflows ${n}`);
    return;
  }
  // A signal endpoint with its own port gives the peer a second port to join, even on one address.
  const portSignal = effective.filter((e) => e.port !== undefined && e.flags.includes('signal'));
  if (usable.length <= 1) {
    const only = usable[0];
    if (portSignal.length > 0) {
      r.readiness = 'multipath';
      reason(
        'ONE_INTERFACE',
        `this host has one usable address${only ? ` (${only.address} on ${only.name})` : ''}: extra subflows (to the announced port${portSignal.length > 1 ? 's' : ''} ${portSignal.map((e) => e.port).join(', ')}) share that one path`,
      );
      r.verdict =
        `ready: connections will be MPTCP and can use several subflows — ${portSignal.length} signal endpoint(s) with a port (${addrList(portSignal)}); up to ${limits.subflows} extra subflows per connection, all over the one interface ${only?.name ?? ''}`.trimEnd();
      return;
    }
    r.readiness = 'single-path';
    const what = only
      ? `one usable address (${only.address} on ${only.name})`
      : 'no usable address (no interface that is up, not loopback, with a route)';
    reason(
      'ONE_INTERFACE',
      `this host has ${what}: connections already start from it, so an endpoint on it adds no path; a second path needs a second interface or address here`,
    );
    r.verdict = `ready: connections will be MPTCP but single-path on this host's side because it has ${what}${clientNote}`;
    if (limits.addAddrAccepted === 0)
      r.advice.push(
        'to use a second address announced by servers, allow it with: ip mptcp limits set add_addr_accepted 2',
      );
    return;
  }
  const primary = usable.filter((i) => i.defaultRoute);
  const secondary = usable.filter((i) => !i.defaultRoute);
  const candidate = secondary.find((i) => i.family === 'inet') ?? secondary[0] ?? usable[1];
  const suggestion = candidate
    ? `ip mptcp endpoint add ${candidate.address} dev ${candidate.name} subflow signal`
    : undefined;
  if (effective.length === 0) {
    r.readiness = 'single-path';
    if (configured.length === 0)
      reason(
        'NO_ENDPOINT',
        `no endpoint is configured: this host has ${usable.length} usable addresses (${usable.map((i) => `${i.address} on ${i.name}`).join(', ')}) but the kernel uses only the one a connection starts from`,
      );
    r.verdict = `ready: connections will be MPTCP but single-path because ${configured.length === 0 ? 'no endpoint is configured' : 'no endpoint is on a usable address of this host'}${clientNote} — add one with: ${suggestion ?? 'ip mptcp endpoint add <addr> dev <iface> subflow signal'} (or run: mptcpd-lite run --endpoints auto)`;
    if (suggestion) r.advice.push(suggestion);
    r.advice.push('mptcpd-lite run --endpoints auto');
    return;
  }
  const primaryAddrs = new Set(primary.map((i) => i.address.toLowerCase()));
  if (
    primary.length > 0 &&
    portSignal.length === 0 &&
    effective.every((e) => primaryAddrs.has(e.address.toLowerCase()))
  ) {
    r.readiness = 'single-path';
    reason(
      'ENDPOINT_ON_PRIMARY_ONLY',
      `the only endpoint address (${addrList(effective)}) is the default-route address connections start from, so it adds no path`,
    );
    r.verdict = `ready: connections will be MPTCP but single-path because the endpoints are only on the address connections start from${clientNote}${suggestion ? ` — add one on the other interface: ${suggestion}` : ''}`;
    if (suggestion) r.advice.push(suggestion);
    return;
  }
  r.readiness = 'multipath';
  const subflowEps = effective.filter((e) => e.flags.includes('subflow') || e.flags.includes('fullmesh'));
  const signalEps = effective.filter((e) => e.flags.includes('signal'));
  const parts: string[] = [];
  if (subflowEps.length > 0)
    parts.push(
      `${subflowEps.length} subflow endpoint${subflowEps.length > 1 ? 's' : ''} (outgoing connections add subflows from ${addrList(subflowEps)})`,
    );
  if (signalEps.length > 0)
    parts.push(
      `${signalEps.length} signal endpoint${signalEps.length > 1 ? 's' : ''} (announced to clients: ${addrList(signalEps)})`,
    );
  r.verdict = `ready: connections will be MPTCP and can use several paths — ${parts.join('; ')}; up to ${limits.subflows} extra subflows per connection`;
  if (limits.addAddrAccepted === 0) {
    reason('ADD_ADDR_ACCEPTED_ZERO', 'add_addr_accepted is 0: as a client, addresses announced by servers are ignored');
    r.advice.push(
      'to use addresses announced by servers as a client, allow them with: ip mptcp limits set add_addr_accepted 2',
    );
  }
}
