import { describe, expect, it } from 'vitest';
import { RateLimit } from '../src/rate-limit.js';

describe('RateLimit (systemd ratelimit_below)', () => {
  it('admits burst events per window, then refuses until the window has passed', () => {
    let now = 1_000_000;
    const rl = new RateLimit(2_000_000, 3, () => now);
    expect([rl.below(), rl.below(), rl.below(), rl.below()]).toEqual([true, true, true, false]);
    now += 1_999_999;
    expect(rl.below()).toBe(false);
    now += 2;
    expect(rl.below()).toBe(true);
  });

  it('interval 0 or burst 0 disables the limit', () => {
    const a = new RateLimit(0, 1);
    const b = new RateLimit(2_000_000, 0);
    for (let i = 0; i < 1000; i++) {
      expect(a.below()).toBe(true);
      expect(b.below()).toBe(true);
    }
  });
});
