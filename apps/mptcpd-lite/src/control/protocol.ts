/**
 * The control protocol: one JSON object per line each way over an AF_UNIX stream socket.
 * Request: {"cmd":"status"|"reload"|"stop"|"ping", "id"?: JSON value}. Reply: {"ok":true, ...} or
 * {"ok":false,"error":{"code","message"}}.
 */

export type ControlCommand =
  'status' | 'reload' | 'stop' | 'ping' | 'unit' | 'list-sockets' | 'list-units' | 'unit-status';
export const CONTROL_COMMANDS: readonly ControlCommand[] = [
  'status',
  'reload',
  'stop',
  'ping',
  'unit',
  'list-sockets',
  'list-units',
  'unit-status',
];

/** `unit`: what to do to each of `units` (mptcpd-lite start|stop|restart|reload UNIT...). */
export type UnitOperation = 'start' | 'stop' | 'restart' | 'reload';
export const UNIT_OPERATIONS: readonly UnitOperation[] = ['start', 'stop', 'restart', 'reload'];

export interface ControlRequest {
  cmd: ControlCommand;
  id?: unknown;
  /** `unit`, `unit-status`: unit names. */
  units?: string[];
  /** `unit`: the operation. */
  op?: UnitOperation;
  /** `unit-status`: how many log lines (default 10). */
  lines?: number;
}

/** One unit's answer to `unit`. */
export interface UnitOperationResult {
  unit: string;
  ok: boolean;
  error?: { code: string; message: string };
}

/** `unit-status`/`list-units`: one unit (systemd's ActiveState/SubState/Result). */
export interface UnitStatus {
  unit: string;
  kind: 'socket' | 'service';
  file: string;
  description?: string | undefined;
  activeState: string;
  subState: string;
  result: string;
  /** Since when in this state (ISO 8601), when known. */
  since?: string | undefined;
  mainPid?: number | undefined;
  /** The control process running now (ExecStartPre=, a socket's ExecStopPost=, …). */
  controlPid?: number | undefined;
  tasks?: number | undefined;
  statusText?: string | undefined;
  restarts?: number | undefined;
  fdStore?: string[] | undefined;
  fdStoreMax?: number | undefined;
  /** The service's current or last INVOCATION_ID. */
  invocationId?: string | undefined;
  /** systemd's UnitFileState of its file (`static`, `indirect`, `enabled`, `disabled`). */
  unitFileState?: string | undefined;
  mainComm?: string | undefined;
  /** systemd's ExecMainPID: the current or last main process. */
  execMainPid?: number | undefined;
  /** How the last main process ended, once it has (`code=exited, status=1/FAILURE`). */
  mainExit?: string | undefined;
  /** An inactive or failed unit that was active: for how long (systemd's format_timespan()). */
  duration?: string | undefined;
  controlComm?: string | undefined;
  /** Every Listen*= port mptcpd-lite opens, also while not listening; `protocol` of an open one. */
  listen: Array<{ address: string; kind: string; protocol: string }>;
  /** Accept=yes socket: connections accepted, connected now, refused. */
  connections?: { accepted: number; connected: number; refused: number } | undefined;
  triggers: string[];
  triggeredBy: string[];
  /** The ActiveState of each of `triggeredBy` (the dot before its name). */
  triggeredByStates?: string[] | undefined;
  /** systemctl status's `Condition:`/`Assert:` lines of the last start that tested them. */
  conditionLines?: string[] | undefined;
  /** The last log lines of this unit (unit-status only). */
  log?: string[] | undefined;
}

/** `list-sockets`: one row per listening address (systemctl list-sockets). */
export interface SocketListing {
  listen: string;
  kind: string;
  protocol: string;
  unit: string;
  activates: string;
}

export interface SocketStatus {
  unit: string;
  state: string;
  accept: boolean;
  listen: Array<{
    address: string;
    kind: string;
    protocol: 'mptcp' | 'tcp' | 'fallback' | 'other';
    fd?: number | undefined;
  }>;
  service?: string | undefined;
  connections: number;
  accepted: number;
  refused: number;
  activations: number;
}

