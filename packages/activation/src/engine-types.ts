/**
 * Public state, status and event types of the engine. Everything in `EngineStatus` is plain JSON
 * (the daemon prints it with JSON.stringify).
 */
import type { SockAddr } from '@mptcp/native';
import type { ListenKind, ServiceUnit, SocketUnit } from '@mptcp/unit';
import type { Transport } from './open-listen.js';
import type { ServiceExit, ServiceSnapshot, ServiceState } from './service-process.js';

/**
 * systemd's SocketState names: the start-*, stop-* and final-* states are those of a socket unit's
 * control commands (ExecStartPre=, ExecStartPost=, ExecStopPre=, ExecStopPost=; socket-exec.ts).
 */
export type SocketState =
  | 'dead'
  | 'start-pre'
  | 'start-post'
  | 'listening'
  | 'running'
  | 'stop-pre'
  | 'stop-pre-sigterm'
  | 'stop-pre-sigkill'
  | 'stop-post'
  | 'final-sigterm'
  | 'final-sigkill'
  | 'failed';
/** systemd's SocketResult values that can happen here. */
export type SocketResult =
  | 'success'
  | 'resources'
  | 'timeout'
  | 'exit-code'
  | 'signal'
  | 'core-dump'
  | 'trigger-limit-hit'
  | 'service-start-limit-hit';

/**
 * A `<prefix>@.service` template: its file (each instance is loaded from it with its own
 * specifiers), or an already parsed ServiceUnit (instantiated by %-substitution).
 */
export interface ServiceTemplate {
  name: string;
  file: string;
  /** Where instance drop-ins are looked up (default: the template's directory). */
  searchPaths?: readonly string[];
  /**
   * The template's text and its drop-ins, read once when the units are (re)loaded: instances are
   * parsed from memory, so a connection never waits for the disk. Filled in by the engine.
   */
  text?: string;
  dropInTexts?: ReadonlyArray<{ file: string; text: string }>;
  /**
   * The file's text as the unit loader already read it (loadEngineUnits()): the engine then does not
   * read the file a second time. Without it (or when it could not be read) the engine reads the file.
   */
  loadedText?: string;
}

/** The units the engine runs: sockets, the services they trigger, and `<prefix>@.service` templates. */
export interface EngineUnits {
  sockets: readonly SocketUnit[];
  services?: readonly ServiceUnit[];
  templates?: ReadonlyArray<ServiceTemplate | ServiceUnit>;
}

export interface ListenStatus {
  kind: ListenKind;
  /** As written in the unit (after specifiers). */
  value: string;
  /** The bound address, port 0 resolved (`127.0.0.1:41234`, `[::]:80`, `/run/x.sock`). */
  address: string;
  port?: number;
  transport: Transport;
  /** SO_PROTOCOL of the socket (262 for MPTCP). */
  protocol: number;
  fd: number;
}

export interface SocketCounters {
  /** Connections accepted (Accept=yes). */
  accepted: number;
  /** Connections closed by MaxConnections*= or the trigger limit (Accept=yes). */
  refused: number;
  /** Activations: service starts requested (Accept=no) or connections handled (Accept=yes). */
  triggers: number;
}

export interface SocketStatus {
  name: string;
  state: SocketState;
  result: SocketResult;
  accept: boolean;
  /** Accept=no: the service it triggers; Accept=yes: the template. */
  service: string;
  listen: ListenStatus[];
  counters: SocketCounters;
  /** Accept=yes: connections (instances) now running. */
  connections: number;
  /** Why the socket failed, when it did. */
  error?: string;
  /** The control command (ExecStartPre=, ExecStopPost=, …) running now. */
  controlPid?: number;
}

export interface EngineStatus {
  sockets: SocketStatus[];
  /** Accept=no services, then running Accept=yes instances. */
  services: ServiceSnapshot[];
}

/** One unit as `list-units` and `status UNIT` show it (systemd's ActiveState/SubState/Result). */
export interface UnitInfo {
  name: string;
  kind: 'socket' | 'service';
  file: string;
  description?: string;
  activeState: string;
  subState: string;
  result: string;
  socket?: SocketStatus;
  service?: ServiceSnapshot;
  /** Socket: the service it activates. */
  triggers: string[];
  /** Service: the sockets that activate it. */
  triggeredBy: string[];
  /** ConditionResult=/AssertResult= of the last start (conditions.ts); yes until a start found them unmet. */
  conditionResult?: boolean;
  assertResult?: boolean;
  /** systemctl status's `Condition: start condition unmet at …`/`Assert: …` lines (ISO times), when unmet. */
  conditionLines?: string[];
  /**
   * systemd's UnitFileState of the unit's file, from its [Install] section (unit-file-state.ts):
   * `static` without one; `indirect` with only Also=; else `enabled` for a socket (the daemon starts
   * every socket unit, as an enabled one starts at boot) and `disabled` for a service (started on demand).
   */
  unitFileState: UnitFileState;
  /** Socket: its Listen*= ports as systemctl status shows them (opened ones with their bound address). */
  listen?: Array<{ kind: ListenKind; address: string }>;
  /**
   * systemctl status's `since`: when the unit entered its ActiveState (ISO 8601); unset for a unit
   * that never started, as 257 prints no time then.
   */
  since?: string;
  /** The running main and control processes' names (/proc/PID/comm), as systemctl status shows them. */
  mainComm?: string;
  controlComm?: string;
  /**
   * Service whose main process is gone: systemctl status's `(code=exited, status=1/FAILURE)` /
   * `(code=killed, signal=ABRT)` after its ExecMainPID.
   */
  mainExit?: string;
  /** A socket's current or last invocation ID (a service's is in `service`). */
  invocationId?: string;
  /** An inactive or failed unit that was active: how long, as systemctl status's `Duration: 1.004s`. */
  duration?: string;
  /** Service: FileDescriptorStoreMax= (systemctl status prints `FD Store: N (limit: M)` when either is set). */
  fdStoreMax?: number;
  /** Accept=yes socket: systemd's NAccepted, NConnections, NRefused. */
  connections?: { accepted: number; connected: number; refused: number };
}

/** systemd's UnitFileState values that a unit loaded from a directory can have here. */
export type UnitFileState = 'static' | 'indirect' | 'enabled' | 'disabled';

export interface StartReport {
  listening: string[];
  failed: Array<{ unit: string; error: string; code?: string }>;
}

export interface ReloadReport extends StartReport {
  kept: string[];
  reopened: string[];
  removed: string[];
}

export interface SocketStateEvent {
  socket: string;
  state: SocketState;
  result: SocketResult;
}

export interface ServiceStateEvent {
  service: string;
  state: ServiceState;
  pid?: number;
}

export interface TriggerEvent {
  socket: string;
  service: string;
}

export interface AcceptedEvent {
  socket: string;
  service: string;
  instance: string;
  remote: SockAddr;
  local: SockAddr;
}

export interface RefusedEvent {
  socket: string;
  reason: 'max-connections' | 'max-connections-per-source' | 'trigger-limit-hit' | 'error';
  remote?: SockAddr;
  message: string;
}

export interface StartedEvent {
  service: string;
  pid: number;
  socket?: string;
}

/** The typed events of {@link ActivationEngine}. */
export interface EngineEvents {
  'socket-state': [SocketStateEvent];
  'service-state': [ServiceStateEvent];
  trigger: [TriggerEvent];
  accepted: [AcceptedEvent];
  refused: [RefusedEvent];
  started: [StartedEvent];
  'service-exit': [ServiceExit];
}
