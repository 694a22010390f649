import { fail, ok, type Parsed } from '../errno.js';

/** systemd's WHITESPACE set. */
const WS = ' \t\n\r';
/** isspace() as strtol() sees it. */
const C_SPACE = ' \t\n\r\f\v';

interface Strto {
  negative: boolean;
  magnitude: bigint;
  /** Index after the number; equals `start` when nothing was converted. */
  end: number;
  start: number;
}

/** strtoul()/strtol() scanning: leading isspace, optional sign, base 0/8/10/16 prefix rules. */
export function strto(s: string, base: 0 | 8 | 10 | 16): Strto {
  let i = 0;
  while (i < s.length && C_SPACE.includes(s[i] as string)) i++;
  const start = i;
  let negative = false;
  let b: number = base;
  const mangled = b === 0 && s[i] === '0' && /[bBoO]/.test(s[i + 1] ?? '');
  if (!mangled && (s[i] === '+' || s[i] === '-')) {
    negative = s[i] === '-';
    i++;
  }
  // mangle_base(): with base 0, systemd also takes Python-style "0b" (binary) and "0o" (octal),
  // before any sign (so "+0o17" is refused).
  if (b === 0 && i === start && s[i] === '0' && /[bBoO]/.test(s[i + 1] ?? '')) {
    b = s[i + 1] === 'b' || s[i + 1] === 'B' ? 2 : 8;
    i += 2;
    if (s[i] === '+' || s[i] === '-') {
      // strtoul() would take a sign here; systemd then refuses "-" with ERANGE like any other.
      negative = s[i] === '-';
      i++;
    }
  } else if (
    (b === 0 || b === 16) &&
    s[i] === '0' &&
    (s[i + 1] === 'x' || s[i + 1] === 'X') &&
    /[0-9a-fA-F]/.test(s[i + 2] ?? '')
  ) {
    i += 2;
    b = 16;
  } else if (b === 0) {
    b = s[i] === '0' ? 8 : 10;
  }
  const digitsStart = i;
  let m = 0n;
  const B = BigInt(b);
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : 99;
    if (d >= b) break;
    m = m * B + BigInt(d);
  }
  if (i === digitsStart) return { negative: false, magnitude: 0n, end: 0, start: 0 };
  return { negative, magnitude: m, end: i, start };
}

const U32 = 0xffffffffn;
const U64 = 0xffffffffffffffffn;

/**
 * safe_atou() and friends: strtoul with `base` (0 = C prefixes: 0x hex, 0 octal), leading blanks
 * allowed, nothing after the number, `-N` (N ≠ 0) is ERANGE, overflow of `max` is ERANGE.
 */
export function parseUnsignedBig(
  v: string,
  options: { base?: 0 | 8 | 10 | 16; max?: bigint; refuseLeadingWhitespace?: boolean; refusePlusMinus?: boolean } = {},
): Parsed<bigint> {
  const base = options.base ?? 0;
  let s = v;
  if (options.refuseLeadingWhitespace) {
    if (s.length > 0 && C_SPACE.includes(s[0] as string)) return fail('EINVAL');
  } else {
    let i = 0;
    while (i < s.length && WS.includes(s[i] as string)) i++;
    s = s.slice(i);
  }
  if (options.refusePlusMinus && (s[0] === '+' || s[0] === '-')) return fail('EINVAL');
  const r = strto(s, base);
  if (r.end === 0 || r.end !== s.length) return fail('EINVAL');
  // strtoul() itself overflows at 2^64 (ERANGE), then negates; a leading '-' is refused by systemd.
  if (r.magnitude > U64) return fail('ERANGE');
  if (r.magnitude !== 0n && r.negative) return fail('ERANGE');
  if (r.magnitude > (options.max ?? U32)) return fail('ERANGE');
  return ok(r.magnitude);
}

const PLAIN_DECIMAL = /^(?:0|[1-9][0-9]{0,8})$/;

/** safe_atou(): unsigned int, base 0. */
export function parseUnsigned(v: string): Parsed<number> {
  // Fast path: plain decimal without a leading zero, at most 9 digits (always < 2^32): what strtoul()
  // with base 0 reads as is. Everything else takes the general path.
  if (PLAIN_DECIMAL.test(v)) return ok(Number(v));
  const r = parseUnsignedBig(v);
  return r.ok ? ok(Number(r.value)) : r;
}

/** safe_atoi()/safe_atoli(): signed, base 0, range of `bits`. */
export function parseInteger(v: string, bits: 32 | 64 = 32): Parsed<number> {
  let i = 0;
  while (i < v.length && WS.includes(v[i] as string)) i++;
  const s = v.slice(i);
  const r = strto(s, 0);
  if (r.end === 0 || r.end !== s.length) return fail('EINVAL');
  const n = r.negative ? -r.magnitude : r.magnitude;
  const lim = bits === 32 ? 2n ** 31n : 2n ** 63n;
  if (n >= lim || n < -lim) return fail('ERANGE');
  return ok(Number(n));
}

/** parse_ip_port(): base 0, no leading blanks, 1–65535 (0 → EINVAL, too big → ERANGE). */
export function parseIpPort(v: string): Parsed<number> {
  const r = parseUnsignedBig(v, { refuseLeadingWhitespace: true, max: 0xffffn });
  if (!r.ok) return r;
  if (r.value === 0n) return fail('EINVAL');
  return ok(Number(r.value));
}

/** parse_mode(): octal only, no sign, ≤ 07777. */
export function parseMode(v: string): Parsed<number> {
  const r = parseUnsignedBig(v, { base: 8, refusePlusMinus: true });
  if (!r.ok) return r;
  if (r.value > 0o7777n) return fail('ERANGE');
  return ok(Number(r.value));
}
