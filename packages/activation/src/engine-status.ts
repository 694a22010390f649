/** What `status`, `list-units` and `status UNIT` show of the engine's sockets and services. */
import type { ListenStatus, SocketState, SocketStatus, UnitInfo } from './engine-types.js';
import { conditionShow, conditionStatusLines } from './conditions.js';
import { templateNameFor } from './instance-name.js';
import { formatSockAddr, portOf } from './listen-address.js';
import type { ServiceProcess } from './service-process.js';
import type { SocketRuntime } from './socket-runtime.js';
import { serviceNameOf } from './unit-definitions.js';

export function socketStatus(s: SocketRuntime): SocketStatus {
  const listen: ListenStatus[] = s.ports.map((p) => {
    const port = p.local ? portOf(p.local) : undefined;
    return {
      kind: p.entry.kind,
      value: p.entry.value,
      address: p.local ? formatSockAddr(p.local) : p.entry.value,
      ...(port !== undefined ? { port } : {}),
      transport: p.transport,
      protocol: p.protocol,
      fd: p.fd,
    };
  });
  return {
    name: s.unit.name,
    state: s.state,
    result: s.result,
    accept: s.unit.accept,
    service: s.unit.accept ? templateNameFor(s.unit.name) : serviceNameOf(s.unit),
    listen,
    counters: { ...s.counters },
    connections: s.limits.connections,
    ...(s.error !== undefined ? { error: s.error } : {}),
    ...(s.control?.pid !== undefined ? { controlPid: s.control.pid } : {}),
  };
}

/** systemd's state_translation_table for sockets: SocketState → ActiveState. */
function activeStateOf(state: SocketState): string {
  switch (state) {
    case 'listening':
    case 'running':
      return 'active';
    case 'start-pre':
    case 'start-post':
      return 'activating';
    case 'failed':
      return 'failed';
    case 'dead':
      return 'inactive';
    default:
      return 'deactivating';
  }
}

export function socketUnitInfo(sock: SocketRuntime): UnitInfo {
  const status = socketStatus(sock);
  return {
    name: sock.unit.name,
    kind: 'socket',
    file: sock.unit.file,
    ...(sock.unit.unit.description !== undefined ? { description: sock.unit.unit.description } : {}),
    activeState: activeStateOf(sock.state),
    subState: sock.state,
    result: sock.result,
    socket: status,
    triggers: [status.service],
    triggeredBy: [],
    ...conditionInfo(sock, sock.unit),
  };
}

/** A service (or Accept=yes instance) as `status UNIT` shows it; `triggeredBy` the sockets that start it. */
export function serviceUnitInfo(
  name: string,
  p: Pick<ServiceProcess, 'snapshot' | 'state' | 'unit'>,
  triggeredBy: string[],
): UnitInfo {
  const snap = p.snapshot(true);
  const activeState = p.state === 'auto-restart' ? 'activating' : p.state;
  return {
    name,
    kind: 'service',
    file: p.unit.file,
    ...(p.unit.unit.description !== undefined ? { description: p.unit.unit.description } : {}),
    activeState,
    subState: snap.subState ?? 'dead',
    result: snap.result ?? 'success',
    service: snap,
    triggers: [],
    triggeredBy,
    ...conditionInfo(p, p.unit),
  };
}

/** ConditionResult=/AssertResult= and status's lines for them (conditions.ts), for a unit that has had a start. */
function conditionInfo(holder: object, unit: Parameters<typeof conditionStatusLines>[1]): Partial<UnitInfo> {
  const shown = conditionShow(holder);
  const lines = conditionStatusLines(holder, unit, (ms) => new Date(ms).toISOString());
  return {
    conditionResult: shown.ConditionResult === 'yes',
    assertResult: shown.AssertResult === 'yes',
    ...(lines.length > 0 ? { conditionLines: lines } : {}),
  };
}
