import { fail, ok, type Parsed } from '../errno.js';

/** USEC_INFINITY: (usec_t) -1. */
export const USEC_INFINITY = 0xffffffffffffffffn;

const SEC = 1000000n;
const MIN = 60n * SEC;
const HOUR = 60n * MIN;
const DAY = 24n * HOUR;
const WEEK = 7n * DAY;
const MONTH = 2629800n * SEC;
const YEAR = 31557600n * SEC;

/** extract_multiplier()'s table, in systemd's order (first prefix match wins). */
const UNITS: ReadonlyArray<readonly [string, bigint]> = [
  ['seconds', SEC],
  ['second', SEC],
  ['sec', SEC],
  ['s', SEC],
  ['minutes', MIN],
  ['minute', MIN],
  ['min', MIN],
  ['months', MONTH],
  ['month', MONTH],
  ['M', MONTH],
  ['msec', 1000n],
  ['ms', 1000n],
  ['m', MIN],
  ['hours', HOUR],
  ['hour', HOUR],
  ['hr', HOUR],
  ['h', HOUR],
  ['days', DAY],
  ['day', DAY],
  ['d', DAY],
  ['weeks', WEEK],
  ['week', WEEK],
  ['w', WEEK],
  ['years', YEAR],
  ['year', YEAR],
  ['y', YEAR],
  ['usec', 1n],
  ['us', 1n],
  ['\u03bcs', 1n],
  ['\u00b5s', 1n],
];

const WS = ' \t\n\r';
const isWs = (c: string | undefined): boolean => c !== undefined && WS.includes(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

const PLAIN_INTEGER = /^[0-9]+$/;

export interface Timespan {
  /** Microseconds; USEC_INFINITY for `infinity`. */
  usec: bigint;
  infinity: boolean;
}

/** parse_time() with a default unit (parse_sec: seconds). */
export function parseTime(t: string, defaultUnit: bigint = SEC): Parsed<Timespan> {
  // Fast path, same result as the loop below: a plain decimal number in the default unit (`0`, `90`).
  if (t === '0') return ok({ usec: 0n, infinity: false });
  if (PLAIN_INTEGER.test(t)) {
    const l = BigInt(t);
    if (l > 0x7fffffffffffffffn || l >= USEC_INFINITY / defaultUnit) return fail('ERANGE');
    return ok({ usec: l * defaultUnit, infinity: false });
  }
  let p = 0;
  while (isWs(t[p])) p++;
  if (t.startsWith('infinity', p)) {
    for (let i = p + 8; i < t.length; i++) if (!isWs(t[i])) return fail('EINVAL');
    return ok({ usec: USEC_INFINITY, infinity: true });
  }
  let usec = 0n;
  let something = false;
  for (;;) {
    let multiplier = defaultUnit;
    while (isWs(t[p])) p++;
    if (p >= t.length) {
      if (!something) return fail('EINVAL');
      break;
    }
    if (t[p] === '-') return fail('ERANGE');
    // strtoll(p, &e, 10): optional blanks and sign, then decimal digits.
    let q = p;
    while (q < t.length && ' \t\n\r\f\v'.includes(t[q] as string)) q++;
    if (t[q] === '+' || t[q] === '-') q++;
    const ds = q;
    while (isDigit(t[q])) q++;
    let l = 0n;
    let e = p;
    if (q > ds) {
      if (t[ds - 1] === '-') return fail('ERANGE');
      l = BigInt(t.slice(ds, q));
      if (l > 0x7fffffffffffffffn) return fail('ERANGE');
      e = q;
    }
    const dot = t[e] === '.';
    if (dot) {
      p = e + 1;
      while (isDigit(t[p])) p++;
    } else if (e === p) {
      return fail('EINVAL');
    } else {
      p = e;
    }
    let s = p;
    while (isWs(t[s])) s++;
    let matched = false;
    for (let u = 0; u < UNITS.length; u++) {
      const suffix = (UNITS[u] as (typeof UNITS)[number])[0];
      if (t.startsWith(suffix, s)) {
        multiplier = (UNITS[u] as (typeof UNITS)[number])[1];
        s += suffix.length;
        matched = true;
        break;
      }
    }
    if (!matched && s === p && p < t.length) return fail('EINVAL');
    p = s;
    if (l >= USEC_INFINITY / multiplier) return fail('ERANGE');
    let k = l * multiplier;
    if (k >= USEC_INFINITY - usec) return fail('ERANGE');
    usec += k;
    something = true;
    if (dot) {
      let m = multiplier / 10n;
      let b = e + 1;
      for (; isDigit(t[b]); b++, m /= 10n) {
        k = BigInt(t.charCodeAt(b) - 48) * m;
        if (k >= USEC_INFINITY - usec) return fail('ERANGE');
        usec += k;
      }
      if (b === e + 1) return fail('EINVAL');
    }
  }
  return ok({ usec, infinity: false });
}

/** parse_sec(). */
export function parseSec(t: string): Parsed<Timespan> {
  return parseTime(t, SEC);
}

/** parse_sec_fix_0(): like parse_sec(), but 0 means infinity (Socket TimeoutSec=, service timeouts). */
export function parseSecFix0(t: string): Parsed<Timespan> {
  const r = parseSec(t);
  if (r.ok && r.value.usec === 0n) return ok({ usec: USEC_INFINITY, infinity: true });
  return r;
}

/** The model's representation: microseconds as a number, Infinity for infinity. */
export function usecToNumber(t: Timespan): number {
  return t.infinity || t.usec === USEC_INFINITY ? Infinity : Number(t.usec);
}

/** Formats microseconds the way unit files accept them back (used by the printers). */
export function formatTimespan(usec: number): string {
  if (usec === Infinity) return 'infinity';
  if (usec % 1_000_000 === 0) return `${usec / 1_000_000}s`;
  if (usec % 1000 === 0) return `${usec / 1000}ms`;
  return `${usec}us`;
}
