/**
 * The exec-context values of systemd 257's scheduling and process-attribute directives, parsed as
 * load-fragment.c parses them: CPUSchedulingPolicy=, CPUSchedulingPriority=, IOSchedulingClass=,
 * IOSchedulingPriority=, CPUAffinity=, TimerSlackNSec=, CoredumpFilter=, Personality=. mptcpd-lite
 * keeps the assignments verbatim; the loader checks each with the parser here (a bad one gets 257's
 * warning and is dropped), and the launcher folds the kept ones into the values the child applies
 * (@mptcp/activation exec-context.ts).
 */
import { fail, ok, type Parsed } from '../errno.js';
import { extractFirstWord } from '../quoting.js';
import { parseInteger, parseUnsigned, parseUnsignedBig } from './integer.js';

/** sched_policy_table: SCHED_OTHER 0, FIFO 1, RR 2, BATCH 3, IDLE 5. */
export const SCHED_POLICIES: Readonly<Record<string, number>> = { other: 0, batch: 3, idle: 5, fifo: 1, rr: 2 };

/** sched_policy_from_string(): a name, or any number up to INT_MAX (the kernel judges it at start). */
export function parseSchedPolicy(v: string): Parsed<number> {
  const named = SCHED_POLICIES[v];
  if (named !== undefined) return ok(named);
  const r = parseUnsigned(v);
  if (!r.ok || r.value > 0x7fffffff) return fail('EINVAL');
  return r;
}

/** sched_get_priority_min()/max() of a policy (Linux: 1…99 for FIFO/RR, 0 for the others). */
export function schedPriorityRange(policy: number): [number, number] {
  return policy === 1 || policy === 2 ? [1, 99] : [0, 0];
}

/** config_parse_exec_cpu_sched_prio(): safe_atoi(), then 0…99 (ERANGE: "out of range"). */
export function parseSchedPriority(v: string): Parsed<number> {
  const r = parseInteger(v);
  if (!r.ok) return r;
  return r.value < 0 || r.value > 99 ? fail('ERANGE') : r;
}

/** ioprio_class_table: none 0, realtime 1, best-effort 2, idle 3; numbers up to IOPRIO_N_CLASSES (8). */
export const IOPRIO_CLASSES: Readonly<Record<string, number>> = { none: 0, realtime: 1, 'best-effort': 2, idle: 3 };

/** ioprio_class_from_string(). */
export function parseIoprioClass(v: string): Parsed<number> {
  const named = IOPRIO_CLASSES[v];
  if (named !== undefined) return ok(named);
  const r = parseUnsigned(v);
  return r.ok && r.value <= 8 ? r : fail('EINVAL');
}

/** ioprio_parse_priority(): safe_atoi(), 0…7. */
export function parseIoprioPriority(v: string): Parsed<number> {
  const r = parseInteger(v);
  if (!r.ok) return r;
  return r.value >= 0 && r.value < 8 ? r : fail('EINVAL');
}

/** IOPRIO_DEFAULT_CLASS_AND_PRIO: best-effort, 4. */
export const IOPRIO_DEFAULT = (2 << 13) | 4;

/** ioprio_normalize(): class none means the default (best-effort 4). */
export function ioprioNormalize(v: number): number {
  return v >> 13 === 0 ? IOPRIO_DEFAULT : v;
}

/** What parse_cpu_set_full() reports for one assignment. */
export type CpuSetParse =
  { ok: true; cpus: number[]; empty: boolean; warnings: string[] } | { ok: false; message: string; warnings: string[] };

/** Linux's CONFIG_NR_CPUS ceiling systemd's cpu_set_add() accepts (CPU_SETSIZE * 8 = 8192). */
const CPU_LIMIT = 8192;

/**
 * parse_cpu_set_full(): words separated by blanks or `,` (quotes removed), each `N` or `N-M`. A
 * reversed range warns and adds nothing; a bad word refuses the whole assignment. `empty`: the
 * assignment named nothing at all (an empty value resets the list).
 */
