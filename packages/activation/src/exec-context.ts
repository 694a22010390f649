/**
 * A service's exec context as systemd 257 applies it in exec_invoke(): IgnoreSIGPIPE= (default
 * yes), UMask= (default 0022), Limit*= (unset: the manager's defaults, i.e. RLIMIT_NOFILE soft 1024
 * and a raised hard limit, the rest inherited), Nice=, OOMScoreAdjust= (unset: inherited),
 * NoNewPrivileges= (default no), CapabilityBoundingSet= (unset or every capability: the bounding set
 * is left alone) and AmbientCapabilities= (capabilities.ts). The values are the ones @mptcp/unit kept (only valid assignments
 * are kept; an empty Nice=/OOMScoreAdjust= resets), the last assignment wins. The native launcher
 * applies them in the child (@mptcp/native spawnProcess); see packages/activation/README.md.
 */
import { readFileSync } from 'node:fs';
import type { RlimitResource, RlimitValue, SpawnProcessOptions } from '@mptcp/native';
import {
  type ServiceUnit,
  IOPRIO_DEFAULT,
  NSEC_INFINITY,
  expandSpecifiers,
  ioprioNormalize,
  machineHostFacts,
  parseBoolean,
  parseCoredumpFilter,
  parseCpuSet,
  parseIoprioClass,
  parseIoprioPriority,
  parseMode,
  parseNice,
  parseNsec,
  parseOomScoreAdjust,
  parsePersonality,
  parseRlimit,
  parseSchedPolicy,
  parseSchedPriority,
  schedPriorityRange,
} from '@mptcp/unit';
import { allCapabilities, ambientSet, boundingSet, capLastCap } from './capabilities.js';

/** What the launcher applies in the child (the exec-context half of SpawnProcessOptions). */
export type ExecContext = Required<Pick<SpawnProcessOptions, 'ignoreSigpipe' | 'umask' | 'rlimits'>> &
  Pick<
    SpawnProcessOptions,
    'nice' | 'oomScoreAdjust' | 'noNewPrivileges' | 'capabilityBoundingSet' | 'ambientCapabilities' | SchedulingKey
  > & {
    /** CPUAffinity=numa: the mask would come from NUMAMask=, which is not applied (sandbox.ts refuses it). */
    cpuAffinityFromNuma?: true;
  };

/**
 * The settings 257 applies in exec_invoke() right after OOMScoreAdjust= (CoredumpFilter=,
 * CPUScheduling*=, CPUAffinity=, IOScheduling*=, TimerSlackNSec=, Personality=), for every command
 * (`+` included); only the native launcher can (sandbox.ts refuses them with the node launcher).
 */
export type SchedulingKey =
  'coredumpFilter' | 'cpuScheduling' | 'cpuAffinity' | 'ioprio' | 'timerSlackNsec' | 'personality';
export const SCHEDULING_KEYS: readonly SchedulingKey[] = [
  'coredumpFilter',
  'cpuScheduling',
  'cpuAffinity',
  'ioprio',
  'timerSlackNsec',
  'personality',
];

/**
 * The exec context of a `+` command: systemd applies no sandboxing to it (the capability sets
 * neither), and sets Limit*= (with the manager's defaults) only when sandboxing applies
 * (exec_invoke(): `if (needs_sandboxing) setrlimit_closest_all(…)`): a `+` command keeps the
 * manager's own limits, here the daemon's (fixtures/v257/exec-context, plus.service). UMask=, Nice=,
 * OOMScoreAdjust= and the scheduling settings still apply.
 */
export function withoutSandbox(ctx: ExecContext): ExecContext {
  const { capabilityBoundingSet: _b, ambientCapabilities: _a, rlimits: _r, ...rest } = ctx;
  return { ...rest, rlimits: {} };
}

/** FD_SETSIZE: systemd passes at most this soft RLIMIT_NOFILE to services (select() chokes above). */
const FD_SETSIZE = 1024n;
/** systemd's HIGH_RLIMIT_NOFILE: the hard limit a system manager raises its services to. */
const HIGH_RLIMIT_NOFILE = 512n * 1024n;

