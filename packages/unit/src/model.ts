/**
 * The typed models of @mptcp/unit: what a parsed .socket or .service unit looks like to its users
 * (@mptcp/activation, mptcpd-lite). Time spans are microseconds as `number` (`Infinity` =
 * "infinity"); sizes are bytes.
 */
import type { ServiceValueFields, SocketValueFields, UnitSectionValueFields } from './directives.js';

export type { ServiceValueFields, SocketValueFields, UnitSectionValueFields };

export type Severity = 'warning' | 'error';

/**
 * One diagnostic, printed as systemd prints it:
 * `FILE:LINE: MESSAGE` when `line` is set, `UNIT: MESSAGE` otherwise.
 */
export interface Diagnostic {
  severity: Severity;
  /** The file the message is about (main unit file or drop-in). */
  file: string;
  /** Physical line (last line of a continuation); undefined for unit-level (load-time) messages. */
  line?: number;
  /** Unit name, for `UNIT: message` diagnostics. */
  unit?: string;
  message: string;
  /**
   * Printed at LOG_NOTICE (e.g. "Special user nobody configured"): shown, but it does not make
   * `systemd-analyze verify --recursive-errors=…` fail.
   */
  notice?: boolean;
}

/** The Listen*= kinds, in systemd's terms. */
export type ListenKind =
  'stream' | 'datagram' | 'seqpacket' | 'fifo' | 'special' | 'netlink' | 'mqueue' | 'usb-function';

/** A parsed socket address (socket_address_parse / netlink / path forms). */
export type ListenAddress =
  | { family: 'inet'; address: string; port: number; ifname?: string }
  | { family: 'inet6'; address: string; port: number; scopeId?: number; ifname?: string }
  /** AF_UNIX: `path` is the file-system path, or for `abstract` the name without the leading `@`. */
  | { family: 'unix'; path: string; abstract: boolean }
  | { family: 'vsock'; cid: number; port: number; type?: 'stream' | 'dgram' | 'seqpacket' }
  /** `protocol` is systemd's family name (`route`, `kobject-uevent`), `protocolNumber` the NETLINK_* value. */
  | { family: 'netlink'; protocol: string; protocolNumber: number; group: number }
  /** FIFOs, special files, message queues, FunctionFS: a path, not a socket address. */
  | { family: 'path'; path: string };

export interface ListenEntry {
  kind: ListenKind;
  /** The value after specifier expansion, as written. */
  value: string;
  address: ListenAddress;
  /** Where it was configured. */
  file: string;
  line: number;
}

/** One command line of ExecStart= & co., after quote and escape processing, before $VAR expansion. */
export interface ExecCommand {
  /** The executable: absolute, or resolved from systemd's fixed search path at load time. */
  path: string;
  /** argv as written (argv[0] first); words may still contain `$VAR`/`${VAR}` unless `noEnvExpand`. */
  argv: string[];
  /** `-`: a failing exit status is ignored. */
  ignoreFailure: boolean;
  /** `:`: no environment variable expansion. */
  noEnvExpand: boolean;
  /** `+`: run with full privileges (no User=/Group=). */
  fullPrivileges: boolean;
  /** `!` / `!!`: do not switch user. */
  noUserSwitch: boolean;
  /** `!!`: the ambient-capabilities variant of `!` (only without ambient capability support). */
  ambientMagic: boolean;
  /** `@`: argv[0] was given explicitly and differs from the path. */
  argv0Override: boolean;
  /** The text of the assignment, for messages. */
  raw: string;
  file: string;
  line: number;
}

/**
 * [Unit] section: only what a socket-activation daemon uses; the rest is kept verbatim in `extra`.
 * StartLimitIntervalSec=, StartLimitBurst= and SuccessAction= (service_verify() needs it) are the
 * value fields derived from the [Unit] table's rows.
 */
export interface UnitSection extends UnitSectionCore, UnitSectionValueFields {}

/** The fields of UnitSection that rows with their own parser fill (declared by hand). */
export interface UnitSectionCore {
  description?: string;
  documentation: string[];
  /** Every other [Unit] assignment, verbatim, in order per key (empty values included). */
  extra: Record<string, string[]>;
  /** Condition*= checks as parsed (src/conditions.ts), in the order written; unset when none was written. */
  conditions?: UnitCondition[];
  /** Assert*= checks, likewise. */
  asserts?: UnitCondition[];
}

