/**
 * Fail closed on the sandbox and privilege directives mptcpd-lite does not apply. systemd applies
 * them in exec_invoke() and fails the process with its own exit status when a step cannot be done
 * (226/NAMESPACE, 228/SECCOMP, …); we fail the same way instead of starting the service with more
 * privilege than its unit asks for. A directive counts only when its effective value restricts
 * something: `PrivateTmp=no`, `ProtectSystem=no`, `SystemCallFilter=` (a reset) or
 * `CapabilityBoundingSet=~` (all capabilities) do not block a start.
 *
 * One row per directive: the key, how its assignments are read, the exit status of the exec_invoke()
 * step that would apply it. The rows are in exec_invoke()'s order, so that the first unenforced one
 * gives the status systemd would exit with first. What the launcher applies (exec-context.ts,
 * capabilities via @mptcp/native, PrivateTmp=yes and the mount namespace of namespace.ts) is
 * `enforced`; the operator's opt-out is
 * `--allow-unenforced-sandbox` (ServiceProcessOptions.allowUnenforcedSandbox).
 */
import { IMPLIED_BY, dynamicNumericIds, impliedKeys } from './dynamic-user.js';
import { readFileSync, statSync } from 'node:fs';
import { type ServiceUnit, parseBoolean } from '@mptcp/unit';
import { ActivationError } from './errors.js';
import type { ExitStatus, ServiceChild } from './exec.js';
import { allCapabilities, ambientSet, boundingSet, capLastCap } from './capabilities.js';
import {
  EXIT_ADDRESS_FAMILIES,
  EXIT_APPARMOR,
  EXIT_BPF,
  EXIT_CAPABILITIES,
  EXIT_CGROUP,
  EXIT_NAMESPACE,
  EXIT_NETWORK,
  EXIT_SECCOMP,
  EXIT_SECUREBITS,
  EXIT_SELINUX_CONTEXT,
  EXIT_SMACK_PROCESS_LABEL,
  EXIT_USER,
  EXIT_LIMITS,
  EXIT_IOPRIO,
  EXIT_TIMERSLACK,
  EXIT_SETSCHEDULER,
  EXIT_CPUAFFINITY,
  EXIT_PERSONALITY,
  exitStatusText,
} from './exit-status.js';
import { type SchedulingKey, execContextOf } from './exec-context.js';

/**
 * How a directive's assignments (in order, as @mptcp/unit kept them) restrict:
 * - `bool`: the last one is true (an empty one resets to no);
 * - `list`: a non-empty one after the last empty one (which resets the list);
 * - `value`: the last one is non-empty;
 * - `label`: the last one is non-empty without the `-` prefix (with it systemd goes on without the label);
 * - `{ off }`: the last one is neither empty, false nor one of `off` (enums like ProtectSystem=);
 * - `namespaces`, `bounding`, `ambient`: RestrictNamespaces=, CapabilityBoundingSet=, AmbientCapabilities=.
 */
type Reading =
  | 'bool'
  | 'list'
  | 'value'
  | 'label'
  | 'namespaces'
  | 'bounding'
  | 'ambient'
  | { off: readonly string[] }
  | { applied: SchedulingKey | 'cpuAffinityFromNuma' };

interface SandboxRow {
  key: string;
  read: Reading;
  /** systemd's exit status for the step that applies it (src/basic/exit-status.h). */
  status: number;
}

