import { fail, ok, type Parsed } from '../errno.js';
import type { BindIPv6Only } from '../model.js';
import { parseBoolean } from './boolean.js';
import { parseUnsignedBig } from './integer.js';

/** ip_tos table (socket-util.c) with the numeric fallback 0..255. */
export const IP_TOS_NAMES: Readonly<Record<string, number>> = {
  'low-delay': 16,
  throughput: 8,
  reliability: 4,
  'low-cost': 2,
};

export function parseIpTos(v: string): Parsed<number> {
  if (Object.prototype.hasOwnProperty.call(IP_TOS_NAMES, v)) return ok(IP_TOS_NAMES[v] as number);
  const r = parseUnsignedBig(v, { max: 0xffn });
  return r.ok ? ok(Number(r.value)) : fail('EINVAL');
}

/** socket_address_bind_ipv6_only_or_bool_from_string(). */
export function parseBindIPv6Only(v: string): Parsed<BindIPv6Only> {
  if (v === 'default' || v === 'both' || v === 'ipv6-only') return ok(v);
  const b = parseBoolean(v);
  return b.ok ? ok(b.value ? 'ipv6-only' : 'both') : fail('EINVAL');
}

/** socket_timestamping_from_string_harder(). */
export function parseTimestamping(v: string): Parsed<'off' | 'us' | 'ns'> {
  if (v === 'off') return ok('off');
  if (v === 'us' || v === 'usec' || v === '\u00b5s' || v === '\u03bcs') return ok('us');
  if (v === 'ns' || v === 'nsec') return ok('ns');
  const b = parseBoolean(v);
  if (b.ok && !b.value) return ok('off');
  if (b.ok) return ok('us');
  return fail('EINVAL');
}
