/**
 * The last lines logged for each unit, in memory, for `mptcpd-lite status UNIT` (what journalctl
 * -u shows under `systemctl status`). Bounded: `perUnit` lines per unit, units that are gone are
 * forgotten with their lines, and of the Accept=yes instances (a new unit name per connection)
 * only the `instances` most recently started keep theirs. A line costs a timestamp number; its
 * ISO 8601 text is made when `tail()` reads it.
 */

export interface JournalLine {
  /** ISO 8601. */
  time: string;
  level: string;
  message: string;
}

export const DEFAULT_LINES_PER_UNIT = 200;

/** Instance units (`prefix@instance.service`) whose lines are kept (the most recently started). */
export const DEFAULT_INSTANCE_UNITS = 1000;

interface StoredLine {
  at: number;
  level: string;
  message: string;
}

/** `foo@bar.service`, not the template `foo@.service`. */
function isInstance(unit: string): boolean {
  const at = unit.indexOf('@');
  return at >= 0 && unit[at + 1] !== '.';
}

export class UnitJournal {
  private readonly lines = new Map<string, StoredLine[]>();
  /** Instance units with lines, oldest first. */
  private readonly instances = new Set<string>();

  constructor(
    private readonly perUnit = DEFAULT_LINES_PER_UNIT,
    private readonly maxInstances = DEFAULT_INSTANCE_UNITS,
  ) {}

  add(unit: string, level: string, message: string): void {
    const line = { at: Date.now(), level, message };
    const ring = this.lines.get(unit);
    if (!ring) {
      // A literal: room for this one line. Most units log one or two (a pushed-into empty array
      // keeps 17 slots: ~130 bytes per unit of a daemon with thousands).
      this.lines.set(unit, [line]);
      if (isInstance(unit)) this.addInstance(unit);
      return;
    }
    ring.push(line);
    if (ring.length > this.perUnit) ring.splice(0, ring.length - this.perUnit);
  }

  private addInstance(unit: string): void {
    this.instances.add(unit);
    if (this.instances.size <= this.maxInstances) return;
    const oldest = this.instances.values().next().value as string;
    this.instances.delete(oldest);
    this.lines.delete(oldest);
  }

  /** The last `n` lines of `unit`, oldest first. */
  tail(unit: string, n: number): JournalLine[] {
    const ring = this.lines.get(unit) ?? [];
    return n <= 0
      ? []
      : ring.slice(-n).map((l) => ({ time: new Date(l.at).toISOString(), level: l.level, message: l.message }));
  }

  /** Drops the lines of units not in `keep` (after a reload removed them); templates and instances stay. */
  retain(keep: ReadonlySet<string>): void {
    for (const unit of this.lines.keys()) if (!keep.has(unit) && !unit.includes('@')) this.lines.delete(unit);
  }
}
