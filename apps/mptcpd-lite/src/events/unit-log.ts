/**
 * What the daemon writes about its units, on two paths that never mix:
 * - the daemon's own records — the engine's messages and the daemon's events about a unit
 *   (`started, pid N`, `Main process exited, …`, `Stopping (control request).`): `unit: message`;
 * - a service's output (a line it wrote on stdout/stderr, StandardOutput=journal): `unit[pid]: text`,
 *   taken as data — never worded, prefixed or leveled as one of the daemon's records.
 * Both reach the daemon's log (stderr) and the unit's ring of lines that `status UNIT` shows.
 */
import type { LogFields, ServiceOutputLine } from '@mptcp/activation';
import type { UnitJournal } from '../daemon/unit-journal.js';
import { formatServiceLine, type Logger } from '../log.js';

export type EngineLevel = 'debug' | 'info' | 'warn' | 'error';

export interface UnitLog {
  /** A message of the engine (its Logger), about a unit when `fields.unit` is set. */
  engine(level: EngineLevel, message: string, fields?: LogFields): void;
  /** A daemon event about `unit`. */
  event(unit: string, message: string): void;
  /** A line a service wrote. */
  output(line: ServiceOutputLine): void;
}

const LEVELS = { debug: 'debug', info: 'info', warn: 'warning', error: 'err' } as const;

export function createUnitLog(log: Logger, journal: UnitJournal): UnitLog {
  return {
    engine(level, message, fields) {
      const unit = fields?.unit;
      // `bare`: the message names its unit itself (`Failed to start UNIT - DESCRIPTION.`).
      const line = unit && !fields?.bare && !message.startsWith(`${unit}:`) ? `${unit}: ${message}` : message;
      // An Accept=yes instance (a name with '@') lives for one connection: its debug lines would
      // cost a ring entry per connection for what `status` of a finished instance never shows.
      if (unit && !(level === 'debug' && unit.includes('@'))) journal.add(unit, LEVELS[level], message);
      log.log(LEVELS[level], line);
    },
    event(unit, message) {
      journal.add(unit, 'info', message);
      log.info(`${unit}: ${message}`);
    },
    output({ unit, pid, text }) {
      journal.add(unit, 'info', formatServiceLine(unit, pid, text));
      log.serviceOutput(unit, pid, text);
    },
  };
}
