import { describe, expect, it } from 'vitest';
import { invocationId } from '../src/environment.js';
import { randomBelow, randomBytesOf, randomHex, randomId128 } from '../src/random-id.js';

describe('random identifiers from /dev/urandom', () => {
  it('INVOCATION_ID is a v4 UUID (RFC 4122 variant) as 32 lowercase hex digits, new per call', () => {
    const ids = Array.from({ length: 200 }, () => invocationId());
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('never hands out the same bytes twice, also across pool refills', () => {
    // 4,000 draws of 16 bytes go through the 512-byte pool 125 times.
    const seen = new Set(Array.from({ length: 4000 }, () => randomId128()));
    expect(seen.size).toBe(4000);
    expect(randomHex(4)).toMatch(/^[0-9a-f]{8}$/);
  });

  it('bytes look random: every value of a byte turns up over 64 KiB', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 128; i++) for (const b of randomBytesOf(512)) counts[b]!++;
    // 65,536 bytes, 256 expected per value; a stuck or zeroed source fails this.
    expect(Math.min(...counts)).toBeGreaterThan(150);
    expect(Math.max(...counts)).toBeLessThan(380);
  });

  it('refuses more than the pool holds', () => {
    expect(() => randomBytesOf(513)).toThrow(RangeError);
  });

  it('randomBelow(max) stays in [0, max) and reaches every value (RuntimeRandomizedExtraSec=)', () => {
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 7000; i++) {
      const x = randomBelow(7);
      expect(Number.isInteger(x) && x >= 0 && x < 7).toBe(true);
      counts[x]!++;
    }
    // 1,000 expected per value.
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
    expect(randomBelow(1)).toBe(0);
    const big = randomBelow(2 ** 47);
    expect(big >= 0 && big < 2 ** 47).toBe(true);
    for (const bad of [0, -1, 1.5, 2 ** 47 + 1, Number.NaN]) expect(() => randomBelow(bad)).toThrow(RangeError);
  });
});
