/**
 * One consistent read of everything the metrics and the status page show: the engine's sockets and
 * services, the host's MPTCP connections with their subflows (sock_diag), the path manager's
 * endpoints and limits (genetlink), and the kernel's MPTCP counters.
 */
import { MPTCP_INFO_FLAG_FALLBACK } from '@mptcp/constants';
import type { ServiceStatus, SocketStatus } from '../control/protocol.js';
import { readPathManagerAsync, type PmEndpoint, type PmLimits } from '../netlink/mptcp-pm.js';
import { linkNamesAsync } from '../netlink/rtnetlink.js';
import { mptcpConnectionsAsync, type MptcpConnection } from '../netlink/sock-diag.js';
import type { AsyncNetlinkTransport } from '../netlink/transport.js';
import { VERSION } from '../version.js';
import { MPTCP_GAUGES, readMptcpCounters } from './kernel-counters.js';
import type { MetricFamily, Sample } from './exposition.js';

export interface Snapshot {
  time: string;
  version: string;
  pid: number;
  sockets: SocketStatus[];
  services: ServiceStatus[];
  connections: ConnectionView[];
  endpoints: PmEndpoint[] | null;
  managedEndpoints: number | null;
  limits: PmLimits | null;
  kernel: Record<string, string>;
  errors: string[];
}

export interface SubflowView {
  local: string;
  remote: string;
  state: string;
  localId: number;
  remoteId: number;
  backup: boolean;
  bytesSent: string;
  bytesReceived: string;
  rttMs: number | null;
}

export interface ConnectionView {
  token: string;
  state: string;
  local: string;
  remote: string;
  mode: 'mptcp' | 'fallback';
  /** The daemon socket unit whose listening port this connection uses, if any. */
  socket: string | null;
  bytesSent: string;
  bytesReceived: string;
  subflows: SubflowView[];
}

const hp = (a: string, p: number): string => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
const MPTCP_SUBFLOW_FLAG_BKUP_LOC = 1 << 5;

function portOf(address: string): number | undefined {
  const m = /:(\d+)$/.exec(address);
  return m ? Number(m[1]) : undefined;
}

function connectionView(c: MptcpConnection, byPort: Map<number, string>): ConnectionView {
  const fallback = ((c.info?.flags ?? 0) & MPTCP_INFO_FLAG_FALLBACK) !== 0;
  return {
    token: (c.info?.token ?? 0).toString(16).padStart(8, '0'),
    state: c.state,
    local: hp(c.local.address, c.local.port),
    remote: hp(c.remote.address, c.remote.port),
    mode: fallback ? 'fallback' : 'mptcp',
    socket: byPort.get(c.local.port) ?? null,
    bytesSent: String(c.info?.bytesSent ?? 0n),
    bytesReceived: String(c.info?.bytesReceived ?? 0n),
    subflows: c.subflows.map((s) => ({
      local: hp(s.local.address, s.local.port),
      remote: hp(s.remote.address, s.remote.port),
      state: s.state,
      localId: s.idLoc ?? 0,
      remoteId: s.idRem ?? 0,
      backup: ((s.flags ?? 0) & MPTCP_SUBFLOW_FLAG_BKUP_LOC) !== 0,
      bytesSent: String(s.tcp?.bytesSent ?? 0n),
      bytesReceived: String(s.tcp?.bytesReceived ?? 0n),
      rttMs: s.tcp ? s.tcp.rttUs / 1000 : null,
    })),
  };
}

export interface SnapshotSources {
  /** The non-blocking transport: a scrape never stalls the daemon's event loop. */
  request: AsyncNetlinkTransport;
  engine: { status(): { sockets: SocketStatus[]; services: ServiceStatus[] } };
  ownedEndpoints?: () => number | undefined;
}

export async function takeSnapshot(src: SnapshotSources): Promise<Snapshot> {
  const errors: string[] = [];
  const { sockets, services } = src.engine.status();
  const byPort = new Map<number, string>();
  for (const s of sockets)
    for (const l of s.listen) {
      const p = portOf(l.address);
      if (p !== undefined) byPort.set(p, s.unit);
    }
  let connections: ConnectionView[] = [];
  try {
    connections = (await mptcpConnectionsAsync(src.request))
      .filter((c) => c.state !== 'LISTEN')
      .map((c) => connectionView(c, byPort));
  } catch (err) {
    errors.push(`sock_diag: ${err instanceof Error ? err.message : String(err)}`);
  }
  let endpoints: PmEndpoint[] | null = null;
  let limits: PmLimits | null = null;
  try {
    const pm = await readPathManagerAsync(src.request);
    const names = await linkNamesAsync(src.request);
    for (const e of pm.endpoints) if (e.ifindex !== undefined) e.dev = names.get(e.ifindex);
    endpoints = pm.endpoints;
    limits = pm.limits;
  } catch (err) {
    errors.push(`mptcp_pm: ${err instanceof Error ? err.message : String(err)}`);
  }
  const kernel: Record<string, string> = {};
  for (const [k, v] of readMptcpCounters()) kernel[k] = v.toString();
  return {
    time: new Date().toISOString(),
    version: VERSION,
    pid: process.pid,
    sockets,
    services,
    connections,
    endpoints,
    managedEndpoints: src.ownedEndpoints?.() ?? null,
    limits,
    kernel,
    errors,
  };
}