/** In exec_invoke()'s order of steps (the first unenforced one gives the exit status). */
export const SANDBOX_DIRECTIVES: readonly SandboxRow[] = [
  // User and cgroup set-up come first.
  { key: 'DynamicUser', read: 'bool', status: EXIT_USER },
  { key: 'DevicePolicy', read: { off: ['auto'] }, status: EXIT_CGROUP },
  { key: 'DeviceAllow', read: 'list', status: EXIT_CGROUP },
  { key: 'IPAddressDeny', read: 'list', status: EXIT_CGROUP },
  { key: 'IPIngressFilterPath', read: 'list', status: EXIT_CGROUP },
  { key: 'IPEgressFilterPath', read: 'list', status: EXIT_CGROUP },
  { key: 'BPFProgram', read: 'list', status: EXIT_CGROUP },
  { key: 'SocketBindDeny', read: 'list', status: EXIT_CGROUP },
  { key: 'RestrictNetworkInterfaces', read: 'list', status: EXIT_CGROUP },
  // Process attributes (exec-context.ts; the native launcher applies them, `numa` excepted).
  { key: 'CoredumpFilter', read: { applied: 'coredumpFilter' }, status: EXIT_LIMITS },
  { key: 'CPUSchedulingPolicy', read: { applied: 'cpuScheduling' }, status: EXIT_SETSCHEDULER },
  { key: 'CPUSchedulingPriority', read: { applied: 'cpuScheduling' }, status: EXIT_SETSCHEDULER },
  { key: 'CPUAffinity', read: { applied: 'cpuAffinityFromNuma' }, status: EXIT_CPUAFFINITY },
  { key: 'CPUAffinity', read: { applied: 'cpuAffinity' }, status: EXIT_CPUAFFINITY },
  { key: 'IOSchedulingClass', read: { applied: 'ioprio' }, status: EXIT_IOPRIO },
  { key: 'IOSchedulingPriority', read: { applied: 'ioprio' }, status: EXIT_IOPRIO },
  { key: 'TimerSlackNSec', read: { applied: 'timerSlackNsec' }, status: EXIT_TIMERSLACK },
  { key: 'Personality', read: { applied: 'personality' }, status: EXIT_PERSONALITY },
  // Credentials mptcpd-lite cannot decrypt or import (credentials.ts does SetCredential=/LoadCredential=): 243/CREDENTIALS.
  { key: 'SetCredentialEncrypted', read: 'list', status: 243 },
  { key: 'LoadCredentialEncrypted', read: 'list', status: 243 },
  { key: 'ImportCredential', read: 'list', status: 243 },
  // Namespaces: user, network, then the mount namespace and what lives in it.
  { key: 'PrivateUsers', read: { off: [] }, status: EXIT_USER },
  { key: 'PrivateNetwork', read: 'bool', status: EXIT_NETWORK },
  { key: 'NetworkNamespacePath', read: 'value', status: EXIT_NETWORK },
  { key: 'PrivateIPC', read: 'bool', status: EXIT_NAMESPACE },
  { key: 'IPCNamespacePath', read: 'value', status: EXIT_NAMESPACE },
  { key: 'PrivatePIDs', read: 'bool', status: EXIT_NAMESPACE },
  { key: 'ProtectHostname', read: { off: [] }, status: EXIT_NAMESPACE },
  { key: 'RootDirectory', read: 'value', status: EXIT_NAMESPACE },
  { key: 'RootImage', read: 'value', status: EXIT_NAMESPACE },
  { key: 'RootEphemeral', read: 'bool', status: EXIT_NAMESPACE },
  { key: 'MountImages', read: 'list', status: EXIT_NAMESPACE },
  { key: 'ExtensionImages', read: 'list', status: EXIT_NAMESPACE },
  { key: 'ExtensionDirectories', read: 'list', status: EXIT_NAMESPACE },
  { key: 'PrivateMounts', read: 'bool', status: EXIT_NAMESPACE },
  { key: 'PrivateTmp', read: { off: [] }, status: EXIT_NAMESPACE },
  { key: 'PrivateDevices', read: 'bool', status: EXIT_NAMESPACE },
  { key: 'ProtectSystem', read: { off: [] }, status: EXIT_NAMESPACE },
  { key: 'ProtectHome', read: { off: [] }, status: EXIT_NAMESPACE },
  { key: 'ProtectKernelTunables', read: 'bool', status: EXIT_NAMESPACE },
  { key: 'ProtectKernelModules', read: 'bool', status: EXIT_NAMESPACE },
  { key: 'ProtectKernelLogs', read: 'bool', status: EXIT_NAMESPACE },
  { key: 'ProtectControlGroups', read: { off: [] }, status: EXIT_NAMESPACE },
  { key: 'ProtectProc', read: { off: ['default'] }, status: EXIT_NAMESPACE },
  { key: 'ProcSubset', read: { off: ['all'] }, status: EXIT_NAMESPACE },
  { key: 'ReadOnlyPaths', read: 'list', status: EXIT_NAMESPACE },
  { key: 'ReadOnlyDirectories', read: 'list', status: EXIT_NAMESPACE },
  { key: 'InaccessiblePaths', read: 'list', status: EXIT_NAMESPACE },
  { key: 'InaccessibleDirectories', read: 'list', status: EXIT_NAMESPACE },
  { key: 'NoExecPaths', read: 'list', status: EXIT_NAMESPACE },
  { key: 'TemporaryFileSystem', read: 'list', status: EXIT_NAMESPACE },
  { key: 'BindPaths', read: 'list', status: EXIT_NAMESPACE },
  { key: 'BindReadOnlyPaths', read: 'list', status: EXIT_NAMESPACE },
  // Capabilities (before the user switch), secure bits and MAC labels (after it).
  { key: 'CapabilityBoundingSet', read: 'bounding', status: EXIT_CAPABILITIES },
  { key: 'AmbientCapabilities', read: 'ambient', status: EXIT_CAPABILITIES },
  { key: 'SecureBits', read: 'list', status: EXIT_SECUREBITS },
  { key: 'SmackProcessLabel', read: 'label', status: EXIT_SMACK_PROCESS_LABEL },
  { key: 'SELinuxContext', read: 'label', status: EXIT_SELINUX_CONTEXT },
  { key: 'AppArmorProfile', read: 'label', status: EXIT_APPARMOR },
  { key: 'RestrictFileSystems', read: 'list', status: EXIT_BPF },
  // seccomp filters, last before execve (address families have their own status).
  { key: 'RestrictAddressFamilies', read: 'list', status: EXIT_ADDRESS_FAMILIES },
  { key: 'MemoryDenyWriteExecute', read: 'bool', status: EXIT_SECCOMP },
  { key: 'RestrictRealtime', read: 'bool', status: EXIT_SECCOMP },
  { key: 'RestrictSUIDSGID', read: 'bool', status: EXIT_SECCOMP },
  { key: 'RestrictNamespaces', read: 'namespaces', status: EXIT_SECCOMP },
  { key: 'ProtectClock', read: 'bool', status: EXIT_SECCOMP },
  { key: 'SystemCallArchitectures', read: 'list', status: EXIT_SECCOMP },
  { key: 'LockPersonality', read: 'bool', status: EXIT_SECCOMP },
  { key: 'SystemCallFilter', read: 'list', status: EXIT_SECCOMP },
];