export interface ServiceStatus {
  unit: string;
  state: string;
  pid?: number | undefined;
  pids: number[];
  restarts: number;
  socket?: string | undefined;
  result?: string | undefined;
  /** systemd's SubState= (running, start, exited, stop-sigterm, auto-restart…). */
  subState?: string | undefined;
  /** STATUS= the service sent. */
  statusText?: string | undefined;
}

export interface DaemonStatus {
  pid: number;
  uid: number;
  version: string;
  startedAt: string;
  uptimeSec: number;
  unitDirs: string[];
  control: string;
  sockets: SocketStatus[];
  services: ServiceStatus[];
  /** Units that failed to load, with their diagnostics as printed. */
  failed: Array<{ unit: string; file: string; stage: 'load' | 'start'; messages: string[] }>;
  /**
   * How service processes are tracked: a cgroup v2 per service run under `path` (`--cgroup auto` where
   * it can), or their process groups (`reason`: why not cgroups). Absent from daemons before it.
   */
  tracking?: ProcessTracking;
}

export type ProcessTracking = { kind: 'cgroup'; path: string } | { kind: 'process-group'; reason: string };

/** `cgroup (PATH)` or `process group (REASON)`. */
export function trackingText(t: ProcessTracking): string {
  return t.kind === 'cgroup' ? `cgroup (${t.path})` : `process group (${t.reason})`;
}

export type ControlReply =
  ({ ok: true } & Record<string, unknown>) | { ok: false; error: { code: string; message: string }; id?: unknown };

/** Parses one request line; returns an error reply object for anything malformed. */
export function parseRequest(
  line: string,
): ControlRequest | { error: { code: string; message: string }; id?: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return {
      error: { code: 'EBADMSG', message: 'request is not JSON (send one JSON object per line, e.g. {"cmd":"status"})' },
    };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { error: { code: 'EBADMSG', message: 'request must be a JSON object' } };
  const obj = value as Record<string, unknown>;
  const cmd = obj.cmd;
  if (typeof cmd !== 'string' || !(CONTROL_COMMANDS as readonly string[]).includes(cmd)) {
    return {
      error: {
        code: 'EINVAL',
        message: `unknown command ${JSON.stringify(cmd)} (expected one of ${CONTROL_COMMANDS.join(', ')})`,
      },
      id: obj.id,
    };
  }
  const req: ControlRequest = { cmd: cmd as ControlCommand, id: obj.id };
  if (obj.units !== undefined) {
    if (
      !Array.isArray(obj.units) ||
      !obj.units.every((u) => typeof u === 'string' && u.length > 0 && u.length <= 256)
    ) {
      return { error: { code: 'EINVAL', message: '"units" must be an array of unit names' }, id: obj.id };
    }
    req.units = obj.units as string[];
  }
  if (cmd === 'unit') {
    if (typeof obj.op !== 'string' || !(UNIT_OPERATIONS as readonly string[]).includes(obj.op)) {
      return { error: { code: 'EINVAL', message: `"op" must be one of ${UNIT_OPERATIONS.join(', ')}` }, id: obj.id };
    }
    req.op = obj.op as UnitOperation;
  }
  if ((cmd === 'unit' || cmd === 'unit-status') && (req.units === undefined || req.units.length === 0)) {
    return { error: { code: 'EINVAL', message: `"${cmd}" needs "units": [names]` }, id: obj.id };
  }
  if (obj.lines !== undefined) {
    if (typeof obj.lines !== 'number' || !Number.isInteger(obj.lines) || obj.lines < 0 || obj.lines > 10_000)
      return { error: { code: 'EINVAL', message: '"lines" must be an integer 0..10000' }, id: obj.id };
    req.lines = obj.lines;
  }
  return req;
}
