/**
 * The start-up fast paths of the value parsers must answer exactly as the general code: a plain
 * integer time span (`TriggerLimitIntervalSec=0`) and an `a.b.c.d:port` address (`ListenStream=`).
 * Each case is checked against the general path, reached with input it treats the same way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSocketAddress } from '../src/address.js';
import type { Parsed } from '../src/errno.js';
import { parseIPv4 } from '../src/inet.js';
import { cunescapeOne, extractFirstWord, type ExtractFlags, type ExtractResult } from '../src/quoting.js';
import { staticInterfaceResolver } from '../src/interfaces.js';
import { parseUnsigned, parseUnsignedBig } from '../src/values/integer.js';
import type { ListenAddress } from '../src/model.js';
import { parseSec, parseSecFix0, parseTime, USEC_INFINITY } from '../src/values/timespan.js';

const UNITS = [1n, 1000n, 1_000_000n, 60_000_000n] as const;
const digitString = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 24 });

describe('time span: plain integer', () => {
  it('equals the general grammar (same digits with trailing blank)', () => {
    fc.assert(
      fc.property(digitString, fc.constantFrom(...UNITS), (d, unit) => {
        expect(parseTime(d, unit)).toEqual(parseTime(`${d} `, unit));
      }),
      { numRuns: 2000 },
    );
  });

  it('values and limits', () => {
    expect(parseSec('0')).toEqual({ ok: true, value: { usec: 0n, infinity: false } });
    expect(parseSec('007')).toEqual({ ok: true, value: { usec: 7_000_000n, infinity: false } });
    expect(parseSecFix0('0')).toEqual({ ok: true, value: { usec: USEC_INFINITY, infinity: true } });
    // strtoll(): above LLONG_MAX is out of range whatever the unit.
    expect(parseTime('9223372036854775807', 1n)).toEqual({
      ok: true,
      value: { usec: 9223372036854775807n, infinity: false },
    });
    expect(parseTime('9223372036854775808', 1n)).toEqual({ ok: false, error: 'ERANGE' });
    // parse_time(): l >= USEC_INFINITY / multiplier is out of range.
    expect(parseSec('18446744073708')).toEqual({ ok: true, value: { usec: 18446744073708000000n, infinity: false } });
    expect(parseSec('18446744073709')).toEqual({ ok: false, error: 'ERANGE' });
    expect(parseSec('9223372036854775808')).toEqual({ ok: false, error: 'ERANGE' });
  });
});

describe('address: a.b.c.d:port', () => {
  const lo = staticInterfaceResolver({ lo: 1 });
  /** The general path (with a `%lo` scope, which only adds ifname). */
  const general = (s: string): Parsed<ListenAddress> => {
    const r = parseSocketAddress(`${s}%lo`, { interfaces: lo });
    if (!r.ok || r.value.family !== 'inet') return r;
    const { ifname: _scope, ...plain } = r.value;
    return { ok: true, value: plain };
  };
  const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('', '00', '01', '999', '1000'));
  const port = fc.oneof(fc.integer({ min: 0, max: 70000 }).map(String), digitString);

  it('equals the general path', () => {
    fc.assert(
      fc.property(fc.array(octet, { minLength: 1, maxLength: 6 }), port, (o, p) => {
        const s = `${o.join('.')}:${p}`;
        expect(parseSocketAddress(s, { interfaces: lo })).toEqual(general(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('results', () => {
    const cases: Record<string, Parsed<ListenAddress>> = {
      '127.0.0.2:20000': { ok: true, value: { family: 'inet', address: '127.0.0.2', port: 20000 } },
      '255.255.255.255:65535': { ok: true, value: { family: 'inet', address: '255.255.255.255', port: 65535 } },
      '1.2.3.4:0': { ok: false, error: 'EINVAL' },
      '1.2.3.4:65536': { ok: false, error: 'ERANGE' },
      '1.2.3.4:080': { ok: false, error: 'EINVAL' },
      '01.2.3.4:80': { ok: false, error: 'EINVAL' },
      '1.2.3.256:80': { ok: false, error: 'EINVAL' },
      '1.2.3:80': { ok: false, error: 'EINVAL' },
      '1..2.3:4': { ok: false, error: 'EINVAL' },
      '99999999999999999999999.1:80': { ok: false, error: 'EINVAL' },
      '1.2.3.4:99999999999999999999999': { ok: false, error: 'ERANGE' },
    };
    for (const [s, want] of Object.entries(cases)) expect(parseSocketAddress(s), s).toEqual(want);
  });
});

describe('inet_pton(AF_INET): one-pass parseIPv4', () => {
  /** The previous split + regular expression version, as the reference. */
  const reference = (s: string): number[] | undefined => {
    const parts = s.split('.');
    if (parts.length !== 4) return undefined;
    const out: number[] = [];
    for (const p of parts) {
      if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return undefined;
      const n = Number(p);
      if (n > 255) return undefined;
      out.push(n);
    }
    return out;
  };
  const part = fc.oneof(
    fc.integer({ min: 0, max: 300 }).map(String),
    fc.constantFrom('', '0', '00', '01', '007', '255', '256', '999', '1000', 'a', ' 1', '1 ', '+1', '-1', '1e2', '٣'),
  );

  it('equals the reference', () => {
    fc.assert(
      fc.property(fc.array(part, { minLength: 0, maxLength: 6 }), (p) => {
        const s = p.join('.');
        expect(parseIPv4(s), s).toEqual(reference(s));
      }),
      { numRuns: 5000 },
    );
    for (const s of ['', '.', '1.2.3.4.', '.1.2.3.4', '1.2.3.4', '0.0.0.0', '255.255.255.255'])
      expect(parseIPv4(s), s).toEqual(reference(s));
  });
});

describe('safe_atou(): plain decimal fast path of parseUnsigned', () => {
  const general = (v: string): Parsed<number> => {
    const r = parseUnsignedBig(v);
    return r.ok ? { ok: true, value: Number(r.value) } : r;
  };

  it('equals the general strtoul() path', () => {
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 0, maxLength: 12 });
    const affix = fc.constantFrom('', ' ', '0', '0x', '-', '+', 'x', '\t');
    fc.assert(
      fc.property(affix, digits, affix, (a, d, b) => {
        const v = `${a}${d}${b}`;
        expect(parseUnsigned(v), JSON.stringify(v)).toEqual(general(v));
      }),
      { numRuns: 5000 },
    );
    for (const v of ['0', '1024', '999999999', '4294967295', '4294967296', '010', '0x10'])
      expect(parseUnsigned(v), v).toEqual(general(v));
  });
});

describe('extract_first_word(): the plain run taken in one slice', () => {
  const WS = ' \t\n\r';
  /** The character-at-a-time version the fast run replaced, as the reference. */
  const reference = (s: string, start: number, flags: ExtractFlags, separators = WS): ExtractResult => {
    let p = start;
    while (p < s.length && separators.includes(s[p] as string)) p++;
    if (p >= s.length) return { ok: true, word: undefined, rest: s.length };
    let word = '';
    let quote: string | undefined;
    for (;;) {
      if (p >= s.length) {
        if (quote !== undefined && !flags.relax) return { ok: false, error: 'EINVAL' };
        return { ok: true, word, rest: s.length };
      }
      const c = s[p] as string;
      if (c === '\\' && !flags.retainEscape) {
        p++;
        if (p >= s.length) {
          if (flags.unescapeRelax && (quote === undefined || flags.relax))
            return { ok: true, word: word + '\\', rest: s.length };
          if (flags.relax) return { ok: true, word, rest: s.length };
          return { ok: false, error: 'EINVAL' };
        }
        if (flags.cunescape) {
          const r = cunescapeOne(s, p);
          if (r) {
            word += r[1];
            p += r[0];
          } else if (flags.unescapeRelax) {
            word += '\\' + (s[p] as string);
            p++;
          } else return { ok: false, error: 'EINVAL' };
        } else {
          word += s[p] as string;
          p++;
        }
        continue;
      }
      if (quote !== undefined) {
        if (c === quote) {
          quote = undefined;
          if (!flags.unquote) word += c;
        } else word += c;
        p++;
        continue;
      }
      if ((c === "'" || c === '"') && flags.unquote) {
        quote = c;
        p++;
        continue;
      }
      if (separators.includes(c)) {
        while (p < s.length && separators.includes(s[p] as string)) p++;
        return { ok: true, word, rest: p };
      }
      word += c;
      p++;
    }
  };
  const text = fc.string({ unit: fc.constantFrom(...'ab=:;$ \t\n\\"\'x0n7'.split(''), '\\x41', '\\n'), maxLength: 24 });
  const flags = fc.record(
    {
      unquote: fc.boolean(),
      cunescape: fc.boolean(),
      unescapeRelax: fc.boolean(),
      relax: fc.boolean(),
      retainEscape: fc.boolean(),
    },
    { requiredKeys: [] },
  );

  it('equals the character-at-a-time reference, with the default and other separators', () => {
    fc.assert(
      fc.property(text, fc.nat(24), flags, fc.constantFrom(undefined, ':', ' ;', WS), (s, at, f, sep) => {
        const start = Math.min(at, s.length);
        expect(extractFirstWord(s, start, f, sep), JSON.stringify([s, start, f, sep])).toEqual(
          reference(s, start, f, sep),
        );
      }),
      { numRuns: 10000 },
    );
  });
});
