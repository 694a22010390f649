/**
 * systemd's RateLimit (src/basic/ratelimit.c): a fixed window that opens at the first event and
 * admits `burst` events until `interval` has passed. Used for TriggerLimit*= (socket) and
 * StartLimit*= (service). Interval or burst 0 disables the limit, as in systemd.
 */
export class RateLimit {
  private begin = -1;
  private count = 0;

  /**
   * @param intervalUsec window length in microseconds (the unit model's unit)
   * @param burst events admitted per window
   * @param now monotonic clock in microseconds (injectable for tests)
   */
  constructor(
    readonly intervalUsec: number,
    readonly burst: number,
    private readonly now: () => number = monotonicUsec,
  ) {}

  get configured(): boolean {
    return this.intervalUsec > 0 && this.burst > 0;
  }

  /** Records one event; false when it is over the limit (ratelimit_below()). */
  below(): boolean {
    if (!this.configured) return true;
    const t = this.now();
    if (this.begin < 0 || t - this.begin > this.intervalUsec) {
      this.begin = t;
      this.count = 1;
      return true;
    }
    this.count += 1;
    return this.count <= this.burst;
  }

  /** The current window (for a hand-over to the Accept=yes fast path, accept-fast.ts). */
  window(): { begin: number; count: number } {
    return { begin: this.begin, count: this.count };
  }

  /** Events counted in the current window. */
  get used(): number {
    return this.count;
  }

  reset(): void {
    this.begin = -1;
    this.count = 0;
  }
}

export function monotonicUsec(): number {
  return Number(process.hrtime.bigint() / 1000n);
}