/** What the launcher in use applies itself: these directives are enforced, not refused. */
export interface Enforcement {
  /** CapabilityBoundingSet= and AmbientCapabilities= (the native launcher). */
  capabilities: boolean;
  /** PrivateTmp=yes (the native launcher: a mount namespace, private-tmp.ts); not `disconnected`. */
  privateTmp?: boolean;
  /**
   * ProtectSystem=, ProtectHome=, ReadOnlyPaths=, InaccessiblePaths= (and their old *Directories=
   * names): the native launcher's mount namespace (namespace.ts).
   */
  mounts?: boolean;
  /**
   * CoredumpFilter=, CPUScheduling*=, CPUAffinity= (not `numa`), IOScheduling*=, TimerSlackNSec=,
   * Personality= (the native launcher, exec-context.ts).
   */
  scheduling?: boolean;
}

/** The rows the native launcher's mount namespace applies (namespace.ts). */
const MOUNT_KEYS: ReadonlySet<string> = new Set([
  'ProtectSystem',
  'ProtectHome',
  'ReadOnlyPaths',
  'ReadOnlyDirectories',
  'InaccessiblePaths',
  'InaccessibleDirectories',
]);

/** What a launcher enforces: `native` for @mptcp/native's spawnProcess, else the node launcher. */
export function enforcementOf(native: boolean): Enforcement {
  return { capabilities: native && NATIVE_CAPABILITIES, privateTmp: native, mounts: native, scheduling: native };
}

/**
 * The native launcher applies CapabilityBoundingSet=/AmbientCapabilities= (an addon built before
 * that refuses them: @mptcp/native's spawnProcess fails with `capset` ENOSYS, 218/CAPABILITIES).
 */
const NATIVE_CAPABILITIES = true;

/** One directive of a unit that restricts and is not applied. */
export interface UnenforcedDirective {
  key: string;
  /** The assignment that makes it restrictive (the last one). */
  value: string;
  status: number;
  /** Set when the unit does not say it but another directive implies it (`DynamicUser=yes`). */
  impliedBy?: string;
  /** Where it is set (the last assignment in the unit file and its drop-ins; the implying one), when found. */
  file?: string;
  line?: number;
}

