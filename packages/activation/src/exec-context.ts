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
import { type ServiceUnit, parseBoolean, parseMode, parseNice, parseOomScoreAdjust, parseRlimit } from '@mptcp/unit';
import { allCapabilities, ambientSet, boundingSet, capLastCap } from './capabilities.js';

/** What the launcher applies in the child (the exec-context half of SpawnProcessOptions). */
export type ExecContext = Required<Pick<SpawnProcessOptions, 'ignoreSigpipe' | 'umask' | 'rlimits'>> &
  Pick<
    SpawnProcessOptions,
    'nice' | 'oomScoreAdjust' | 'noNewPrivileges' | 'capabilityBoundingSet' | 'ambientCapabilities'
  >;

/** The exec context of a `+` command: systemd applies no sandboxing to it (the capability sets neither). */
export function withoutSandbox(ctx: ExecContext): ExecContext {
  if (ctx.capabilityBoundingSet === undefined && ctx.ambientCapabilities === undefined) return ctx;
  const { capabilityBoundingSet: _b, ambientCapabilities: _a, ...rest } = ctx;
  return rest;
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
  };
  contexts.set(unit, ctx);
  return ctx;
}