export function parseCpuSet(v: string, key = 'CPUAffinity'): CpuSetParse {
  const cpus: number[] = [];
  const warnings: string[] = [];
  let allocated = false;
  let p = 0;
  for (;;) {
    const r = extractFirstWord(v, p, { unquote: true }, ' \t\n\r,');
    if (!r.ok) return { ok: false, message: `Invalid value for ${key}: ${v}`, warnings };
    if (r.word === undefined) break;
    p = r.rest;
    const word = r.word;
    const dash = word.indexOf('-');
    const lo = parseUnsigned(dash < 0 ? word : word.slice(0, dash));
    const hi = dash < 0 ? lo : word.slice(dash + 1) === '' ? fail('EINVAL') : parseUnsigned(word.slice(dash + 1));
    if (dash === 0 || !lo.ok || !hi.ok)
      return { ok: false, message: `Failed to parse CPU affinity '${word}'`, warnings };
    allocated = true;
    if (lo.value > hi.value) {
      warnings.push(`Range '${word}' is invalid, ${lo.value} > ${hi.value}, ignoring.`);
      continue;
    }
    for (let cpu = lo.value; cpu <= hi.value; cpu++) {
      if (cpu >= CPU_LIMIT)
        return { ok: false, message: `Cannot add CPU ${cpu} to set: Numerical result out of range`, warnings };
      cpus.push(cpu);
    }
  }
  return { ok: true, cpus, empty: !allocated, warnings };
}

const NSEC_PER_USEC = 1_000n;
const NSEC_PER_MSEC = 1_000_000n;
const NSEC_PER_SEC = 1_000_000_000n;
const NSEC_PER_MINUTE = 60n * NSEC_PER_SEC;
const NSEC_PER_HOUR = 60n * NSEC_PER_MINUTE;
const NSEC_PER_DAY = 24n * NSEC_PER_HOUR;
const NSEC_PER_WEEK = 7n * NSEC_PER_DAY;
const NSEC_PER_MONTH = 2_629_800n * NSEC_PER_SEC;
const NSEC_PER_YEAR = 31_557_600n * NSEC_PER_SEC;
/** NSEC_INFINITY: "infinity", i.e. not set. */
export const NSEC_INFINITY = 0xffffffffffffffffn;

/** extract_nsec_multiplier()'s table, longest first where prefixes overlap (as systemd's order). */
const NSEC_UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['seconds', NSEC_PER_SEC],
  ['second', NSEC_PER_SEC],
  ['sec', NSEC_PER_SEC],
  ['s', NSEC_PER_SEC],
  ['minutes', NSEC_PER_MINUTE],
  ['minute', NSEC_PER_MINUTE],
  ['min', NSEC_PER_MINUTE],
  ['months', NSEC_PER_MONTH],
  ['month', NSEC_PER_MONTH],
  ['M', NSEC_PER_MONTH],
  ['msec', NSEC_PER_MSEC],
  ['ms', NSEC_PER_MSEC],
  ['m', NSEC_PER_MINUTE],
  ['hours', NSEC_PER_HOUR],
  ['hour', NSEC_PER_HOUR],
  ['hr', NSEC_PER_HOUR],
  ['h', NSEC_PER_HOUR],
  ['days', NSEC_PER_DAY],
  ['day', NSEC_PER_DAY],
  ['d', NSEC_PER_DAY],
  ['weeks', NSEC_PER_WEEK],
  ['week', NSEC_PER_WEEK],
  ['w', NSEC_PER_WEEK],
  ['years', NSEC_PER_YEAR],
  ['year', NSEC_PER_YEAR],
  ['y', NSEC_PER_YEAR],
  ['usec', NSEC_PER_USEC],
  ['us', NSEC_PER_USEC],
  ['μs', NSEC_PER_USEC],
  ['µs', NSEC_PER_USEC],
  ['nsec', 1n],
  ['ns', 1n],
];