/** Metric families of a snapshot. */
export function metricFamilies(s: Snapshot): MetricFamily[] {
  const f: MetricFamily[] = [];
  const add = (name: string, type: MetricFamily['type'], help: string, samples: Sample[]): void =>
    void f.push({ name: `mptcpd_lite_${name}`, type, help, samples });
  add('build', 'info', 'mptcpd-lite version', [{ labels: { version: s.version }, value: 1 }]);
  add(
    'socket_state',
    'gauge',
    'socket unit state (1 for the current state)',
    s.sockets.map((k) => ({ labels: { socket: k.unit, state: k.state }, value: 1 })),
  );
  add(
    'socket_listen',
    'info',
    'listening addresses of a socket unit and the protocol they got (mptcp, tcp, fallback)',
    s.sockets.flatMap((k) =>
      k.listen.map((l) => ({ labels: { socket: k.unit, address: l.address, protocol: l.protocol }, value: 1 })),
    ),
  );
  add(
    'socket_accepted_connections',
    'counter',
    'connections accepted by the socket unit',
    s.sockets.map((k) => ({ labels: { socket: k.unit }, value: k.accepted })),
  );
  add(
    'socket_refused_connections',
    'counter',
    'connections refused by the socket unit (MaxConnections=, MaxConnectionsPerSource=, trigger limit)',
    s.sockets.map((k) => ({ labels: { socket: k.unit }, value: k.refused })),
  );
  add(
    'socket_triggers',
    'counter',
    'service activations triggered by the socket unit',
    s.sockets.map((k) => ({ labels: { socket: k.unit }, value: k.activations })),
  );
  add(
    'socket_connections',
    'gauge',
    'connections of the socket unit open now',
    s.sockets.map((k) => ({ labels: { socket: k.unit }, value: k.connections })),
  );
  const perSocket = new Map<string, { mptcp: number; fallback: number }>();
  for (const k of s.sockets) perSocket.set(k.unit, { mptcp: 0, fallback: 0 });
  for (const c of s.connections)
    if (c.socket) {
      const e = perSocket.get(c.socket);
      if (e) e[c.mode]++;
    }
  add(
    'socket_mptcp_connections',
    'gauge',
    "live MPTCP-socket connections on the socket unit's port, by whether they use MPTCP or fell back to TCP",
    [...perSocket].flatMap(([unit, v]) => [
      { labels: { socket: unit, mode: 'mptcp' }, value: v.mptcp },
      { labels: { socket: unit, mode: 'fallback' }, value: v.fallback },
    ]),
  );
  add(
    'service_state',
    'gauge',
    'service unit state (1 for the current state)',
    s.services.map((v) => ({ labels: { service: v.unit, state: v.state }, value: 1 })),
  );
  add(
    'service_restarts',
    'counter',
    'automatic restarts of the service unit (Restart=)',
    s.services.map((v) => ({ labels: { service: v.unit }, value: v.restarts })),
  );
  add(
    'service_result',
    'gauge',
    "result of the service unit's last run (1 for the current result)",
    s.services.map((v) => ({ labels: { service: v.unit, result: v.result ?? 'success' }, value: 1 })),
  );
  const modes = { mptcp: 0, fallback: 0 };
  for (const c of s.connections) modes[c.mode]++;
  add('mptcp_connections', 'gauge', 'MPTCP-socket connections on this host (network namespace), by mode', [
    { labels: { mode: 'mptcp' }, value: modes.mptcp },
    { labels: { mode: 'fallback' }, value: modes.fallback },
  ]);
  add('mptcp_subflows', 'gauge', 'TCP subflows of the MPTCP connections on this host', [
    { value: s.connections.reduce((n, c) => n + c.subflows.length, 0) },
  ]);
  if (s.endpoints) add('mptcp_endpoints', 'gauge', 'in-kernel path-manager endpoints', [{ value: s.endpoints.length }]);
  if (s.managedEndpoints !== null)
    add('mptcp_endpoints_managed', 'gauge', 'endpoints added by --endpoints auto', [{ value: s.managedEndpoints }]);
  if (s.limits) {
    add('mptcp_limit', 'gauge', 'in-kernel path-manager limits', [
      { labels: { limit: 'subflows' }, value: s.limits.subflows },
      { labels: { limit: 'add_addr_accepted' }, value: s.limits.addAddrAccepted },
    ]);
  }
  const counters = Object.entries(s.kernel).filter(([k]) => !MPTCP_GAUGES.has(k));
  add(
    'kernel_mptcp_events',
    'counter',
    'kernel MPTCP MIB counters (MPTcpExt in /proc/net/netstat, as nstat shows them)',
    counters.map(([k, v]) => ({ labels: { counter: k }, value: BigInt(v) })),
  );
  if (s.kernel.MPCurrEstab !== undefined)
    add(
      'kernel_mptcp_current_established',
      'gauge',
      'MPTCP connections the kernel counts as established (MPCurrEstab)',
      [{ value: BigInt(s.kernel.MPCurrEstab) }],
    );
  add('scrape_errors', 'gauge', 'sources that could not be read in this scrape', [{ value: s.errors.length }]);
  return f;
}
