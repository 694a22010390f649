import { fstatSync, writeSync } from 'node:fs';
import { setNonBlocking } from '@mptcp/native';

/**
 * The daemon's logger: one line per message on stderr. Under journald (JOURNAL_STREAM set, as systemd
 * does for StandardError=journal) each line starts with the sd-daemon.h `<N>` priority prefix so the
 * journal keeps the level; otherwise a readable level word is printed.
 */

/** sd-daemon.h priorities (syslog levels). */
export const LOG_LEVELS = {
  emerg: 0,
  alert: 1,
  crit: 2,
  err: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
} as const;

export type LogLevel = keyof typeof LOG_LEVELS;

export interface LoggerOptions {
  /** Highest priority number printed (default: info). */
  maxLevel?: LogLevel;
  /** Force the journald prefix format on/off (default: JOURNAL_STREAM is set). */
  journal?: boolean;
  /** Where to write (default: process.stderr). */
  write?: (line: string) => void;
}

export interface Logger {
  log(level: LogLevel, message: string): void;
  error(message: string): void;
  warning(message: string): void;
  notice(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  /**
   * A line a service wrote (StandardOutput=journal), as one record `unit[pid]: text` at info
   * priority: the text is data, written as it is after the prefix — never split into records of
   * its own or read for a priority, so a service cannot forge one of the daemon's lines.
   */
  serviceOutput(unit: string, pid: number | undefined, text: string): void;
  /** Writes out what is buffered (before a line on another stream that must come after it). */
  flush(): void;
}

/** How a service's output line reads in the daemon's log and in `status UNIT`: `unit[pid]: text`. */
export function formatServiceLine(unit: string, pid: number | undefined, text: string): string {
  return `${unit}[${pid ?? '?'}]: ${text}`;
}

export function isLogLevel(value: string): value is LogLevel {
  return Object.prototype.hasOwnProperty.call(LOG_LEVELS, value);
}

/**
 * True when stderr is the journal stream systemd set up: JOURNAL_STREAM is `DEV:INODE` of that
 * stream, and (as sd-daemon(3) recommends) it must still match fd 2 — a redirected stderr gets
 * plain lines.
 */
export function stderrIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(2, { bigint: true });
    return st.dev === BigInt(m[1] as string) && st.ino === BigInt(m[2] as string);
  } catch {
    return false;
  }
}

/**
 * stderr writes are synchronous for pipes and files; a burst (1,000 "Listening on …" lines at start)
 * is collected and written once per event-loop turn, and flushed on exit so nothing is lost.
 */
/**
 * The daemon's event lines (ready, reloaded, stopped…) on stdout, written in order with write(2).
 * Not process.stdout: on a pipe or a socket (a test reading the ready line, journald) that is a
 * net.Socket, and node:net with its stream modules costs the idle daemon ~1.5 MB for a few lines.
 * Like libuv, a pipe or socket is made non-blocking: a reader that stops reading never holds the
 * daemon. When it is full (EAGAIN) the rest of the line and every later one go through process.stdout,
 * which queues them. A file or terminal is written as it is. A closed stdout drops the lines (EPIPE).
 */
export function stdoutWriter(fd = 1): (text: string) => void {
  let checked = false;
  let queued = false;
  return (text) => {
    if (queued) {
      process.stdout.write(text);
      return;
    }
    if (!checked) {
      checked = true;
      try {
        const st = fstatSync(fd);
        if (st.isFIFO() || st.isSocket()) setNonBlocking(fd, true);
      } catch {
        // not a descriptor we can inspect: write as it is
      }
    }
    const bytes = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < bytes.length) {
      try {
        off += writeSync(fd, bytes, off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          queued = true;
          // A reader that goes away later (EPIPE) must not end the daemon: the lines are dropped.
          process.stdout.on('error', () => undefined);
          process.stdout.write(bytes.subarray(off));
        }
        return;
      }
    }
  };
}

function batchedStderr(): { write: (text: string) => void; flush: () => void } {
  let pending: string[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    try {
      writeSync(2, text);
    } catch {
      // stderr closed: nowhere to log to
    }
  };
  process.on('exit', flush);
  return {
    flush,
    write: (text) => {
      pending.push(text);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const max = LOG_LEVELS[options.maxLevel ?? 'info'];
  const journal = options.journal ?? stderrIsJournal();
  const sink = options.write ? { write: options.write, flush: () => {} } : batchedStderr();
  const write = sink.write;
  const prefixed = (level: LogLevel, line: string): string =>
    journal ? `<${LOG_LEVELS[level]}>${line}` : `${level.toUpperCase().padEnd(7)} ${line}`;
  const log = (level: LogLevel, message: string): void => {
    if (LOG_LEVELS[level] > max) return;
    // One record per line: a multi-line message gets the prefix on every line.
    write(
      message
        .split('\n')
        .map((l) => prefixed(level, l))
        .join('\n') + '\n',
    );
  };
  const serviceOutput = (unit: string, pid: number | undefined, text: string): void => {
    if (LOG_LEVELS.info > max) return;
    // The capture splits at newlines; any other line break in the text stays inside this record.
    write(prefixed('info', formatServiceLine(unit, pid, text.replace(/\r?\n/g, '\\n'))) + '\n');
  };
  return {
    log,
    error: (m) => log('err', m),
    warning: (m) => log('warning', m),
    notice: (m) => log('notice', m),
    info: (m) => log('info', m),
    debug: (m) => log('debug', m),
    serviceOutput,
    flush: sink.flush,
  };
}
