/**
 * What the daemon needs from a socket-activation engine. The real one wraps @mptcp/activation
 * (daemon/activation-engine.ts); keeping the seam here lets the daemon's signal, control-socket and
 * sd_notify logic stay independent of the engine's event and option shapes.
 */
import type { ServiceStatus, SocketListing, SocketStatus, UnitOperation, UnitStatus } from '../control/protocol.js';

export interface FailedUnit {
  unit: string;
  file: string;
  /** 'load': the unit file has errors (skipped); 'start': it loaded but its sockets could not be opened. */
  stage: 'load' | 'start';
  /** Diagnostics as systemd prints them (`FILE:LINE: message`, `UNIT: message`). */
  messages: string[];
}

export interface LoadReport {
  sockets: number;
  services: number;
  failed: FailedUnit[];
  /** Non-fatal diagnostics of units that loaded. */
  warnings: string[];
}

export interface Engine {
  start(): Promise<LoadReport>;
  /** Re-reads the unit directories; listening fds of unchanged sockets are kept. */
  reload(): Promise<LoadReport>;
  /** Stops services (KillSignal=, TimeoutStopSec=) and closes sockets (RemoveOnStop=). */
  stop(): Promise<void>;
  status(): { sockets: SocketStatus[]; services: ServiceStatus[] };
  /** start/stop/restart/reload one unit; rejects with a `code` (UNIT_NOT_FOUND, EXEC_FAILED…). */
  unitOperation(op: UnitOperation, unit: string): Promise<void>;
  /** Every loaded unit (list-units). */
  listUnits(): UnitStatus[];
  /** One unit with its last `lines` log lines; undefined when not loaded. */
  unitStatus(unit: string, lines: number): UnitStatus | undefined;
  /** One row per listening address (list-sockets). */
  listSockets(): SocketListing[];
}
