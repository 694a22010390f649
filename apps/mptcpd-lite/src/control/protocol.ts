/**
 * The control protocol: one JSON object per line each way over an AF_UNIX stream socket.
 * Request: {"cmd":"status"|"reload"|"stop"|"ping", "id"?: JSON value}. Reply: {"ok":true, ...} or
 * {"ok":false,"error":{"code","message"}}.
 */

export type ControlCommand = 'status' | 'reload' | 'stop' | 'ping';
export const CONTROL_COMMANDS: readonly ControlCommand[] = ['status', 'reload', 'stop', 'ping'];

export interface ControlRequest {
  cmd: ControlCommand;
  id?: unknown;
}

export interface SocketStatus {
  unit: string;
  state: string;
  accept: boolean;
  listen: Array<{ address: string; kind: string; protocol: 'mptcp' | 'tcp' | 'fallback' | 'other'; fd?: number | undefined }>;
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
}

export type ControlReply = ({ ok: true } & Record<string, unknown>) | { ok: false; error: { code: string; message: string }; id?: unknown };

/** Parses one request line; returns an error reply object for anything malformed. */
export function parseRequest(line: string): ControlRequest | { error: { code: string; message: string }; id?: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: { code: 'EBADMSG', message: 'request is not JSON (send one JSON object per line, e.g. {"cmd":"status"})' } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: { code: 'EBADMSG', message: 'request must be a JSON object' } };
  const obj = value as Record<string, unknown>;
  const cmd = obj.cmd;
  if (typeof cmd !== 'string' || !(CONTROL_COMMANDS as readonly string[]).includes(cmd)) {
    return { error: { code: 'EINVAL', message: `unknown command ${JSON.stringify(cmd)} (expected one of ${CONTROL_COMMANDS.join(', ')})` }, id: obj.id };
  }
  return { cmd: cmd as ControlCommand, id: obj.id };
}