/** One Condition*=/Assert*= check (257's Condition struct), its specifiers resolved. */
export interface UnitCondition {
  /** The key as written: `ConditionPathExists`, `AssertUser`. */
  key: string;
  /** The type without its kind: `PathExists`, `User`. */
  type: string;
  /** `|`: a triggering check (at least one of them must hold). */
  trigger: boolean;
  /** `!`: negated. */
  negate: boolean;
  parameter: string;
  file: string;
  line: number;
}

export type BindIPv6Only = 'default' | 'both' | 'ipv6-only';

/**
 * A parsed .socket unit. The plain value settings (Backlog=, NoDelay=, IPTTL=, …) are the fields
 * of `SocketValueFields`, derived from the [Socket] table's rows (src/directives.ts: each row names
 * its field, type and default); the fields below are the settings with their own parsers.
 */
export interface SocketUnit extends SocketUnitCore, SocketValueFields {}

/** The fields of SocketUnit that rows with their own parser fill (declared by hand). */
export interface SocketUnitCore {
  kind: 'socket';
  /** Full unit name, e.g. `echo.socket`. */
  name: string;
  /** The main unit file, and the drop-ins applied after it in order. */
  file: string;
  dropIns: string[];
  unit: UnitSection;
  listen: ListenEntry[];
  /** SocketProtocol= (0 = none). */
  socketProtocol: number;
  socketUser?: string;
  socketGroup?: string;
  execStartPre: ExecCommand[];
  execStartPost: ExecCommand[];
  execStopPre: ExecCommand[];
  execStopPost: ExecCommand[];
  /** Service= as configured (Accept=no only). The effective service is `serviceName(socket)`. */
  service?: string;
  symlinks: string[];
  fileDescriptorName?: string;
  /** Resolved defaults: 2 s; burst 20 (Accept=no) / 200 (Accept=yes). 0 disables. */
  triggerLimitIntervalUsec: number;
  triggerLimitBurst: number;
  pollLimitIntervalUsec: number;
  pollLimitBurst: number;
  /** Other valid [Socket] assignments (exec/kill/cgroup options, Smack labels…), verbatim, in order per key. */
  extra: Record<string, string[]>;
  /** [Install] assignments, verbatim. */
  install: Record<string, string[]>;
}

export type ServiceType = 'simple' | 'exec' | 'forking' | 'oneshot' | 'dbus' | 'notify' | 'notify-reload' | 'idle';
export type RestartPolicy = 'no' | 'on-success' | 'on-failure' | 'on-abnormal' | 'on-watchdog' | 'on-abort' | 'always';
export type KillMode = 'control-group' | 'mixed' | 'process' | 'none';

/** An Environment= assignment list, in order (later wins), or an EnvironmentFile= entry. */
export interface EnvironmentFileRef {
  path: string;
  /** `-` prefix: a missing file is not an error. */
  optional: boolean;
}

/**
 * A parsed .service unit. The plain value settings (Restart=, KillSignal=, WatchdogSec=, …) are the
 * fields of `ServiceValueFields`, derived from the [Service] table's rows; the fields below are the
 * settings with their own parsers.
 */
export interface ServiceUnit extends ServiceUnitCore, ServiceValueFields {}

/** The fields of ServiceUnit that rows with their own parser fill (declared by hand). */
export interface ServiceUnitCore {
  kind: 'service';
  /** Full unit name; for an instance, e.g. `echo@0-127.0.0.1:80-127.0.0.1:5000.service`. */
  name: string;
  file: string;
  dropIns: string[];
  unit: UnitSection;
  type: ServiceType;
  execStartPre: ExecCommand[];
  execStart: ExecCommand[];
  execStartPost: ExecCommand[];
  execStop: ExecCommand[];
  execStopPost: ExecCommand[];
  /** Environment= after quote processing, in order. */
  environment: Array<[string, string]>;
  environmentFiles: EnvironmentFileRef[];
  /** WorkingDirectory=: absolute path, or `~` for the user's home; `optional` for the `-` prefix. */
  workingDirectory?: { path: string; optional: boolean };
  user?: string;
  group?: string;
  supplementaryGroups: string[];
  standardInput: string;
  standardOutput: string;
  standardError: string;
  killMode: KillMode;
  timeoutStartUsec: number;
  /** Sockets= (extra socket units whose fds are passed). */
  sockets: string[];
  execReload: ExecCommand[];
  execCondition: ExecCommand[];
  busName?: string;
  /** PIDFile= (Type=forking). */
  pidFile?: string;
  pamName?: string;
  /** Other valid [Service] assignments, verbatim, in order per key. */
  extra: Record<string, string[]>;
  /** [Install] assignments, verbatim. */
  install: Record<string, string[]>;
}

export type Unit = SocketUnit | ServiceUnit;
