/**
 * Times as systemctl status prints them: time-util.c format_timestamp_style(TIMESTAMP_PRETTY)
 * (`Wed 2026-12-02 17:32:19 UTC`, local time) and format_timestamp_relative() (`9ms ago`,
 * `1min 3s ago`, `2h 5min ago`, `3 days ago`).
 */

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const US_PER = { sec: 1e6, min: 60e6, hour: 3600e6, day: 86400e6, week: 604800e6, month: 2629800e6, year: 31557600e6 };

const two = (n: number): string => String(n).padStart(2, '0');

/**
 * `Wed 2026-12-02 17:32:19 UTC` in the local time zone. The zone is Intl's short name: `UTC`, or
 * `GMT+1` where strftime's %Z would print `CET` (Node has no tzname abbreviations).
 */
export function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  const zone =
    new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')
      ?.value ?? '';
  const date = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${WEEKDAYS[d.getDay()]} ${date} ${time}${zone ? ` ${zone}` : ''}`;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

/** How long ago (or ahead: `… left`) `ms` is from `nowMs`, in format_timestamp_relative()'s steps. */
export function formatRelative(ms: number, nowMs: number = Date.now()): string {
  const diff = Math.round((nowMs - ms) * 1000);
  const d = Math.abs(diff);
  const s = diff > 0 ? ' ago' : ' left';
  const f = Math.floor;
  if (d >= US_PER.year)
    return `${plural(f(d / US_PER.year), 'year', 'years')} ${plural(f((d % US_PER.year) / US_PER.month), 'month', 'months')}${s}`;
  if (d >= US_PER.month)
    return `${plural(f(d / US_PER.month), 'month', 'months')} ${plural(f((d % US_PER.month) / US_PER.day), 'day', 'days')}${s}`;
  if (d >= US_PER.week)
    return `${plural(f(d / US_PER.week), 'week', 'weeks')} ${plural(f((d % US_PER.week) / US_PER.day), 'day', 'days')}${s}`;
  if (d >= 2 * US_PER.day) return `${f(d / US_PER.day)} days${s}`;
  if (d >= 25 * US_PER.hour) return `1 day ${f((d - US_PER.day) / US_PER.hour)}h${s}`;
  if (d >= 6 * US_PER.hour) return `${f(d / US_PER.hour)}h${s}`;
  if (d >= US_PER.hour) return `${f(d / US_PER.hour)}h ${f((d % US_PER.hour) / US_PER.min)}min${s}`;
  if (d >= 5 * US_PER.min) return `${f(d / US_PER.min)}min${s}`;
  if (d >= US_PER.min) return `${f(d / US_PER.min)}min ${f((d % US_PER.min) / US_PER.sec)}s${s}`;
  if (d >= US_PER.sec) return `${f(d / US_PER.sec)}s${s}`;
  if (d >= 1000) return `${f(d / 1000)}ms${s}`;
  if (d > 0) return `${d}us${s}`;
  return 'now';
}

/** `TIMESTAMP; RELATIVE`, as after systemctl status's `since` and `at`. */
export function formatTimestampWithRelative(iso: string, nowMs: number = Date.now()): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${formatTimestamp(ms)}; ${formatRelative(ms, nowMs)}`;
}
