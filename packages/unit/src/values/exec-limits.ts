/**
 * The exec-context values systemd range-checks (Nice=, OOMScoreAdjust=, Limit*=) and the exit-status
 * lists (SuccessExitStatus=, RestartPreventExitStatus=, RestartForceExitStatus=: ./exit-status.ts). mptcpd-lite keeps
 * these settings verbatim; the checks only give systemd 257's warning for a value it ignores.
 */
import { fail, ok, type Parsed } from '../errno.js';
import { parseInteger, parseUnsignedBig } from './integer.js';
import { parseSize } from './size.js';
import { parseSec, parseTime, USEC_INFINITY } from './timespan.js';

const U64 = 0xffffffffffffffffn;
/** RLIM_INFINITY. */
const INF = U64;

/** parse_nice(): safe_atoi(), then -20..19 (else ERANGE). */
export function parseNice(v: string): Parsed<number> {
  const r = parseInteger(v);
  if (!r.ok) return r;
  return r.value >= -20 && r.value <= 19 ? r : fail('ERANGE');
}

/** parse_oom_score_adjust(): safe_atoi(), then -1000..1000 (else ERANGE). */
export function parseOomScoreAdjust(v: string): Parsed<number> {
  const r = parseInteger(v);
  if (!r.ok) return r;
  return r.value >= -1000 && r.value <= 1000 ? r : fail('ERANGE');
}

/** safe_atou64(), refusing RLIM_INFINITY itself (ERANGE). */
function u64(v: string): Parsed<bigint> {
  const r = parseUnsignedBig(v, { max: U64 });
  if (!r.ok) return r;
  return r.value >= INF ? fail('ERANGE') : r;
}

type OneLimit = (v: string) => Parsed<bigint>;

const limitU64: OneLimit = (v) => (v === 'infinity' ? ok(INF) : u64(v));
const limitSize: OneLimit = (v) => {
  if (v === 'infinity') return ok(INF);
  const r = parseSize(v);
  if (!r.ok) return r;
  return r.value >= INF ? fail('ERANGE') : r;
};
/** rlimit_parse_sec(): parse_sec(), rounded up to whole seconds. */
const limitSec: OneLimit = (v) => {
  const r = parseSec(v);
  if (!r.ok) return r;
  if (r.value.infinity || r.value.usec === USEC_INFINITY) return ok(INF);
  const s = (r.value.usec + 999_999n) / 1_000_000n;
  return s >= INF ? fail('ERANGE') : ok(s);
};
/** rlimit_parse_usec(): parse_time() with µs as the default unit. */
const limitUsec: OneLimit = (v) => {
  const r = parseTime(v, 1n);
  if (!r.ok) return r;
  return ok(r.value.infinity || r.value.usec === USEC_INFINITY ? INF : r.value.usec);
};
/** rlimit_parse_nice(): `+N` (0..19) and `-N` (0..20) are nice levels, a bare number the raw 0..40. */
const limitNice: OneLimit = (v) => {
  const sign = v[0] === '+' || v[0] === '-' ? v[0] : '';
  const r = parseUnsignedBig(sign ? v.slice(1) : v, { max: U64 });
  if (!r.ok) return r;
  if (sign === '+') return r.value >= 20n ? fail('ERANGE') : ok(20n - r.value);
  if (sign === '-') return r.value > 20n ? fail('ERANGE') : ok(20n + r.value);
  return r.value > 40n ? fail('ERANGE') : r;
};

const LIMIT_PARSERS: Readonly<Record<string, OneLimit>> = {
  LimitCPU: limitSec,
  LimitFSIZE: limitSize,
  LimitDATA: limitSize,
  LimitSTACK: limitSize,
  LimitCORE: limitSize,
  LimitRSS: limitSize,
  LimitNOFILE: limitU64,
  LimitAS: limitSize,
  LimitNPROC: limitU64,
  LimitMEMLOCK: limitSize,
  LimitLOCKS: limitU64,
  LimitSIGPENDING: limitU64,
  LimitMSGQUEUE: limitSize,
  LimitNICE: limitNice,
  LimitRTPRIO: limitU64,
  LimitRTTIME: limitUsec,
};

/**
 * rlimit_parse(): `SOFT[:HARD]` with the resource's value parser; a soft limit above the hard one
 * is EILSEQ ("Soft resource limit chosen higher than hard limit").
 */
export function parseRlimit(key: string, v: string): Parsed<{ soft: bigint; hard: bigint }> {
  const one = LIMIT_PARSERS[key] ?? limitU64;
  const parts = v.split(':');
  if (v === '' || parts.length > 2) return fail('EINVAL');
  const soft = one(parts[0] as string);
  if (!soft.ok) return soft;
  if (parts.length === 1 || parts[1] === '') return ok({ soft: soft.value, hard: soft.value });
  const hard = one(parts[1] as string);
  if (!hard.ok) return hard;
  return soft.value > hard.value ? fail('EILSEQ') : ok({ soft: soft.value, hard: hard.value });
}

export { badExitStatusWords } from './exit-status.js';
