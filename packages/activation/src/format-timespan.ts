/** systemd's format_timespan(): how its log lines and systemctl print a duration (`500ms`, `1min 30s`). */

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['y', 31_557_600_000_000],
  ['month', 2_629_800_000_000],
  ['w', 604_800_000_000],
  ['d', 86_400_000_000],
  ['h', 3_600_000_000],
  ['min', 60_000_000],
  ['s', 1_000_000],
  ['ms', 1000],
  ['us', 1],
];

/**
 * `usec` as time-util.c format_timespan(buf, l, t, accuracy) writes it: the largest units first,
 * parts below `accuracy` dropped, and under a minute a remainder in dot notation (`1.500000s` with
 * accuracy 1, as FORMAT_TIMESPAN(t, 1) in `Watchdog timeout (limit …)!`).
 */
export function formatTimespan(usec: number, accuracy: number): string {
  if (!Number.isFinite(usec)) return 'infinity';
  let t = Math.round(usec);
  if (t <= 0) return '0';
  const parts: string[] = [];
  for (const [suffix, size] of UNITS) {
    if (t <= 0) break;
    if (t < accuracy && parts.length > 0) break;
    if (t < size) continue;
    const a = Math.floor(t / size);
    let b = t % size;
    if (t < 60_000_000 && b > 0) {
      let j = 0;
      for (let cc = size; cc > 1; cc = Math.floor(cc / 10)) j++;
      for (let cc = accuracy; cc > 1; cc = Math.floor(cc / 10)) {
        b = Math.floor(b / 10);
        j--;
      }
      if (j > 0) {
        parts.push(`${a}.${String(b).padStart(j, '0')}${suffix}`);
        t = 0;
        continue;
      }
    }
    parts.push(`${a}${suffix}`);
    t = b;
  }
  return parts.join(' ');
}
