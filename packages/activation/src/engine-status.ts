/** What `status`, `list-units` and `status UNIT` show of the engine's sockets and services. */
import type { ListenKind } from '@mptcp/unit';
import type { ListenStatus, SocketStatus, UnitInfo } from './engine-types.js';
import { conditionShow, conditionStatusLines } from './conditions.js';
import { instanceDescription, ownDescription, templateNameFor } from './instance-name.js';
import { SYSTEMD_EXIT_STATUS } from './exit-status.js';
import { formatTimespan } from './format-timespan.js';
import { commOf } from './process-group.js';
import { formatSockAddr, portOf, toSockAddr } from './listen-address.js';
import type { ServiceProcess } from './service-process.js';
import type { SocketRuntime } from './socket-runtime.js';
import { serviceNameOf } from './unit-definitions.js';
import { activeStateOf } from './socket-active-state.js';
import { unitFileState } from './unit-file-state.js';

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
    // An Accept=yes socket triggers its live instances (257 lists none while there are none).
    triggers: sock.unit.accept ? [...sock.instances].map((i) => i.name) : [status.service],
    triggeredBy: [],
    ...conditionInfo(sock, sock.unit),
    ...(sock.since !== undefined ? { since: new Date(sock.since).toISOString() } : {}),
    ...(sock.invocationId !== undefined ? { invocationId: sock.invocationId } : {}),
    unitFileState: unitFileState('socket', sock.unit.install),
    ...commsOf(undefined, status.controlPid),
    listen: listenLines(sock),
    ...(sock.unit.accept
      ? {
          connections: {
            accepted: sock.counters.accepted,
            connected: sock.limits.connections,
            refused: sock.counters.refused,
          },
        }
      : {}),
  };
}

/**
 * The socket's Listen*= ports as systemctl status lists them, also while it is not listening: an
 * opened port with its bound address, else the configured one. Kinds mptcpd-lite does not open
 * (ListenNetlink=, ListenMessageQueue=, ListenUSBFunction=) are left out.
 */
function listenLines(sock: SocketRuntime): Array<{ kind: ListenKind; address: string }> {
  const opened = new Map(sock.ports.map((p) => [p.entry, p] as const));
  return sock.unit.listen
    .filter((e) => e.kind !== 'netlink' && e.kind !== 'mqueue' && e.kind !== 'usb-function')
    .map((e) => {
      const local = opened.get(e)?.local;
      const configured = toSockAddr(e.address);
      return {
        kind: e.kind,
        address: local ? formatSockAddr(local) : configured ? formatSockAddr(configured) : e.value,
      };
    });
}

/** A service (or Accept=yes instance) as `status UNIT` shows it; `triggeredBy` the sockets that start it. */
export function serviceUnitInfo(
  name: string,
  p: Pick<ServiceProcess, 'snapshot' | 'state' | 'unit'>,
  triggeredBy: string[],
  accepted = false,
): UnitInfo {
  const snap = p.snapshot(true);
  const activeState = p.state === 'auto-restart' ? 'activating' : p.state;
  // service_set_socket_fd(): an Accept=yes instance's description names its peer (this one's: a
  // fast-path instance shares the unit of the connection it was captured from).
  const description = accepted ? instanceDescription(name, ownDescription(p.unit)) : p.unit.unit.description;
  return {
    name,
    kind: 'service',
    file: p.unit.file,
    ...(description !== undefined ? { description } : {}),
    activeState,
    subState: snap.subState ?? 'dead',
    result: snap.result ?? 'success',
    service: snap,
    triggers: [],
    triggeredBy,
    ...conditionInfo(p, p.unit),
    ...(snap.since !== undefined && (snap.starts > 0 || activeState !== 'inactive') ? { since: snap.since } : {}),
    unitFileState: unitFileState('service', p.unit.install),
    ...commsOf(snap.pid, snap.controlPid),
    ...(snap.pid === undefined && snap.lastExit ? { mainExit: mainExitText(snap.lastExit, snap.result) } : {}),
    ...((activeState === 'inactive' || activeState === 'failed') && snap.activeDurationUsec !== undefined
      ? { duration: formatTimespan(snap.activeDurationUsec, 1000) }
      : {}),
    ...(p.unit.fileDescriptorStoreMax !== undefined ? { fdStoreMax: p.unit.fileDescriptorStoreMax } : {}),
  };
}

/**
 * How systemctl status words a main process's exit: `code=exited, status=N` with the name of a libc
 * (0, 1) or systemd (200…) status, exit_status_to_string(EXIT_STATUS_LIBC|EXIT_STATUS_SYSTEMD);
 * `code=killed, signal=ABRT` (`dumped` for a core dump).
 */
function mainExitText(exit: { code: number | null; signal: string | null }, result: string | undefined): string {
  if (exit.signal !== null)
    return `code=${result === 'core-dump' ? 'dumped' : 'killed'}, signal=${exit.signal.replace(/^SIG/, '')}`;
  const code = exit.code ?? 0;
  const name = code === 0 ? 'SUCCESS' : code === 1 ? 'FAILURE' : code >= 200 ? SYSTEMD_EXIT_STATUS[code] : undefined;
  return `code=exited, status=${code}${name ? `/${name}` : ''}`;
}

/** The names of the running main and control processes (pid_get_comm(); none once a process is gone). */
function commsOf(main: number | undefined, control: number | undefined): Pick<UnitInfo, 'mainComm' | 'controlComm'> {
  const name = (pid: number | undefined): string | undefined => {
    if (pid === undefined) return undefined;
    const c = commOf(pid);
    return c === 'n/a' ? undefined : c;
  };
  const m = name(main);
  const c = name(control);
  return { ...(m !== undefined ? { mainComm: m } : {}), ...(c !== undefined ? { controlComm: c } : {}) };
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
