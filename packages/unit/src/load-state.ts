/** The mutable state of one unit while its main file and drop-ins are applied (systemd's Unit struct). */
import { UNIT_TABLE } from './directives.js';
import type { Errno } from './errno.js';
import type { InterfaceResolver } from './interfaces.js';
import type { Diagnostic, ServiceUnit, SocketUnit, UnitSection, UnitSectionValueFields } from './model.js';
import { defaultsOf } from './registry.js';
import type { HostFacts, SpecifierContext } from './specifiers.js';

/** Options shared by every parse entry point. */
export interface ParseOptions {
  /** Host facts for specifiers (%H, %m, %b, %u…). Default: this machine. */
  host?: HostFacts;
  /** Interface resolver for `%ifname` scopes. Default: /sys/class/net. */
  interfaces?: InterfaceResolver;
  /** Port-only addresses bind `[::]` (true, default) or `0.0.0.0`. */
  ipv6?: boolean;
  /** systemd version whose SocketProtocol= rules apply (default 257: mptcp allowed). */
  systemdVersion?: number;
  /** Emit "X= is not supported by mptcpd-lite, ignoring" warnings (default true). */
  liteWarnings?: boolean;
  /**
   * Check Exec*= executables like `systemd-analyze verify` ("Command X is not executable: …"):
   * true (default) uses the file system; false skips; a function answers with an errno name or undefined.
   */
  executables?: boolean | ((path: string) => string | undefined);
  /**
   * Dependencies (After=, Wants=, …) are not resolved, as with `systemd-analyze verify
   * --recursive-errors=no`: their names are not checked (no "Failed to add dependency" warnings).
   */
  ignoreDependencies?: boolean;
}

/** The [Unit] table's defaults (its value rows'), computed once. */
const UNIT_SECTION_DEFAULTS = defaultsOf(UNIT_TABLE) as unknown as UnitSectionValueFields;

/** Every field of an empty [Unit] section, built once; emptyUnitSection() copies it in one step. */
const UNIT_SECTION_TEMPLATE: UnitSection = { ...UNIT_SECTION_DEFAULTS, documentation: [], extra: {} };

export function emptyUnitSection(): UnitSection {
  const s = { ...UNIT_SECTION_TEMPLATE };
  s.documentation = [];
  s.extra = {};
  return s;
}

/** Settings whose default depends on others, resolved when loading ends. */
export interface Pending {
  triggerLimitIntervalUsec?: number;
  triggerLimitBurst?: number;
  pollLimitIntervalUsec?: number;
  pollLimitBurst?: number;
  serviceType?: ServiceUnit['type'];
  timeoutStartUsec?: number;
  standardOutputSet: boolean;
}

export interface LoadState {
  unit: SocketUnit | ServiceUnit;
  diagnostics: Diagnostic[];
  /** The unit cannot be loaded (systemd: load state error / bad-setting). */
  fatal: boolean;
  /** The errno of a fatal error, for "failed to load properly …: <strerror>". */
  fatalErrno?: string;
  pending: Pending;
  options: ParseOptions;
  host: HostFacts;
}

/** What a directive parser gets for one assignment. */
export interface DirectiveContext {
  state: LoadState;
  file: string;
  line: number;
  section: string;
  key: string;
  spec: SpecifierContext;
  /** `FILE:LINE: message` warning. */
  warn(message: string): void;
  /** `FILE:LINE: message` error that makes the unit unloadable and stops parsing the file. */
  fatal(message: string): void;
  /** Stops parsing the file and fails the unit with `errno`, without a line of its own (a parser returning an error). */
  abort(errno: Errno): void;
}

/** One row of the directive table: parses the value and updates the unit. */
export type DirectiveParser = (value: string, c: DirectiveContext) => void;