const isFalse = (v: string): boolean => {
  const r = parseBoolean(v);
  return r.ok && !r.value;
};
const isTrue = (v: string): boolean => {
  const r = parseBoolean(v);
  return r.ok && r.value;
};

let cachedLastCap: number | undefined;
function kernelCaps(): bigint {
  cachedLastCap ??= capLastCap(() => readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  return allCapabilities(cachedLastCap);
}

/** Whether the assignments `values` of a row restrict something; the deciding assignment if so. */
function restricting(read: Reading, values: readonly string[]): string | undefined {
  const last = values[values.length - 1] ?? '';
  if (typeof read === 'object') {
    if ('applied' in read) return undefined; // read from the exec context (unenforcedDirectives)
    return last === '' || isFalse(last) || read.off.includes(last) ? undefined : last;
  }
  switch (read) {
    case 'bool':
      return isTrue(last) ? last : undefined;
    case 'value':
      return last !== '' ? last : undefined;
    case 'label':
      return last !== '' && !last.startsWith('-') ? last : undefined;
    case 'list': {
      const reset = values.lastIndexOf('');
      return values.length - 1 > reset ? last : undefined;
    }
    case 'namespaces': {
      // `no`, `~` (nothing denied) and an empty assignment allow every namespace type.
      const open = last === '' || last === '~' || isFalse(last);
      return open ? undefined : last;
    }
    case 'bounding': {
      const all = kernelCaps();
      return (boundingSet(values) & all) === all ? undefined : last;
    }
    case 'ambient':
      return ambientSet(values) !== 0n ? last : undefined;
  }
}

/**
 * The directives of `unit` that restrict and are not enforced, in exec_invoke()'s order (the first
 * one's status is the exit status). Empty for a unit without any.
 */
export function unenforcedDirectives(unit: ServiceUnit, enforced: Enforcement): UnenforcedDirective[] {
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra; // absent in hand-made units
  if (!extra) return [];
  const out: UnenforcedDirective[] = [];
  const implied = impliedKeys(unit);
  for (const row of SANDBOX_DIRECTIVES) {
    const values = extra[row.key];
    if (!values || values.length === 0) continue;
    // DynamicUser=yes with a numeric User= runs as that uid (dynamic-user.ts); its implied sandbox
    // is checked by the rows below. With a user name (a uid to allocate): refused.
    if (row.key === 'DynamicUser' && dynamicNumericIds(unit) !== undefined) continue;
    if (enforced.capabilities && (row.read === 'bounding' || row.read === 'ambient')) continue;
    if (enforced.mounts === true && MOUNT_KEYS.has(row.key)) continue;
    if (typeof row.read === 'object' && 'applied' in row.read) {
      const field = row.read.applied;
      if (execContextOf(unit)[field] === undefined) continue;
      if (field !== 'cpuAffinityFromNuma' && enforced.scheduling === true) continue;
      out.push({ key: row.key, value: values[values.length - 1] ?? '', status: row.status, ...locate(unit, row.key) });
      continue;
    }
    const value = restricting(row.read, values);
    if (value === undefined) continue;
    if (row.key === 'PrivateTmp' && enforced.privateTmp === true && isTrue(value)) continue;
    if (implied.includes(row.key))
      out.push({ key: row.key, value, status: row.status, impliedBy: IMPLIED_BY, ...locate(unit, 'DynamicUser') });
    else out.push({ key: row.key, value, status: row.status, ...locate(unit, row.key) });
  }
  return out;
}

const locations = new Map<string, Map<string, { file: string; line: number }>>();

/**
 * Where `key` is last assigned in [Service] of the unit's file and drop-ins (physical line; the last
 * line of a continuation). The files were read once at load; this reads them again only for a unit
 * that is refused, and remembers the answer per set of files.
 */
function locate(unit: ServiceUnit, key: string): { file?: string; line?: number } {
  const files = [unit.file, ...(unit.dropIns ?? [])].filter((f) => typeof f === 'string' && f !== '');
  if (files.length === 0) return {};
  let id = '';
  for (const f of files) {
    try {
      id += `${f}\0${statSync(f).mtimeMs}\0`;
    } catch {
      id += `${f}\0-\0`;
    }
  }
  let found = locations.get(id);
  if (!found) {
    found = new Map();
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      let section = '';
      let pending: { key: string; start: number } | undefined;
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        const raw = lines[i] as string;
        const line = raw.trim();
        if (pending) {
          if (!line.endsWith('\\')) {
            found.set(pending.key, { file, line: i + 1 });
            pending = undefined;
          }
          continue;
        }
        if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
        if (line.startsWith('[')) {
          section = line;
          continue;
        }
        const eq = line.indexOf('=');
        if (section !== '[Service]' || eq < 0) continue;
        const k = line.slice(0, eq).trim();
        if (line.endsWith('\\')) pending = { key: k, start: i };
        else found.set(k, { file, line: i + 1 });
      }
    }
    locations.set(id, found);
  }
  const at = found.get(key);
  return at ? { file: at.file, line: at.line } : {};
}