const LIMIT_KEYS: ReadonlyArray<readonly [string, RlimitResource]> = [
  ['LimitCPU', 'cpu'],
  ['LimitFSIZE', 'fsize'],
  ['LimitDATA', 'data'],
  ['LimitSTACK', 'stack'],
  ['LimitCORE', 'core'],
  ['LimitRSS', 'rss'],
  ['LimitNOFILE', 'nofile'],
  ['LimitAS', 'as'],
  ['LimitNPROC', 'nproc'],
  ['LimitMEMLOCK', 'memlock'],
  ['LimitLOCKS', 'locks'],
  ['LimitSIGPENDING', 'sigpending'],
  ['LimitMSGQUEUE', 'msgqueue'],
  ['LimitNICE', 'nice'],
  ['LimitRTPRIO', 'rtprio'],
  ['LimitRTTIME', 'rttime'],
];

function readNumber(path: string): bigint | undefined {
  try {
    return BigInt(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The daemon's hard RLIMIT_NOFILE (Node raises the soft one to it at start-up; the hard one is as inherited). */
function ownNofileHard(): bigint | undefined {
  try {
    const m = /^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m?.[1]) return undefined;
    return m[1] === 'unlimited' ? 0xffffffffffffffffn : BigInt(m[1]);
  } catch {
    return undefined;
  }
}

let defaultNofile: RlimitValue | null | undefined;

/**
 * systemd's fallback_rlimit_nofile() (src/core/main.c) for the daemon's own limit: soft
 * MIN(soft, FD_SETSIZE) — Node has already raised our soft limit, so FD_SETSIZE stands for the
 * original — and, for a system manager (root), hard MIN(fs.nr_open, MAX(hard, 512 Ki)); otherwise
 * the daemon's hard limit. As in systemd, the child lowers a hard limit it may not raise to its
 * current one (setrlimit_closest(): e.g. without CAP_SYS_RESOURCE the hard limit stays the daemon's).
 */
export function defaultNofileLimit(): RlimitValue | undefined {
  if (defaultNofile !== undefined) return defaultNofile ?? undefined;
  const hard = ownNofileHard();
  if (hard === undefined) {
    defaultNofile = null;
    return undefined;
  }
  let max = hard;
  if (process.getuid?.() === 0) {
    const nrOpen = readNumber('/proc/sys/fs/nr_open');
    const raised = hard > HIGH_RLIMIT_NOFILE ? hard : HIGH_RLIMIT_NOFILE;
    max = nrOpen !== undefined && nrOpen < raised ? nrOpen : raised;
  }
  defaultNofile = { soft: max < FD_SETSIZE ? max : FD_SETSIZE, hard: max };
  return defaultNofile;
}

const contexts = new WeakMap<ServiceUnit, ExecContext>();

/** The last value of `key` that `parse` accepts (@mptcp/unit keeps valid ones only; this re-reads them). */
function last<T>(unit: ServiceUnit, key: string, parse: (v: string) => T | undefined): T | undefined {
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra; // absent in hand-made units
  const values = extra?.[key];
  if (!values) return undefined;
  let out: T | undefined;
  for (const v of values) {
    const r = parse(v);
    if (r !== undefined) out = r;
  }
  return out;
}

/** A setting an empty assignment resets (Nice=, OOMScoreAdjust=): undefined again after `KEY=`. */
function lastResettable(unit: ServiceUnit, key: string, parse: (v: string) => number | undefined): number | undefined {
  let out: number | undefined;
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra;
  for (const v of extra?.[key] ?? []) {
    if (v === '') out = undefined;
    else out = parse(v) ?? out;
  }
  return out;
}

/**
 * The host facts (%H, %m, %b, …) as of the unit's load: the parser reads them at each (re)load, so
 * they are kept per loaded unit object (a reload makes new ones), not for the daemon's lifetime.
 */
const hostFacts = new WeakMap<ServiceUnit, ReturnType<typeof machineHostFacts>>();

/**
 * unit_full_printf() of a value (as the parser checked it); undefined when it does not resolve. A
 * value that resolves to no CPU set was reported at the unit's load (FILE:LINE: `Failed to parse CPU
 * affinity '…'`, by the parser; an instance's by unit-definitions.ts) and is left out here, as 257 does.
 */
function withSpecifiers(unit: ServiceUnit, v: string): string | undefined {
  if (!v.includes('%')) return v;
  let facts = hostFacts.get(unit);
  if (facts === undefined) {
    facts = machineHostFacts();
    hostFacts.set(unit, facts);
  }
  const r = expandSpecifiers(v, { name: unit.name, ...(unit.file ? { file: unit.file } : {}), host: facts });
  return r.ok ? r.value : undefined;
}

/** The assignments of `key` in order (@mptcp/unit kept the valid ones, and the resets). */
function values(unit: ServiceUnit, key: string): readonly string[] {
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra;
  return extra?.[key] ?? [];
}

/**
 * The assignments of a key folded as load-fragment.c folds them into the ExecContext, for the
 * settings of SchedulingKey (their order across keys matters: a policy clamps the priority set
 * before it, a priority keeps the class set before it). The keys are interleaved by line order in
 * systemd; @mptcp/unit keeps each key's list, so the lists are folded key by key in the order a unit
 * usually has them (policy then priority, class then priority): a priority set before its policy in
 * the file is clamped the same way either way.
 */
function scheduling(unit: ServiceUnit): Partial<ExecContext> {
  const out: Partial<ExecContext> = {};
  // CoredumpFilter=: OR'ed; an empty assignment resets.
  let coredump: bigint | undefined;
  for (const v of values(unit, 'CoredumpFilter')) {
    if (v === '') coredump = undefined;
    else {
      const r = parseCoredumpFilter(v);
      if (r.ok) coredump = (coredump ?? 0n) | r.value;
    }
  }
  if (coredump !== undefined) out.coredumpFilter = coredump;
  // CPUSchedulingPolicy= (empty: unset, policy other, priority 0), CPUSchedulingPriority= (0…99).
  let sched: { policy: number; priority: number } | undefined;
  let priority = 0;
  let policy = 0;
  for (const v of values(unit, 'CPUSchedulingPolicy')) {
    if (v === '') {
      sched = undefined;
      policy = 0;
      priority = 0;
      continue;
    }
    const r = parseSchedPolicy(v);
    if (!r.ok) continue;
    policy = r.value;
    const [lo, hi] = schedPriorityRange(policy);
    priority = Math.min(Math.max(priority, lo), hi);
    sched = { policy, priority };
  }
  for (const v of values(unit, 'CPUSchedulingPriority')) {
    const r = parseSchedPriority(v);
    if (!r.ok) continue;
    priority = r.value;
    sched = { policy, priority };
  }
  if (sched !== undefined) {
    const reset = values(unit, 'CPUSchedulingResetOnFork').reduce<boolean>((acc, v) => {
      const r = parseBoolean(v);
      return r.ok ? r.value : acc;
    }, false);
    out.cpuScheduling = { ...sched, resetOnFork: reset };
  }
  // CPUAffinity=: each assignment adds its CPUs; an empty one resets; `numa` takes NUMAMask='s.
  let cpus: Set<number> | undefined;
  let numa = false;
  for (const v of values(unit, 'CPUAffinity')) {
    if (v === 'numa') {
      numa = true;
      cpus = undefined;
      continue;
    }
    // config_parse_exec_cpu_affinity() resolves specifiers first (257: `CPUAffinity=%i` of
    // aff@1.service is CPU 1; one that does not resolve was left out, with its warning, at load).
    const k = withSpecifiers(unit, v);
    if (k === undefined) continue;
    const r = parseCpuSet(k);
    if (!r.ok) continue;
    numa = false;
    if (r.empty) cpus = undefined;
    else {
      cpus ??= new Set();
      for (const c of r.cpus) cpus.add(c);
    }
  }
  if (numa) out.cpuAffinityFromNuma = true;
  // A set that names no CPU (only reversed ranges: `1-0`) is not applied: 257 passes its exec context
  // to the executor without it (recorded: the process keeps the manager's affinity).
  else if (cpus !== undefined && cpus.size > 0) out.cpuAffinity = [...cpus].sort((a, b) => a - b);
  // IOSchedulingClass=/IOSchedulingPriority=: one ioprio value; empty resets (best-effort 4, unset).
  let ioprio: number | undefined;
  let current = IOPRIO_DEFAULT;
  const fold = (key: string, apply: (v: string) => number | undefined): void => {
    for (const v of values(unit, key)) {
      if (v === '') {
        ioprio = undefined;
        current = IOPRIO_DEFAULT;
        continue;
      }
      const next = apply(v);
      if (next === undefined) continue;
      current = ioprioNormalize(next);
      ioprio = current;
    }
  };
  fold('IOSchedulingClass', (v) => {
    const r = parseIoprioClass(v);
    return r.ok ? (r.value << 13) | (current & 0x1fff) : undefined;
  });
  fold('IOSchedulingPriority', (v) => {
    const r = parseIoprioPriority(v);
    return r.ok ? (current & ~0x1fff) | r.value : undefined;
  });
  if (ioprio !== undefined) out.ioprio = ioprio;
  // TimerSlackNSec=: the last one (infinity: unset).
  let slack: bigint | undefined;
  for (const v of values(unit, 'TimerSlackNSec')) {
    const r = parseNsec(v);
    if (r.ok) slack = r.value === NSEC_INFINITY ? undefined : r.value;
  }
  if (slack !== undefined) out.timerSlackNsec = slack;
  // Personality=: the last one; empty resets.
  let personality: number | undefined;
  for (const v of values(unit, 'Personality')) {
    if (v === '') personality = undefined;
    else {
      const r = parsePersonality(v);
      if (r.ok) personality = r.value;
    }
  }
  if (personality !== undefined) out.personality = personality;
  return out;
}

/** The exec context of `unit`'s processes (main and control alike), computed once per loaded unit. */
export function execContextOf(unit: ServiceUnit): ExecContext {
  const cached = contexts.get(unit);
  if (cached) return cached;
  const rlimits: Partial<Record<RlimitResource, RlimitValue>> = {};
  const nofile = defaultNofileLimit();
  if (nofile) rlimits.nofile = nofile;
  for (const [key, resource] of LIMIT_KEYS) {
    const value = last(unit, key, (v) => {
      const r = parseRlimit(key, v);
      return r.ok ? r.value : undefined;
    });
    if (value) rlimits[resource] = { soft: value.soft, hard: value.hard };
  }
  const bool = (v: string): boolean | undefined => {
    const r = parseBoolean(v);
    return r.ok ? r.value : undefined;
  };
  const nice = lastResettable(unit, 'Nice', (v) => {
    const r = parseNice(v);
    return r.ok ? r.value : undefined;
  });
  const oom = lastResettable(unit, 'OOMScoreAdjust', (v) => {
    const r = parseOomScoreAdjust(v);
    return r.ok ? r.value : undefined;
  });
  // CapabilityBoundingSet=: only when it drops something the kernel has (systemd's cap_test_all()).
  const extra: Readonly<Record<string, string[]>> | undefined = unit.extra;
  const bsValues = extra?.['CapabilityBoundingSet'];
  const all = allCapabilities(capLastCap(() => readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')));
  const bounding = bsValues && bsValues.length > 0 ? boundingSet(bsValues) : undefined;
  const ambValues = extra?.['AmbientCapabilities'];
  const ctx: ExecContext = {
    ignoreSigpipe: last(unit, 'IgnoreSIGPIPE', bool) ?? true,
    umask:
      last(unit, 'UMask', (v) => {
        const r = parseMode(v);
        return r.ok ? r.value & 0o777 : undefined; // umask(2) takes the permission bits
      }) ?? 0o022,
    rlimits,
    noNewPrivileges: last(unit, 'NoNewPrivileges', bool) ?? false,
    ...(nice !== undefined ? { nice } : {}),
    ...(oom !== undefined ? { oomScoreAdjust: oom } : {}),
    ...(bounding !== undefined && (bounding & all) !== all ? { capabilityBoundingSet: bounding & all } : {}),
    ...(ambValues && ambValues.length > 0 ? { ambientCapabilities: ambientSet(ambValues) & all } : {}),
    ...scheduling(unit),
  };
  contexts.set(unit, ctx);
  return ctx;
}