const WS = ' \t\n\r';
const skipWs = (s: string, p: number): number => {
  while (p < s.length && WS.includes(s[p] as string)) p++;
  return p;
};

/** parse_nsec(): `infinity`, or a sum of numbers (decimals allowed) with units, nanoseconds by default. */
export function parseNsec(t: string): Parsed<bigint> {
  let p = skipWs(t, 0);
  if (t.startsWith('infinity', p)) return skipWs(t, p + 8) === t.length ? ok(NSEC_INFINITY) : fail('EINVAL');
  let nsec = 0n;
  let something = false;
  for (;;) {
    p = skipWs(t, p);
    if (p >= t.length) return something ? ok(nsec) : fail('EINVAL');
    if (t[p] === '-') return fail('ERANGE');
    const m = /^\+?[0-9]*/.exec(t.slice(p)) as RegExpExecArray;
    const digits = m[0].replace('+', '');
    const e = p + m[0].length;
    let frac = '';
    let q: number;
    if (t[e] === '.') {
      frac = /^[0-9]*/.exec(t.slice(e + 1))?.[0] ?? '';
      q = e + 1 + frac.length;
    } else if (digits === '') return fail('EINVAL');
    else q = e;
    if (digits === '' && t[e] !== '.') return fail('EINVAL');
    const l = BigInt(digits === '' ? '0' : digits);
    const u = skipWs(t, q);
    const unit = NSEC_UNITS.find(([suffix]) => t.startsWith(suffix, u));
    const multiplier = unit ? unit[1] : 1n;
    const s = unit ? u + unit[0].length : u;
    if (s === q && s < t.length && !WS.includes(t[s] as string)) return fail('EINVAL');
    p = s;
    if (l >= NSEC_INFINITY / multiplier) return fail('ERANGE');
    const k = l * multiplier;
    if (k >= NSEC_INFINITY - nsec) return fail('ERANGE');
    nsec += k;
    something = true;
    if (t[e] === '.') {
      if (frac === '') return fail('EINVAL');
      let mul = multiplier / 10n;
      for (const d of frac) {
        nsec += BigInt(d) * mul;
        mul /= 10n;
      }
    }
  }
}

/** coredump_filter_table: bit n = the n-th name. */
const COREDUMP_FILTERS = [
  'private-anonymous',
  'shared-anonymous',
  'private-file-backed',
  'shared-file-backed',
  'elf-headers',
  'private-huge',
  'shared-huge',
  'private-dax',
  'shared-dax',
];
/** COREDUMP_FILTER_MASK_DEFAULT (private/shared anonymous, ELF headers, private huge). */
export const COREDUMP_FILTER_DEFAULT = 0x33n;
/** COREDUMP_FILTER_MASK_ALL: UINT32_MAX (the kernel refuses UINT64_MAX). */
export const COREDUMP_FILTER_ALL = 0xffffffffn;

/** coredump_filter_mask_from_string(): words, each `default`, `all`, a name or a hexadecimal mask. */
export function parseCoredumpFilter(v: string): Parsed<bigint> {
  let mask = 0n;
  let p = 0;
  for (;;) {
    const r = extractFirstWord(v, p, {});
    if (!r.ok) return fail('EINVAL');
    if (r.word === undefined) return ok(mask);
    p = r.rest;
    const w = r.word;
    if (w === 'default') mask |= COREDUMP_FILTER_DEFAULT;
    else if (w === 'all') mask = COREDUMP_FILTER_ALL;
    else if (COREDUMP_FILTERS.includes(w)) mask |= 1n << BigInt(COREDUMP_FILTERS.indexOf(w));
    else {
      const x = parseUnsignedBig(w, { base: 16, max: 0xffffffffffffffffn });
      if (!x.ok) return x;
      mask |= x.value;
    }
  }
}