/** `FILE:LINE: KEY=VALUE` (or `KEY=VALUE` when the place is unknown). */
export function describeDirective(d: UnenforcedDirective): string {
  const where = d.file !== undefined ? `${d.file}${d.line !== undefined ? `:${d.line}` : ''}: ` : '';
  return `${where}${d.key}=${d.value}${d.impliedBy !== undefined ? ` (implied by ${d.impliedBy})` : ''}`;
}

/** The log line for one unenforced directive (an error, or with the opt-out a warning). */
export function unenforcedMessage(d: UnenforcedDirective, allowed: boolean): string {
  return allowed
    ? `${describeDirective(d)} is not enforced by mptcpd-lite; running without it (--allow-unenforced-sandbox).`
    : `${describeDirective(d)} is not enforced by mptcpd-lite: refusing to start the process (status=${exitStatusText(d.status)}). Remove the directive, or run the daemon with --allow-unenforced-sandbox to accept weaker isolation.`;
}

/**
 * A process that failed the sandbox step: it never runs, and "exits" with the first unenforced
 * directive's status, as systemd's child would. `spawned` carries the error (with `exitStatus`).
 */
export function refusedChild(unitName: string, refused: readonly UnenforcedDirective[]): ServiceChild {
  const first = refused[0] as UnenforcedDirective;
  const error = new ActivationError(
    'SANDBOX_NOT_ENFORCED',
    `${refused.map((d) => `${d.key}=`).join(', ')} not enforced by mptcpd-lite (${describeDirective(first)})`,
    { unit: unitName, exitStatus: first.status },
  );
  const exit: ExitStatus = { code: first.status, signal: null, error };
  return {
    pid: undefined,
    method: 'native',
    spawned: Promise.resolve(error),
    exited: Promise.resolve(exit),
    kill: () => false,
  };
}

/** A unit's unenforced directives, and whether the opt-out's warning is still to be logged. */
export interface SandboxCheck {
  directives: readonly UnenforcedDirective[];
  /** True the first time it is asked per unit file set (Accept=yes instances share their template's). */
  warn(): boolean;
}

const checks = new WeakMap<
  ServiceUnit,
  { capabilities: boolean; privateTmp?: boolean; mounts?: boolean; scheduling?: boolean; check: SandboxCheck }
>();
const warnedFiles = new Set<string>();
const NONE: SandboxCheck = { directives: [], warn: () => false };

/** unenforcedDirectives(), computed once per loaded unit (the cache is per unit object). */
export function sandboxCheck(unit: ServiceUnit, enforced: Enforcement): SandboxCheck {
  const cached = checks.get(unit);
  if (
    cached &&
    cached.capabilities === enforced.capabilities &&
    cached.privateTmp === enforced.privateTmp &&
    cached.mounts === enforced.mounts &&
    cached.scheduling === enforced.scheduling
  )
    return cached.check;
  const directives = unenforcedDirectives(unit, enforced);
  const id = [unit.name.replace(/@.*\.service$/, '@.service'), unit.file, ...(unit.dropIns ?? [])].join('\0');
  const check: SandboxCheck =
    directives.length === 0
      ? NONE
      : {
          directives,
          warn: () => {
            if (warnedFiles.has(id)) return false;
            warnedFiles.add(id);
            return true;
          },
        };
  checks.set(unit, {
    capabilities: enforced.capabilities,
    privateTmp: enforced.privateTmp,
    mounts: enforced.mounts,
    scheduling: enforced.scheduling,
    check,
  });
  return check;
}
