/**
 * Random identifiers (INVOCATION_ID, the notify socket's name) from /dev/urandom, read 512 bytes at a
 * time, as node:crypto's randomUUID() batches its entropy. Not node:crypto itself: loading it costs
 * every daemon start 26 builtin modules (~5 ms of CPU, ~0.9 MB of RSS) for 20 random bytes.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const POOL_BYTES = 512;
const pool = Buffer.alloc(POOL_BYTES);
let used = POOL_BYTES;

/** `n` (≤ 512) random bytes, a copy. */
export function randomBytesOf(n: number): Buffer {
  if (n > POOL_BYTES) throw new RangeError(`randomBytesOf(${n}): at most ${POOL_BYTES} bytes`);
  if (used + n > POOL_BYTES) {
    const fd = openSync('/dev/urandom', 'r');
    try {
      let got = 0;
      while (got < POOL_BYTES) got += readSync(fd, pool, got, POOL_BYTES - got, null);
    } finally {
      closeSync(fd);
    }
    used = 0;
  }
  const out = Buffer.from(pool.subarray(used, used + n));
  // Handed out once: a later caller never sees the same bytes.
  pool.fill(0, used, used + n);
  used += n;
  return out;
}

/** `n` random bytes as 2n lowercase hex digits. */
export function randomHex(n: number): string {
  return randomBytesOf(n).toString('hex');
}

/**
 * A random v4 UUID as 32 hex digits without dashes, as systemd's sd_id128_randomize() makes an
 * invocation ID (version 4, RFC 4122 variant).
 */
export function randomId128(): string {
  const b = randomBytesOf(16);
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  return b.toString('hex');
}

/** A uniform random integer in [0, max) for 0 < max ≤ 2^47 (node:crypto's randomInt() without node:crypto). */
export function randomBelow(max: number): number {
  if (!Number.isSafeInteger(max) || max <= 0 || max > 2 ** 47) throw new RangeError(`randomBelow(${max})`);
  // 48 random bits; values at or above the largest multiple of max are drawn again (no modulo bias).
  const limit = Math.floor(2 ** 48 / max) * max;
  for (;;) {
    const x = randomBytesOf(6).readUIntBE(0, 6);
    if (x < limit) return x % max;
  }
}
