import { fail, ok, type Parsed } from '../errno.js';

const U64 = 0xffffffffffffffffn;
const IEC: ReadonlyArray<readonly [string, bigint]> = [
  ['E', 1024n ** 6n],
  ['P', 1024n ** 5n],
  ['T', 1024n ** 4n],
  ['G', 1024n ** 3n],
  ['M', 1024n ** 2n],
  ['K', 1024n],
  ['B', 1n],
  ['', 1n],
];
const WS = ' \t\n\r';

/**
 * parse_size() with base 1024: `NUMBER[.FRACTION][ ]SUFFIX` items, suffixes E P T G M K B or none,
 * each at most once and in decreasing order; case-sensitive; negative → ERANGE.
 */
export function parseSize(t: string): Parsed<bigint> {
  let r = 0n;
  let p = 0;
  let startPos = 0;
  do {
    while (p < t.length && WS.includes(t[p] as string)) p++;
    // strtoull(p, &e, 10)
    let q = p;
    while (q < t.length && ' \t\n\r\f\v'.includes(t[q] as string)) q++;
    const neg = t[q] === '-';
    if (t[q] === '+' || t[q] === '-') q++;
    const ds = q;
    while (q < t.length && t[q]! >= '0' && t[q]! <= '9') q++;
    if (q === ds) return fail('EINVAL');
    const l = BigInt(t.slice(ds, q));
    if (l > U64) return fail('ERANGE');
    if (neg || t[p] === '-') return fail('ERANGE');
    let e = q;
    let frac = 0;
    if (t[e] === '.') {
      e++;
      if (t[e]! >= '0' && t[e]! <= '9') {
        const fs = e;
        while (e < t.length && t[e]! >= '0' && t[e]! <= '9') e++;
        frac = Number(t.slice(fs, e));
        for (let i = fs; i < e; i++) frac /= 10;
      }
    }
    while (e < t.length && WS.includes(t[e] as string)) e++;
    let i = startPos;
    for (; i < IEC.length; i++) if (t.startsWith(IEC[i]![0], e)) break;
    if (i >= IEC.length) return fail('EINVAL');
    const [suffix, factor] = IEC[i]!;
    if (l + (frac > 0 ? 1n : 0n) > U64 / factor) return fail('ERANGE');
    const tmp = l * factor + BigInt(Math.trunc(frac * Number(factor)));
    if (tmp > U64 - r) return fail('ERANGE');
    r += tmp;
    p = e + suffix.length;
    startPos = i + 1;
  } while (p < t.length);
  return ok(r);
}