/** PER_LINUX and PER_LINUX32. */
export const PER_LINUX = 0;
export const PER_LINUX32 = 8;

/** systemd's native and secondary architecture names for Node's `process.arch`. */
const ARCHITECTURES: Readonly<Record<string, readonly [string, string | undefined]>> = {
  x64: ['x86-64', 'x86'],
  ia32: ['x86', undefined],
  arm64: ['arm64', 'arm'],
  arm: ['arm', undefined],
  ppc64: ['ppc64', 'ppc'],
  s390x: ['s390x', 's390'],
  riscv64: ['riscv64', undefined],
  loong64: ['loongarch64', undefined],
  mips64el: ['mips64-le', undefined],
};

/**
 * personality_from_string(): the native architecture is PER_LINUX, the secondary one (x86 on
 * x86-64, arm on arm64, …) PER_LINUX32; anything else is invalid.
 */
export function parsePersonality(v: string, arch: string = process.arch): Parsed<number> {
  const [native, secondary] = ARCHITECTURES[arch] ?? [undefined, undefined];
  if (v === native) return ok(PER_LINUX);
  if (secondary !== undefined && v === secondary) return ok(PER_LINUX32);
  return fail('EINVAL');
}

/** The strerror() texts these checks print. */
const EINVAL_TEXT = 'Invalid argument';
const ERANGE_TEXT = 'Numerical result out of range';
const text = (e: string): string => (e === 'ERANGE' ? ERANGE_TEXT : EINVAL_TEXT);

/**
 * The load-time check of one assignment of these keys, with systemd 257's warnings (recorded with
 * `oracle.sh verify`): `keep` false drops the assignment. An empty value resets (kept: the
 * launcher reads it as the reset). CPUSchedulingResetOnFork= is a plain boolean (not here).
 */
export function checkSchedulingValue(key: string, v: string): { keep: boolean; warnings: string[] } {
  const drop = (message: string): { keep: boolean; warnings: string[] } => ({ keep: false, warnings: [message] });
  const keep = { keep: true, warnings: [] };
  switch (key) {
    case 'CPUSchedulingPolicy':
      return v === '' || parseSchedPolicy(v).ok ? keep : drop(`Failed to parse CPU scheduling policy, ignoring: ${v}`);
    case 'CPUSchedulingPriority': {
      const r = parseSchedPriority(v);
      if (r.ok) return keep;
      return drop(
        r.error === 'ERANGE'
          ? `CPU scheduling priority is out of range, ignoring: ${v}`
          : `Failed to parse CPU scheduling priority, ignoring: ${v}`,
      );
    }
    case 'IOSchedulingClass':
      return v === '' || parseIoprioClass(v).ok ? keep : drop(`Failed to parse IO scheduling class, ignoring: ${v}`);
    case 'IOSchedulingPriority':
      return v === '' || parseIoprioPriority(v).ok ? keep : drop(`Failed to parse IO priority, ignoring: ${v}`);
    case 'CPUAffinity': {
      if (v === 'numa') return keep;
      const r = parseCpuSet(v, key);
      return r.ok ? { keep: true, warnings: r.warnings } : { keep: false, warnings: [...r.warnings, r.message] };
    }
    case 'TimerSlackNSec': {
      const r = parseNsec(v);
      return r.ok ? keep : drop(`Failed to parse ${key}=${v}, ignoring: ${text(r.error)}`);
    }
    case 'CoredumpFilter': {
      if (v === '') return keep;
      const r = parseCoredumpFilter(v);
      return r.ok ? keep : drop(`Failed to parse the CoredumpFilter=${v}, ignoring: ${text(r.error)}`);
    }
    case 'Personality':
      return v === '' || parsePersonality(v).ok ? keep : drop(`Failed to parse Personality=${v}, ignoring.`);
    default:
      return keep;
  }
}
