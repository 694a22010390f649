/**
 * The sd_notify(3) datagram: newline-separated `KEY=VALUE` assignments (service.c
 * service_notify_message()). Parsing is total: malformed lines are reported, never thrown.
 */

export interface NotifyMessage {
  /** Every assignment in order (later ones win in `get`). */
  fields: Map<string, string>;
  /** Lines that are not KEY=VALUE, for a debug message. */
  invalid: string[];
}

/** systemd accepts a datagram of at most this many bytes (NOTIFY_BUFFER_MAX = PIPE_BUF). */
export const NOTIFY_BUFFER_MAX = 4096;

export function parseNotifyMessage(data: Buffer | string): NotifyMessage {
  const text = typeof data === 'string' ? data : data.toString('utf8');
  const fields = new Map<string, string>();
  const invalid: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      invalid.push(line);
      continue;
    }
    fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return { fields, invalid };
}

/** A decimal µs value (EXTEND_TIMEOUT_USEC=, WATCHDOG_USEC=, MONOTONIC_USEC=), or undefined. */
export function parseUsec(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A PID (> 1), or undefined. */
export function parsePid(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n > 1 ? n : undefined;
}
