import { fail, ok, type Parsed } from '../errno.js';

const TRUE = new Set(['1', 'yes', 'y', 'true', 't', 'on']);
const FALSE = new Set(['0', 'no', 'n', 'false', 'f', 'off']);

/** parse_boolean(): case-insensitive 1/yes/y/true/t/on and 0/no/n/false/f/off. */
export function parseBoolean(v: string): Parsed<boolean> {
  const l = v.toLowerCase();
  if (TRUE.has(l)) return ok(true);
  if (FALSE.has(l)) return ok(false);
  return fail('EINVAL');
}
